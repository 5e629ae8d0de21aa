package guard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/ldif"
)

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

// entry returns the content hash and the JSON-encoded attributes of e.
func (c *encoder) entry(typ, norm string, e *Entry) (hashHex, encoded string) {
	c.load(e)
	return c.finish(typ, norm)
}

// contentHash is the content hash the encoder computes, written plainly
// over an attribute map: what TestEncoder holds the encoder to.
func contentHash(typ, normDN string, attrs map[string][]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write([]byte(normDN))
	for _, k := range keys {
		h.Write([]byte{0})
		h.Write([]byte(strings.ToLower(k)))
		vals := attrs[k]
		if len(vals) > 1 {
			vals = slices.Clone(vals)
			slices.Sort(vals)
		}
		for _, v := range vals {
			h.Write([]byte{1})
			h.Write([]byte(v))
		}
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}
