package ldap

import (
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"
)

// The encoder's bytes must decode, with asn1-ber, to what was encoded:
// short and long lengths, nested elements, integers at their boundaries.
func TestEncoderWritesWhatDecodes(t *testing.T) {
	long := strings.Repeat("x", 300)
	members := make([]string, 500)
	for i := range members {
		members[i] = "uid=u" + strings.Repeat("0", i%7) + ",ou=People,dc=cloud,dc=example"
	}
	var e encoder
	e.begin(tagSequence)
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 32767, 32768, 1<<31 - 1} {
		e.integer(tagInteger, v)
	}
	e.boolean(true)
	e.boolean(false)
	e.octets(tagOctets, "")
	e.octets(tagOctets, long)
	e.attribute("member", members)
	e.end()

	p, err := ber.DecodePacketErr(e.b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got := len(p.Children); got != 14 {
		t.Fatalf("%d children, want 14", got)
	}
	for i, want := range []int64{0, 1, 127, 128, 255, 256, 32767, 32768, 1<<31 - 1} {
		if got, _ := p.Children[i].Value.(int64); got != want {
			t.Errorf("integer %d = %d, want %d", i, got, want)
		}
	}
	if v, _ := p.Children[9].Value.(bool); !v || p.Children[9].Data.Bytes()[0] != 0xff {
		t.Errorf("true = %v %x", p.Children[9].Value, p.Children[9].Data.Bytes())
	}
	if v, _ := p.Children[10].Value.(bool); v {
		t.Error("false decodes as true")
	}
	if got := p.Children[12].Value; got != long {
		t.Errorf("long value: %d bytes", len(got.(string)))
	}
	attr := p.Children[13]
	if attr.Children[0].Value != "member" || len(attr.Children[1].Children) != len(members) {
		t.Fatalf("attribute: %v with %d values", attr.Children[0].Value, len(attr.Children[1].Children))
	}
	for i, v := range attr.Children[1].Children {
		if v.Value != members[i] {
			t.Fatalf("member %d = %v, want %s", i, v.Value, members[i])
		}
	}
}

// A request is an LDAPMessage: the message ID, then the operation.
func TestEncoderFramesRequests(t *testing.T) {
	c := &conn{}
	c.start(0x60 | ldapv3.ApplicationModifyDNRequest)
	c.e.octets(tagOctets, "uid=ann,ou=Sales,dc=cloud,dc=example")
	c.e.octets(tagOctets, "uid=ann")
	c.e.boolean(true)
	c.e.octets(0x80, "ou=Support,dc=cloud,dc=example")
	c.e.end()
	c.e.end()
	p, err := ber.DecodePacketErr(c.e.b)
	if err != nil {
		t.Fatal(err)
	}
	if id := p.Children[0].Value; id != int64(1) {
		t.Errorf("message ID %v", id)
	}
	op := p.Children[1]
	if op.ClassType != ber.ClassApplication || op.TagType != ber.TypeConstructed || op.Tag != ldapv3.ApplicationModifyDNRequest {
		t.Errorf("operation %v %v %v", op.ClassType, op.TagType, op.Tag)
	}
	if sup := op.Children[3]; sup.ClassType != ber.ClassContext || sup.Tag != 0 || sup.Data.String() != "ou=Support,dc=cloud,dc=example" {
		t.Errorf("newSuperior %v %v %q", sup.ClassType, sup.Tag, sup.Data.String())
	}
}
