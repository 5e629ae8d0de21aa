package ldif

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// raws returns the records' Raw bytes as Next reads them (KeepRaw), and
// NextRaw's framing of the same input.
func raws(t *testing.T, data []byte) (parsed, framed []string, perr, ferr error) {
	t.Helper()
	r := NewReader(bytes.NewReader(data))
	r.KeepRaw, r.RequireBlankLine = true, true
	for {
		rec, err := r.Next()
		if err != nil {
			if err != io.EOF {
				perr = err
			}
			break
		}
		parsed = append(parsed, string(rec.Raw))
	}
	r = NewReader(bytes.NewReader(data))
	r.RequireBlankLine = true
	for {
		raw, err := r.NextRaw()
		if err != nil {
			if err != io.EOF {
				ferr = err
			}
			break
		}
		framed = append(framed, string(raw))
	}
	return parsed, framed, perr, ferr
}

func TestRawFraming(t *testing.T) {
	in := "# export of corp\nversion: 1\n\n\n" +
		"dn: cn=a,dc=x\r\nobjectClass: person\r\ndescription: long\r\n  folded\r\n# inside\r\ncn: a\r\n\r\n" +
		"# before b\n# and\n  continued\n\ndn:: Y249Yixk\n Yz14\nobjectClass: person\ncn:: Yg==\n\n\n" +
		"# trailing comment\n"
	want := []string{
		"# export of corp\nversion: 1\ndn: cn=a,dc=x\r\nobjectClass: person\r\ndescription: long\r\n  folded\r\n# inside\r\ncn: a\r\n",
		"# before b\n# and\n  continued\ndn:: Y249Yixk\n Yz14\nobjectClass: person\ncn:: Yg==\n",
	}
	parsed, framed, perr, ferr := raws(t, []byte(in))
	if perr != nil || ferr != nil {
		t.Fatalf("errors: Next %v, NextRaw %v", perr, ferr)
	}
	for name, got := range map[string][]string{"Next": parsed, "NextRaw": framed} {
		if len(got) != len(want) {
			t.Fatalf("%s: %d records %q, want %d", name, len(got), got, len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: record %d raw\n%q\nwant\n%q", name, i, got[i], want[i])
			}
		}
	}

	// Blank lines between records are not part of any record.
	spaced := bytes.ReplaceAll([]byte(in), []byte("\n\n"), []byte("\n\n\n\n"))
	if _, framed2, _, err := raws(t, spaced); err != nil || len(framed2) != 2 || framed2[0] != framed[0] || framed2[1] != framed[1] {
		t.Errorf("more blank lines: %q, %v; want the same records", framed2, err)
	}
}

func TestNextRawTruncated(t *testing.T) {
	for _, in := range []string{
		"dn: cn=a,dc=x\ncn: a\n\ndn: cn=b,dc=x\ncn: b\n",
		"dn: cn=a,dc=x\ncn: a\n\ndn: cn=b,dc=x\ncn: b",
	} {
		r := NewReader(bytes.NewReader([]byte(in)))
		r.RequireBlankLine = true
		if _, err := r.NextRaw(); err != nil {
			t.Fatalf("%q: first record: %v", in, err)
		}
		_, err := r.NextRaw()
		var e *Error
		if !errors.As(err, &e) || e.Line != 5 {
			t.Errorf("%q: second record: %v, want an *Error at line 5", in, err)
		}
		if _, again := r.NextRaw(); again != err {
			t.Errorf("error not sticky: %v then %v", err, again)
		}
	}
}

// FuzzRawFraming checks that, for every input Next reads without error,
// NextRaw frames the same records with the same bytes: what the guard
// fingerprints without parsing is what it parsed the time before.
func FuzzRawFraming(f *testing.F) {
	f.Add([]byte("version: 1\n\ndn: cn=a,dc=x\nobjectClass: top\ncn: a\n\n"))
	f.Add([]byte("# c\n c\n\ndn: cn=a\r\ndescription: a\r\n  b\r\n# c\r\n d\r\ncn;lang-en:\r\n\r\n\r\n"))
	f.Add([]byte("dn: cn=a\ncn: a\n\n\n\ndn: cn=b\ncn: b\n\n# end"))
	f.Add([]byte("dn: cn=a\ncn: a\n \n\n"))
	// A version: line folded in two: two framers once disagreed on it.
	f.Add([]byte("vers\n ion: 1\n\ndn: cn=a\ncn: a\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, framed, perr, ferr := raws(t, data)
		if perr != nil {
			return
		}
		if ferr != nil {
			t.Fatalf("NextRaw failed (%v) where Next did not", ferr)
		}
		if len(parsed) != len(framed) {
			t.Fatalf("Next read %d records, NextRaw framed %d: %q / %q", len(parsed), len(framed), parsed, framed)
		}
		for i := range parsed {
			if parsed[i] != framed[i] {
				t.Fatalf("record %d: Next raw %q, NextRaw %q", i, parsed[i], framed[i])
			}
		}
	})
}
