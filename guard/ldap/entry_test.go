package ldap

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"
)

// entryPacket encodes a SearchResultEntry protocol op with asn1-ber.
func entryPacket(dn string, attrs ...Attr) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationSearchResultEntry, nil, "Search Result Entry")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, "DN"))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range attrs {
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attribute")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a.Name, "Type"))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "Values")
		for _, v := range a.Values {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "Value"))
		}
		pa.AppendChild(set)
		list.AppendChild(pa)
	}
	op.AppendChild(list)
	return op
}

// body is the content of an encoded element (after its tag and length).
func body(t testing.TB, raw []byte) []byte {
	t.Helper()
	_, content, rest, _, err := element(raw)
	if err != nil || len(rest) > 0 {
		t.Fatalf("element(%x) = %v, %d bytes left", raw, err, len(rest))
	}
	return content
}

func bytesValue(n, seed int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + seed)
	}
	return string(b)
}

func TestDecodeEntry(t *testing.T) {
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	want := []Attr{
		{Name: "objectClass", Values: []string{"top", "person", "inetOrgPerson"}},
		{Name: "cn", Values: []string{"Ünïcödé"}},
		{Name: "empty", Values: []string{""}},
		{Name: "noValues", Values: nil},
		{Name: "jpegPhoto", Values: []string{string(all), bytesValue(chunkSize-1, 1), bytesValue(chunkSize, 2),
			bytesValue(chunkSize+1, 3), "", bytesValue(70000, 4), "\x00"}},
		{Name: "userCertificate;binary", Values: []string{bytesValue(900, 5)}},
		{Name: "member", Values: slices.Collect(func(yield func(string) bool) {
			for i := range 500 {
				if !yield(fmt.Sprintf("uid=u%04d,ou=Staff,dc=corp,dc=example", i)) {
					return
				}
			}
		})},
	}
	dn := "uid=" + strings.Repeat("x", 300) + ",dc=corp,dc=example" // longer than a chunk
	raw := entryPacket(dn, want...).Bytes()
	d := newDecoder()
	var e Entry
	if err := d.decode(body(t, raw), &e); err != nil {
		t.Fatal(err)
	}
	check := func(e *Entry, dn string, want []Attr) {
		t.Helper()
		if e.DN != dn {
			t.Errorf("DN = %q, want %q", e.DN, dn)
		}
		if len(e.Attrs) != len(want) {
			t.Fatalf("%d attributes, want %d", len(e.Attrs), len(want))
		}
		for i, a := range e.Attrs {
			if a.Name != want[i].Name || len(a.Values) != len(want[i].Values) {
				t.Errorf("attribute %d = %q with %d values, want %q with %d", i, a.Name, len(a.Values), want[i].Name, len(want[i].Values))
				continue
			}
			for j, v := range a.Values {
				if v != want[i].Values[j] {
					t.Errorf("%s value %d = %x, want %x", a.Name, j, v, want[i].Values[j])
				}
			}
		}
	}
	check(&e, dn, want)
	if got := e.Get("JPEGPHOTO"); len(got) != 7 || got[0] != string(all) {
		t.Errorf("Get(JPEGPHOTO) = %d values", len(got))
	}
	if e.Get("nothing") != nil {
		t.Error("Get(nothing) != nil")
	}

	// A second entry reuses the slices, never the strings: the first
	// entry's strings, kept by the caller, are intact.
	keptDN, keptCN, keptPhoto := e.DN, e.Attrs[1].Values[0], e.Attrs[4].Values[0]
	attrsBefore := unsafe.SliceData(e.Attrs)
	want2 := []Attr{{Name: "cn", Values: []string{"Other"}}, {Name: "objectClass", Values: []string{"person", "top"}}}
	if err := d.decode(body(t, entryPacket("uid=other", want2...).Bytes()), &e); err != nil {
		t.Fatal(err)
	}
	check(&e, "uid=other", want2)
	if keptDN != dn || keptCN != "Ünïcödé" || keptPhoto != string(all) {
		t.Errorf("strings of the first entry changed: %q %q", keptDN, keptCN)
	}
	if unsafe.SliceData(e.Attrs) != attrsBefore {
		t.Error("Attrs not reused")
	}
	// Attribute names are interned: the same string for the same name.
	if unsafe.StringData(e.Attrs[0].Name) != unsafe.StringData(d.name([]byte("cn"))) {
		t.Error("attribute name cn not interned")
	}
}

// TestDecodeEntryAllocations: a small entry is one string; a larger one a
// few, plus one per value longer than chunkSize; nothing else.
func TestDecodeEntryAllocations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs []Attr
		max   float64
	}{
		{"small", []Attr{{"uid", []string{"u0001"}}, {"cn", []string{"User 1"}}, {"mail", []string{"u0001@corp.example"}},
			{"objectClass", []string{"top", "person", "inetOrgPerson"}}, {"entryUUID", []string{"0b3e4c1a-4b7e-103f-8b8e-5b0b9d1f3a11"}}}, 1},
		{"multi-valued", []Attr{{"member", slices.Repeat([]string{"uid=u0001,ou=Staff,dc=corp,dc=example"}, 100)}}, 20},
		{"binary", []Attr{{"uid", []string{"u1"}}, {"jpegPhoto", []string{bytesValue(5000, 1), bytesValue(3000, 2)}}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := body(t, entryPacket("uid=u0001,ou=Staff,dc=corp,dc=example", tc.attrs...).Bytes())
			d := newDecoder()
			var e Entry
			if err := d.decode(b, &e); err != nil {
				t.Fatal(err)
			}
			got := testing.AllocsPerRun(100, func() {
				if err := d.decode(b, &e); err != nil {
					t.Fatal(err)
				}
			})
			if got > tc.max {
				t.Errorf("decode: %v allocations per entry, want at most %v", got, tc.max)
			}
			if got := testing.AllocsPerRun(100, func() { d.scan(b) }); got != 0 {
				t.Errorf("scan: %v allocations per entry, want 0", got)
			}
		})
	}
}

// TestDecodeEntryMalformed: a malformed entry is a protocol error, never a
// short entry.
func TestDecodeEntryMalformed(t *testing.T) {
	good := body(t, entryPacket("uid=a,dc=x", Attr{"cn", []string{"A", "B"}}, Attr{"sn", []string{"C"}}).Bytes())
	// good: 04 0a "uid=a,dc=x" 30 19 (30 0c 04 02 "cn" 31 06 04 01 "A" 04 01 "B") (30 09 04 02 "sn" 31 03 04 01 "C")
	attrs := 12
	if !bytes.HasPrefix(good[attrs:], []byte{0x30, 0x19, 0x30, 0x0c, 0x04, 0x02, 'c', 'n', 0x31, 0x06, 0x04, 0x01, 'A', 0x04, 0x01, 'B'}) {
		t.Fatalf("unexpected encoding %x", good)
	}
	patch := func(at int, b ...byte) []byte {
		out := bytes.Clone(good)
		copy(out[at:], b)
		return out
	}
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "objectName: element longer than its container"},
		{"DN not an OCTET STRING", patch(0, 0x02), "objectName: unexpected tag 0x02"},
		{"DN longer than the entry", patch(1, 0x7f), "objectName: element longer than its container"},
		{"no attribute list", good[:attrs], `"uid=a,dc=x": attributes: element longer than its container`},
		{"attribute list truncated", good[:len(good)-1], "attributes: element longer than its container"},
		{"attribute list not a SEQUENCE", patch(attrs, 0x31), "attributes: unexpected tag 0x31"},
		{"bytes after the attributes", append(bytes.Clone(good), 0x04, 0x00), "2 bytes after the attributes"},
		{"attribute not a SEQUENCE", patch(attrs+2, 0x31), "attribute 1: unexpected tag 0x31"},
		{"attribute type not an OCTET STRING", patch(attrs+4, 0x02), "attribute 1: type: unexpected tag 0x02"},
		{"vals not a SET", patch(attrs+8, 0x30), `attribute "cn": vals: unexpected tag 0x30`},
		{"value not an OCTET STRING", patch(attrs+13, 0x0c), `attribute "cn": value 2: unexpected tag 0x0c`},
		{"value longer than its SET", patch(attrs+14, 0x03), `attribute "cn": value 2: element longer than its container`},
		{"SET shorter than its values", patch(attrs+9, 0x05), `attribute "cn": 1 bytes after its values`},
		{"indefinite length", patch(attrs+1, 0x80), "attributes: indefinite length"},
		{"5-byte length", patch(attrs+1, 0x85), "attributes: length of more than 4 bytes"},
		{"multi-byte tag", patch(attrs+4, 0x1f), "attribute 1: type: multi-byte tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecoder()
			var e Entry
			err := d.decode(tc.body, &e)
			var pe *protocolError
			if !errors.As(err, &pe) {
				t.Fatalf("decode(%x) = %v, want a protocol error", tc.body, err)
			}
			if !strings.Contains(err.Error(), "protocol error: malformed SearchResultEntry") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decode(%x) = %q, want it to contain %q", tc.body, err, tc.want)
			}
			if err2 := d.scan(tc.body); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("scan = %v, decode = %v", err2, err)
			}
		})
	}
}

// BenchmarkDecodeEntry decodes a typical user entry (and, for comparison,
// decodes the same bytes into an asn1-ber packet tree as go-ldap does).
func BenchmarkDecodeEntry(b *testing.B) {
	raw := entryPacket("uid=u0001,ou=Staff,dc=corp,dc=example",
		Attr{"objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson"}},
		Attr{"uid", []string{"u0001"}}, Attr{"cn", []string{"User 1"}}, Attr{"sn", []string{"1"}},
		Attr{"mail", []string{"u0001@corp.example"}}, Attr{"entryUUID", []string{"0b3e4c1a-4b7e-103f-8b8e-5b0b9d1f3a11"}},
	).Bytes()
	b.Run("lean", func(b *testing.B) {
		b.ReportAllocs()
		d := newDecoder()
		var e Entry
		bd := body(b, raw)
		for b.Loop() {
			if err := d.decode(bd, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("asn1-ber", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ber.DecodePacketErr(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
