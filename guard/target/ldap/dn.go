package ldap

import (
	"fmt"
	"strings"

	ldapv3 "github.com/go-ldap/ldap/v3"
)

// dn is a parsed DN, its RDNs from the entry up to the root.
type dn []*ldapv3.RelativeDN

// parseDN parses s with go-ldap's RFC 4514 parser.
func parseDN(s string) (dn, error) {
	p, err := ldapv3.ParseDN(s)
	if err != nil {
		return nil, fmt.Errorf("bad DN %q: %v", s, err)
	}
	for _, r := range p.RDNs {
		for _, a := range r.Attributes {
			if !validAttrType(a.Type) {
				return nil, fmt.Errorf("bad DN %q: attribute type %q is not a name or an OID", s, a.Type)
			}
		}
	}
	return dn(p.RDNs), nil
}

// validAttrType reports whether t is an attribute type name or a numeric OID.
func validAttrType(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '.') {
			return false
		}
	}
	return true
}

// String formats d as RFC 4514 says, keeping the attribute types as spelled
// and UTF-8 values as they are (only the characters the RFC requires are
// escaped), so the DN reads as a person wrote it.
func (d dn) String() string {
	var b strings.Builder
	for i, r := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		writeRDN(&b, r)
	}
	return b.String()
}

func writeRDN(b *strings.Builder, r *ldapv3.RelativeDN) {
	for j, a := range r.Attributes {
		if j > 0 {
			b.WriteByte('+')
		}
		b.WriteString(a.Type)
		b.WriteByte('=')
		b.WriteString(ldapv3.EscapeDN(a.Value)) // RFC 4514's escapes of a value, UTF-8 as it is
	}
}

// rdnString formats one RDN.
func rdnString(r *ldapv3.RelativeDN) string {
	var b strings.Builder
	writeRDN(&b, r)
	return b.String()
}

// parent is d without its first RDN.
func (d dn) parent() dn {
	if len(d) == 0 {
		return nil
	}
	return d[1:]
}

// equal compares two DNs as LDAP does for the names syncguard writes:
// attribute types and values without regard to case.
func (d dn) equal(o dn) bool {
	return (&ldapv3.DN{RDNs: d}).EqualFold(&ldapv3.DN{RDNs: o})
}

// under reports whether d is strictly below base.
func (d dn) under(base dn) bool {
	return (&ldapv3.DN{RDNs: base}).AncestorOfFold(&ldapv3.DN{RDNs: d})
}

// key is a DN's form for map keys: its string in lower case.
func (d dn) key() string { return strings.ToLower(d.String()) }

// join puts the RDNs rel above base: rel's RDNs, then base's.
func join(rel, base dn) dn {
	out := make(dn, 0, len(rel)+len(base))
	return append(append(out, rel...), base...)
}

// reroot maps a source DN below the source base DN to the same relative
// place below the target base DN.
func (w *Writer) reroot(source string) (dn, error) {
	if rel, ok := w.relative(source); ok {
		d, err := parseDN(rel)
		if err != nil {
			return nil, err
		}
		return join(d, w.targetBase), nil
	}
	d, err := parseDN(source)
	if err != nil {
		return nil, err
	}
	if !d.under(w.sourceBase) {
		return nil, fmt.Errorf("%s is not below the source base DN %s", source, w.sourceBaseStr)
	}
	return join(d[:len(d)-len(w.sourceBase)], w.targetBase), nil
}

// rerootString is reroot for a DN value (a member, a manager): the
// relative part is kept as the source spelled it when the DN ends with the
// source base as configured, which spares parsing the 500 members of a
// group; otherwise the DN is parsed.
func (w *Writer) rerootString(source string) (string, error) {
	if rel, ok := w.relative(source); ok {
		return rel + "," + w.targetBaseStr, nil
	}
	d, err := w.reroot(source)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// relative returns the part of s before ",<source base>" when s ends with
// the source base spelled as configured (any case) after an unescaped
// comma; ok is false when it cannot tell that way.
func (w *Writer) relative(s string) (rel string, ok bool) {
	n := len(s) - len(w.sourceBaseStr)
	if n < 2 || s[n-1] != ',' || !strings.EqualFold(s[n:], w.sourceBaseStr) {
		return "", false
	}
	backslashes := 0
	for i := n - 2; i >= 0 && s[i] == '\\'; i-- {
		backslashes++
	}
	if backslashes%2 == 1 {
		return "", false
	}
	return s[:n-1], true
}
