package adtest

import (
	"fmt"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldap "github.com/go-ldap/ldap/v3"
)

// filter is a compiled search filter: and, or, not, equality, presence and
// substrings, compared without regard to case as AD compares most
// attributes.
type filter struct{ p *ber.Packet }

func compile(s string) (filter, error) {
	p, err := ldap.CompileFilter(s)
	if err != nil {
		return filter{}, fmt.Errorf("filter %q: %v", s, err)
	}
	return filter{p}, nil
}

func (f filter) match(e *Entry) bool { return match(f.p, e) }

func match(p *ber.Packet, e *Entry) bool {
	switch p.Tag {
	case ldap.FilterAnd:
		for _, c := range p.Children {
			if !match(c, e) {
				return false
			}
		}
		return true
	case ldap.FilterOr:
		for _, c := range p.Children {
			if match(c, e) {
				return true
			}
		}
		return false
	case ldap.FilterNot:
		return len(p.Children) == 1 && !match(p.Children[0], e)
	case ldap.FilterPresent:
		return e.Get(p.Data.String()) != nil
	case ldap.FilterEqualityMatch:
		want := p.Children[1].Data.String()
		for _, v := range e.Get(p.Children[0].Data.String()) {
			if strings.EqualFold(v, want) {
				return true
			}
		}
		return false
	case ldap.FilterSubstrings:
		for _, v := range e.Get(p.Children[0].Data.String()) {
			if substrings(strings.ToLower(v), p.Children[1].Children) {
				return true
			}
		}
		return false
	}
	return false
}

// substrings matches v against initial, any and final parts in order.
func substrings(v string, parts []*ber.Packet) bool {
	for _, part := range parts {
		s := strings.ToLower(part.Data.String())
		switch part.Tag {
		case ldap.FilterSubstringsInitial:
			if !strings.HasPrefix(v, s) {
				return false
			}
			v = v[len(s):]
		case ldap.FilterSubstringsAny:
			i := strings.Index(v, s)
			if i < 0 {
				return false
			}
			v = v[i+len(s):]
		case ldap.FilterSubstringsFinal:
			if !strings.HasSuffix(v, s) {
				return false
			}
		}
	}
	return true
}
