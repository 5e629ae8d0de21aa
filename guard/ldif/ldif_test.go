package ldif

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every record of in, cloning each.
func readAll(in string) ([]*Record, error) {
	r := NewReader(strings.NewReader(in))
	var recs []*Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec.Clone())
	}
}

func rec(line int, dn string, kv ...string) *Record {
	r := &Record{DN: dn, Line: line}
	for i := 0; i < len(kv); i += 2 {
		if n := len(r.Attrs); n > 0 && r.Attrs[n-1].Name == kv[i] {
			r.Attrs[n-1].Values = append(r.Attrs[n-1].Values, kv[i+1])
			continue
		}
		r.Attrs = append(r.Attrs, Attr{Name: kv[i], Values: []string{kv[i+1]}})
	}
	return r
}

func TestReader(t *testing.T) {
	guid := "\x01\x00\xff\x7f\x80\n\r\x00 :<#"
	tests := []struct {
		name string
		in   string
		want []*Record
	}{
		{"empty file", "", nil},
		{"only blank lines", "\n\n\r\n", nil},
		{"only comments", "# a comment\n#another\n", nil},
		{"comment without final newline", "# c", nil},
		{"version only", "version: 1\n", nil},
		{"one record", "dn: cn=a,dc=x\ncn: a\n", []*Record{rec(1, "cn=a,dc=x", "cn", "a")}},
		{"no trailing blank line at EOF", "dn: cn=a\ncn: a\nsn: b\n", []*Record{rec(1, "cn=a", "cn", "a", "sn", "b")}},
		{"version then record without blank", "version: 1\ndn: cn=a\ncn: a\n", []*Record{rec(2, "cn=a", "cn", "a")}},
		{"version then blank then record", "version: 1\n\ndn: cn=a\ncn: a\n", []*Record{rec(3, "cn=a", "cn", "a")}},
		{"comments before version", "# head\nversion: 1\n\ndn: cn=a\ncn: a\n", []*Record{rec(4, "cn=a", "cn", "a")}},
		{"CRLF", "version: 1\r\n\r\ndn: cn=a\r\ncn: a\r\ndescription: x y\r\n\r\n", []*Record{rec(3, "cn=a", "cn", "a", "description", "x y")}},
		{"two records many blank lines", "dn: cn=a\ncn: a\n\n\n\n\ndn: cn=b\ncn: b\n\n\n",
			[]*Record{rec(1, "cn=a", "cn", "a"), rec(7, "cn=b", "cn", "b")}},
		{"leading spaces after colon stripped", "dn:    cn=a\ncn:   a  b \n", []*Record{rec(1, "cn=a", "cn", "a  b ")}},
		{"no space after colon", "dn:cn=a\ncn:a\n", []*Record{rec(1, "cn=a", "cn", "a")}},
		{"empty value", "dn: cn=a\ncn: a\ndescription:\ntitle: \n", []*Record{rec(1, "cn=a", "cn", "a", "description", "", "title", "")}},
		{"empty base64 value", "dn: cn=a\ndescription::\n", []*Record{rec(1, "cn=a", "description", "")}},
		{"folded value", "dn: cn=a\ndescription: hello\n  world\n wide\n", []*Record{rec(1, "cn=a", "description", "hello worldwide")}},
		{"folded dn", "dn: cn=a,\n dc=example\ncn: a\n", []*Record{rec(1, "cn=a,dc=example", "cn", "a")}},
		{"folded attribute name", "dn: cn=a\ndescr\n iption: x\n", []*Record{rec(1, "cn=a", "description", "x")}},
		{"folded CRLF", "dn: cn=a\r\ndescription: ab\r\n cd\r\n", []*Record{rec(1, "cn=a", "description", "abcd")}},
		{"folded comment", "# comment\n continued: not an attribute\ndn: cn=a\n# inner\n still comment\ncn: a\n", []*Record{rec(3, "cn=a", "cn", "a")}},
		{"comment inside record", "dn: cn=a\n# c\ncn: a\n#x\nsn: b\n", []*Record{rec(1, "cn=a", "cn", "a", "sn", "b")}},
		{"base64 value", "dn: cn=a\ncn:: " + base64.StdEncoding.EncodeToString([]byte("Zoë")) + "\n", []*Record{rec(1, "cn=a", "cn", "Zoë")}},
		{"base64 value with spaces", "dn: cn=a\ncn::   " + base64.StdEncoding.EncodeToString([]byte("x")) + "  \n", []*Record{rec(1, "cn=a", "cn", "x")}},
		{"base64 binary", "dn: cn=a\nobjectGUID:: " + base64.StdEncoding.EncodeToString([]byte(guid)) + "\n", []*Record{rec(1, "cn=a", "objectGUID", guid)}},
		{"base64 folded", "dn: cn=a\nobjectGUID:: " + foldB64(guid) + "\n", []*Record{rec(1, "cn=a", "objectGUID", guid)}},
		{"base64 dn", "dn:: " + base64.StdEncoding.EncodeToString([]byte("cn=Zoë,dc=x")) + "\ncn: Zoë\n", []*Record{rec(1, "cn=Zoë,dc=x", "cn", "Zoë")}},
		{"options kept", "dn: cn=a\ncn: a\ncn;lang-en: b\ncn;lang-de;x-y: c\n", []*Record{rec(1, "cn=a", "cn", "a", "cn;lang-en", "b", "cn;lang-de;x-y", "c")}},
		{"numeric OID name", "dn: cn=a\n2.5.4.3: a\n", []*Record{rec(1, "cn=a", "2.5.4.3", "a")}},
		{"repeated attributes grouped", "dn: cn=a\nobjectClass: top\ncn: a\nOBJECTCLASS: person\nobjectclass: inetOrgPerson\nmember: x\nmember: y\n",
			[]*Record{{DN: "cn=a", Line: 1, Attrs: []Attr{
				{Name: "objectClass", Values: []string{"top", "person", "inetOrgPerson"}},
				{Name: "cn", Values: []string{"a"}},
				{Name: "member", Values: []string{"x", "y"}},
			}}}},
		{"changetype add ignored", "dn: cn=a\nchangetype: add\ncn: a\n", []*Record{rec(1, "cn=a", "cn", "a")}},
		{"changetype ADD", "dn: cn=a\nChangeType: ADD\ncn: a\n", []*Record{rec(1, "cn=a", "cn", "a")}},
		{"uppercase DN keyword", "DN: cn=a\ncn: a\n", []*Record{rec(1, "cn=a", "cn", "a")}},
		{"colon in value", "dn: cn=a\ndescription: a: b :: c\nurl: http://x\n", []*Record{rec(1, "cn=a", "description", "a: b :: c", "url", "http://x")}},
		{"utf8 plain value accepted", "dn: cn=a\ncn: José\n", []*Record{rec(1, "cn=a", "cn", "José")}},
		{"two spaces folding keeps one", "dn: cn=a\ndescription: a\n  b\n", []*Record{rec(1, "cn=a", "description", "a b")}},
		{"lone space continuation then EOF newline", "dn: cn=a\ncn: a\n \n", []*Record{rec(1, "cn=a", "cn", "a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(tt.in)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantLine int
		wantMsg  string
		wantRecs int // records read before the error
	}{
		{"missing colon", "dn: cn=a\ncn a\n", 2, "missing colon", 0},
		{"missing colon in dn", "dn cn=a\ncn: a\n", 1, "missing colon", 0},
		{"missing name", "dn: cn=a\n: a\n", 2, "missing attribute name", 0},
		{"bad name", "dn: cn=a\nc n: a\n", 2, "invalid attribute name", 0},
		{"space before colon", "dn: cn=a\ncn : a\n", 2, "invalid attribute name", 0},
		{"empty option", "dn: cn=a\ncn;: a\n", 2, "invalid attribute name", 0},
		{"bad base64", "dn: cn=a\ncn: a\nobjectGUID:: ***\n", 3, "invalid base64", 0},
		{"bad base64 dn", "\n\ndn:: %%%\ncn: a\n", 3, "invalid base64", 0},
		{"bad base64 padding", "dn: cn=a\ncn:: YQ\n", 2, "invalid base64", 0},
		{"attribute before dn", "cn: a\ndn: cn=a\n", 1, "does not start with a dn", 0},
		{"record without dn", "dn: cn=a\ncn: a\n\ncn: b\nsn: c\n", 4, "does not start with a dn", 1},
		{"version after record", "dn: cn=a\ncn: a\n\nversion: 1\n", 4, "does not start with a dn", 1},
		{"unsupported version", "version: 2\ndn: cn=a\ncn: a\n", 1, "unsupported LDIF version", 0},
		{"empty dn", "dn:\ncn: a\n", 1, "empty dn", 0},
		{"dn without attributes", "dn: cn=a\n\ndn: cn=b\ncn: b\n", 1, "has no attributes", 0},
		{"dn without attributes at EOF", "dn: cn=a\ncn: a\n\ndn: cn=b\n", 4, "has no attributes", 1},
		{"dn inside record", "dn: cn=a\ncn: a\ndn: cn=b\ncn: b\n", 3, "missing blank line", 0},
		{"changetype modify", "dn: cn=a\nchangetype: modify\nreplace: cn\ncn: b\n-\n", 2, "change records are not supported", 0},
		{"changetype delete", "dn: cn=a\ncn: a\n\n\ndn: cn=b\nchangetype: delete\n", 6, "change records are not supported", 1},
		{"changetype modrdn", "dn: cn=a\nchangetype: modrdn\nnewrdn: cn=b\ndeleteoldrdn: 1\n", 2, "change records are not supported", 0},
		{"control", "dn: cn=a\ncontrol: 1.2.840.113556.1.4.805 true\nchangetype: delete\n", 2, "control", 0},
		{"URL value", "dn: cn=a\ncn: a\njpegPhoto:< file:///etc/passwd\n", 3, "URL values (:<) are not allowed", 0},
		{"URL dn", "dn:< file:///x\ncn: a\n", 1, "URL values (:<) are not allowed", 0},
		{"continuation after blank line", "dn: cn=a\ncn: a\n\n continued\n", 4, "continuation line", 1},
		{"continuation at start", " dn: cn=a\ncn: a\n", 1, "continuation line", 0},
		{"continuation after blank CRLF", "dn: cn=a\r\ncn: a\r\n\r\n x\r\n", 4, "continuation line", 1},
		{"folded error reports first line", "dn: cn=a\ncn: a\nobjectGUID:: AA\n AA\n ***\n", 3, "invalid base64", 0},
		{"line after fold counted", "dn: cn=a\ndescription: a\n b\n c\nbad\n", 5, "missing colon", 0},
		{"truncated attribute line", "dn: cn=a\ncn: a\nsn: b", 3, "file ends in the middle of a line; truncated?", 0},
		{"truncated second record", "dn: cn=a\ncn: a\n\ndn: cn=b\ncn: b\nmail: b@ex", 6, "truncated?", 1},
		{"truncated dn line", "dn: cn=a\ncn: a\n\ndn: cn=b", 4, "truncated?", 1},
		{"truncated CRLF", "dn: cn=a\r\ncn: a\r", 2, "truncated?", 0},
		{"truncated folded", "dn: cn=a\ncn: a\ndescription: x\n y", 4, "truncated?", 0},
		{"truncated comment in record", "dn: cn=a\ncn: a\n# comm", 3, "truncated?", 0},
		{"truncated after lone space", "dn: cn=a\ncn: a\n ", 3, "truncated?", 0},
		{"truncated version", "version: 1", 1, "truncated?", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := readAll(tt.in)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error = %v (%T), want *Error", err, err)
			}
			if got, want := e.Line, tt.wantLine; got != want {
				t.Errorf("line = %d, want %d (%v)", got, want, err)
			}
			if !strings.Contains(e.Msg, tt.wantMsg) {
				t.Errorf("msg = %q, want it to contain %q", e.Msg, tt.wantMsg)
			}
			if got, want := err.Error(), fmt.Sprintf("ldif: line %d: %s", e.Line, e.Msg); got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
			if got, want := len(recs), tt.wantRecs; got != want {
				t.Errorf("records before the error = %d, want %d", got, want)
			}
		})
	}
}

func TestErrorIsSticky(t *testing.T) {
	r := NewReader(strings.NewReader("cn: a\n\ndn: cn=b\ncn: b\n"))
	_, err1 := r.Next()
	_, err2 := r.Next()
	if err1 == nil || err1 != err2 {
		t.Errorf("errors = %v, %v; want the same error twice", err1, err2)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	in := io.MultiReader(strings.NewReader("dn: cn=a\ncn: a\n"), iotest.ErrReader(boom))
	r := NewReader(in)
	_, err := r.Next()
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap boom", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 {
		t.Errorf("err = %#v, want *Error at line 3", err)
	}
}

func TestGet(t *testing.T) {
	r := rec(1, "cn=a", "objectClass", "top", "objectClass", "person", "cn;lang-en", "b")
	if got, want := r.Get("OBJECTCLASS"), []string{"top", "person"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Get(OBJECTCLASS) = %q, want %q", got, want)
	}
	if got := r.Get("cn"); got != nil {
		t.Errorf("Get(cn) = %q, want nil (options are part of the name)", got)
	}
	if got, want := r.Get("CN;LANG-EN"), []string{"b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Get(CN;LANG-EN) = %q, want %q", got, want)
	}
}

// TestReuse checks that strings handed out survive later calls to Next.
func TestReuse(t *testing.T) {
	r := NewReader(strings.NewReader("dn: cn=a\ncn: a\nsn: a\n\ndn: cn=b\ncn: b\nsn: b\n"))
	a, _ := r.Next()
	dn, cn := a.DN, a.Get("cn")[0]
	b, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if dn != "cn=a" || cn != "a" || b.DN != "cn=b" || b.Get("cn")[0] != "b" {
		t.Errorf("got %q %q %q %q", dn, cn, b.DN, b.Get("cn")[0])
	}
}

// TestRoundTrip writes records with binary and awkward values as LDIF, folded
// at 76 columns as slapcat does, and reads them back.
func TestRoundTrip(t *testing.T) {
	var bin [256]byte
	for i := range bin {
		bin[i] = byte(i)
	}
	want := []*Record{
		{DN: "cn=Zoë Ünal,ou=People,dc=x", Attrs: []Attr{
			{Name: "objectClass", Values: []string{"top", "person"}},
			{Name: "objectGUID", Values: []string{"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"}},
			{Name: "jpegPhoto", Values: []string{string(bin[:])}},
			{Name: "description", Values: []string{" leading space", "trailing space ", ":colon", "<angle", "line\nbreak", "", strings.Repeat("long ", 60)}},
			{Name: "cn;lang-fr", Values: []string{"Zoë"}},
		}},
		{DN: "uid=plain,dc=x", Attrs: []Attr{{Name: "uid", Values: []string{"plain"}}}},
	}
	var buf bytes.Buffer
	buf.WriteString("version: 1\n\n")
	line := 3
	for i, r := range want {
		r.Line = line
		n := writeRecord(&buf, r)
		line += n + 1
		if i < len(want)-1 {
			buf.WriteString("\n")
		}
	}
	got, err := readAll(buf.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %s\nwant %s\nLDIF:\n%s", dump(got), dump(want), buf.String())
	}
}

// writeRecord writes r as LDIF, folded at 76 columns, and returns the number
// of physical lines written.
func writeRecord(w *bytes.Buffer, r *Record) int {
	n := writeLine(w, "dn", r.DN)
	for _, a := range r.Attrs {
		for _, v := range a.Values {
			n += writeLine(w, a.Name, v)
		}
	}
	return n
}

func writeLine(w *bytes.Buffer, name, value string) int {
	var l string
	if safe(value) {
		l = name + ": " + value
	} else {
		l = name + ":: " + base64.StdEncoding.EncodeToString([]byte(value))
	}
	n := 1
	for len(l) > 76 {
		w.WriteString(l[:76])
		w.WriteString("\n ")
		l = l[76:]
		n++
	}
	w.WriteString(l)
	w.WriteString("\n")
	return n
}

func safe(v string) bool {
	if v == "" {
		return true
	}
	if v[0] == ' ' || v[0] == ':' || v[0] == '<' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\n' || c == '\r' || c >= 0x80 {
			return false
		}
	}
	return true
}

func foldB64(s string) string {
	e := base64.StdEncoding.EncodeToString([]byte(s))
	return e[:4] + "\n " + e[4:8] + "\n " + e[8:]
}

func dump(recs []*Record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "{line %d dn %q", r.Line, r.DN)
		for _, a := range r.Attrs {
			fmt.Fprintf(&b, " %s=%q", a.Name, a.Values)
		}
		b.WriteString("} ")
	}
	return b.String()
}
