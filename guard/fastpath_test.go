package guard

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/ldif"
)

// TestNormalizeDNFast: the fast path takes the plain DNs a directory
// writes (it exists for them) and answers as the full parser does; it
// declines the rest, which the parser then reads.
func TestNormalizeDNFast(t *testing.T) {
	accept := []string{
		"cn=Ann Lee,ou=Sales,dc=corp,dc=example", "CN=Ann , OU = Sales ,DC=corp", "uid=a.b-c,ou=x", " cn=a",
		"cn=a ,ou=x ", "2.5.4.3=x,dc=y", "OID.2.5.4.3=x", "cn=Ann  Lee", "cn=a/b:c@d",
	}
	decline := []string{
		"", "cn=a,", "cn=,ou=x", "cn=a=b,ou=x", "c n=a", "cn=a,,ou=x", "=a", "cn", "cn=a\tb", "cn=Zoë", "cn=#x",
		"cn=a+sn=b", `cn=a\,b`, "cn=a;ou=b", "-cn=a", `cn="a",ou=x`, "cn=<a>",
	}
	for _, dn := range accept {
		fast, ok := normalizeDNFast(dn)
		if !ok {
			t.Errorf("normalizeDNFast(%q) declined a plain DN", dn)
			continue
		}
		slow, err := normalizeDNSlow(dn)
		if err != nil || slow != fast {
			t.Errorf("normalizeDNFast(%q) = %q, the parser says %q, %v", dn, fast, slow, err)
		}
	}
	for _, dn := range decline {
		if fast, ok := normalizeDNFast(dn); ok {
			t.Errorf("normalizeDNFast(%q) = %q; want it left to the parser", dn, fast)
		}
	}
}

// TestEncoder: the one-pass encoder gives contentHash and the attributes
// of the map-building path.
func TestEncoder(t *testing.T) {
	var buf bytes.Buffer
	if err := demo.Generate(&buf, demo.Options{Users: 200, Groups: 3, Seed: 3, UUIDs: true}); err != nil {
		t.Fatal(err)
	}
	extra := "dn: cn=X,dc=corp,dc=example\nobjectClass: person\ncn: X\nCN: Y\nDescription: \"q\" <b>\\ \x01 é\ndescription: \xff\xfe\nsn:\nmail: a@b\n\n"
	r := ldif.NewReader(bytes.NewReader(append(buf.Bytes(), extra...)))
	enc := newEncoder()
	n := 0
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		e := &Entry{DN: rec.DN}
		for _, a := range rec.Attrs {
			e.Attrs = append(e.Attrs, Attr{Name: a.Name, Values: a.Values})
		}
		want := attributes(e)
		h, js := enc.entry("user", "dn", e)
		if wh := contentHash("user", "dn", want); h != wh {
			t.Errorf("%s: hash %s, want %s", rec.DN, h, wh)
		}
		var got map[string][]string
		if err := json.Unmarshal([]byte(js), &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: JSON %s = %v (%v), want %v", rec.DN, js, got, err, want)
		}
		if h2, _ := enc.object("user", "dn", want); h2 != h {
			t.Errorf("%s: object hash %s, want %s", rec.DN, h2, h)
		}
		n++
	}
	if n < 200 {
		t.Fatalf("read %d entries", n)
	}
}
