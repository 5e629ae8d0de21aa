package ldif

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

// readAllFrom reads every record from r, cloning each.
func readAllFrom(r io.Reader) ([]*Record, error) {
	lr := NewReader(r)
	var recs []*Record
	for {
		rec, err := lr.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec.Clone())
	}
}

// FuzzReader checks that the reader never panics, that every error is an
// *Error with a line number, that reading one byte at a time gives the same
// result, and that what it reads survives being written and read again.
func FuzzReader(f *testing.F) {
	f.Add([]byte("version: 1\n\ndn: cn=a,dc=x\nobjectClass: top\ncn: a\n\n"))
	f.Add([]byte("dn:: Y249WsO2LGRjPXg=\ncn:: WsO2\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\n"))
	f.Add([]byte("dn: cn=a\r\ndescription: a\r\n  b\r\n# c\r\n d\r\ncn;lang-en:\r\n\r\n"))
	f.Add([]byte("dn: cn=a\nchangetype: modify\nreplace: cn\ncn: b\n-\n"))
	f.Add([]byte("dn: cn=a\ncn: a\nsn: b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readAllFrom(bytes.NewReader(data))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if e.Line < 1 {
				t.Fatalf("error %v has line %d", err, e.Line)
			}
		}
		for i, r := range recs {
			if r.Line < 1 || i > 0 && r.Line <= recs[i-1].Line {
				t.Fatalf("record %d has line %d", i, r.Line)
			}
			if r.DN == "" || len(r.Attrs) == 0 {
				t.Fatalf("record %d: empty dn or no attributes: %s", i, dump(recs[i:i+1]))
			}
		}

		recs2, err2 := readAllFrom(iotest.OneByteReader(bytes.NewReader(data)))
		if fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(recs, recs2) {
			t.Fatalf("one byte at a time: %v / %v, want %v / %v", dump(recs2), err2, dump(recs), err)
		}

		// Round trip what was read.
		var buf bytes.Buffer
		line := 1
		for _, r := range recs {
			r.Line = line
			line += writeRecord(&buf, r) + 1
			buf.WriteString("\n")
		}
		recs3, err := readAllFrom(&buf)
		if err != nil {
			t.Fatalf("reading written records: %v", err)
		}
		if !reflect.DeepEqual(recs, recs3) {
			t.Fatalf("round trip: got %s, want %s", dump(recs3), dump(recs))
		}
	})
}
