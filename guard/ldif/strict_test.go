package ldif

import (
	"io"
	"strings"
	"testing"
)

// TestRequireBlankLine: with RequireBlankLine, a last record not followed by
// a blank line is an error with the line number, whatever comes before it;
// a record followed by a blank line (then maybe comments) is read.
func TestRequireBlankLine(t *testing.T) {
	for _, tt := range []struct {
		in      string
		records int
		err     string
	}{
		{"dn: cn=a\ncn: a\n\n", 1, ""},
		{"dn: cn=a\ncn: a\n\n\n# numEntries: 1\n", 1, ""},
		{"dn: cn=a\r\ncn: a\r\n\r\n", 1, ""},
		{"dn: cn=a\ncn: a\n\ndn: cn=b\ncn: b\n\n", 2, ""},
		{"# only comments\n", 0, ""},
		{"", 0, ""},
		{"dn: cn=a\ncn: a\n", 0, `ldif: line 2: the file ends inside the record of "cn=a" (line 1), without the blank line`},
		{"dn: cn=a\ncn: a\n\ndn: cn=b\ncn: b\nsn: b\n", 1, `ldif: line 6: the file ends inside the record of "cn=b" (line 4)`},
		{"dn: cn=a\ncn: a\n# trailer\n", 0, "ldif: line 3: the file ends inside the record"},
		{"dn: cn=a\ncn: a\r\n", 0, "ldif: line 2: the file ends inside the record"},
		{"dn: cn=a\ncn: a", 0, "ldif: line 2: file ends in the middle of a line; truncated?"},
	} {
		r := NewReader(strings.NewReader(tt.in))
		r.RequireBlankLine = true
		n := 0
		var err error
		for {
			if _, err = r.Next(); err != nil {
				break
			}
			n++
		}
		if err == io.EOF {
			err = nil
		}
		if n != tt.records || (err == nil) != (tt.err == "") || err != nil && !strings.HasPrefix(err.Error(), tt.err) {
			t.Errorf("%q: %d records, error %v; want %d records, error %q", tt.in, n, err, tt.records, tt.err)
		}
	}
}
