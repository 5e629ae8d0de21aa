package guard

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// NormalizeDN returns the canonical form of a DN used for comparison: the
// attribute types and values lower-cased, spaces around separators removed,
// and special characters escaped one way. It fails on a DN that does not parse.
func NormalizeDN(dn string) (string, error) {
	if norm, ok := normalizeDNFast(dn); ok {
		return norm, nil
	}
	return normalizeDNSlow(dn)
}

// normalizeDNFast normalizes the common DN — printable ASCII without
// escapes, quotes, multi-valued RDNs or '#' — without ldap.ParseDN, which
// allocates a tree per call. ok is false for anything else: the caller
// then takes the full parser, which gives the same answer for the DNs
// accepted here (TestNormalizeDNFast checks it).
func normalizeDNFast(dn string) (norm string, ok bool) {
	if dn == "" {
		return "", false
	}
	for i := 0; i < len(dn); i++ {
		switch c := dn[i]; {
		case c < 0x20 || c > 0x7e, c == '\\', c == '"', c == '+', c == ';', c == '<', c == '>', c == '#':
			return "", false
		}
	}
	b := make([]byte, 0, len(dn))
	for rest := dn; ; {
		rdn, tail, more := strings.Cut(rest, ",")
		typ, val, found := strings.Cut(rdn, "=")
		if !found || strings.IndexByte(val, '=') >= 0 {
			return "", false
		}
		typ, val = strings.Trim(typ, " "), strings.Trim(val, " ")
		if !validAttrType(typ) || val == "" {
			return "", false
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = appendLowerASCII(b, typ)
		b = append(b, '=')
		b = appendLowerASCII(b, val)
		if !more {
			break
		}
		rest = tail
	}
	return string(b), true
}

func appendLowerASCII(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// normalizeDNSlow is NormalizeDN through the full DN parser.
func normalizeDNSlow(dn string) (string, error) {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return "", fmt.Errorf("bad DN %q: %w", dn, err)
	}
	var b strings.Builder
	for i, rdn := range parsed.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		for _, a := range rdn.Attributes {
			// go-ldap accepts escapes and spaces in attribute types, which
			// would not survive a second normalization: no directory
			// writes them, so such a DN is malformed.
			if !validAttrType(a.Type) {
				return "", fmt.Errorf("bad DN %q: attribute type %q is not a name or an OID", dn, a.Type)
			}
		}
		atts := slices.Clone(rdn.Attributes)
		slices.SortFunc(atts, func(a, b *ldap.AttributeTypeAndValue) int {
			return strings.Compare(strings.ToLower(a.Type), strings.ToLower(b.Type))
		})
		for j, a := range atts {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(strings.ToLower(a.Type))
			b.WriteByte('=')
			b.WriteString(escapeDNValue(strings.ToLower(a.Value)))
		}
	}
	return b.String(), nil
}

// validAttrType reports whether t is an attribute type name (cn), a numeric
// OID (2.5.4.3) or the old "OID." form of one.
func validAttrType(t string) bool {
	if t == "" || !isASCIIAlnum(t[0]) {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !isASCIIAlnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func escapeDNValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case (c == ' ' && (i == 0 || i == len(v)-1)) || (c == '#' && i == 0):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, "\\%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ParentDN returns the DN without its first RDN (the OU an object sits in),
// honouring escaped commas.
func ParentDN(norm string) string {
	for i := 0; i < len(norm); i++ {
		switch norm[i] {
		case '\\':
			i++
		case ',':
			return norm[i+1:]
		}
	}
	return ""
}

// InScope reports whether the normalized DN is at or below one of the
// normalized scope DNs.
func InScope(norm string, scope []string) bool {
	for _, s := range scope {
		if norm == s || (strings.HasSuffix(norm, s) && len(norm) > len(s) && norm[len(norm)-len(s)-1] == ',' &&
			!escapedAt(norm, len(norm)-len(s)-1)) {
			return true
		}
	}
	return false
}

// escapedAt reports whether the byte at i is escaped by backslashes before it.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// NormalizeScope normalizes scope DNs, reporting the first that does not parse.
func NormalizeScope(scope []string) ([]string, error) {
	out := make([]string, 0, len(scope))
	for _, s := range scope {
		n, err := NormalizeDN(s)
		if err != nil {
			return nil, fmt.Errorf("scope: %w", err)
		}
		if n == "" {
			return nil, fmt.Errorf("scope: empty DN")
		}
		out = append(out, n)
	}
	return out, nil
}

// Ancestors returns the DNs from base down to dn, both included, spelled
// as in dn: the path the scope picker shows. A dn not below base gives
// dn alone.
func Ancestors(dn, base string) []string {
	var cuts []int // where each RDN of dn starts
	cuts = append(cuts, 0)
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			cuts = append(cuts, i+1)
		}
	}
	nb, err1 := NormalizeDN(base)
	nd, err2 := NormalizeDN(dn)
	if base == "" || err1 != nil || err2 != nil || !InScope(nd, []string{nb}) {
		return []string{dn}
	}
	var out []string
	for _, c := range slices.Backward(cuts) {
		up := strings.TrimSpace(dn[c:])
		if n, err := NormalizeDN(up); err == nil && InScope(n, []string{nb}) {
			out = append(out, up)
		}
	}
	return out
}
