// Package guard is syncguard's domain: reading users and groups from a
// source, planning the changes to the target directory, the accidental
// deletion guard, quarantine, Allow deletes and Restart sync, and the
// notification outbox.
package guard

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// Attr is one attribute of a source entry with its values.
type Attr struct {
	Name   string
	Values []string
}

// Entry is one entry read from a source.
type Entry struct {
	DN    string
	Attrs []Attr
	// Sum fingerprints the entry as the source encoded it (see
	// fingerprinter); zero when the source does not.
	Sum Sum
}

// Get returns the values of the attribute called name (case-insensitive).
func (e *Entry) Get(name string) []string {
	for i := range e.Attrs {
		if strings.EqualFold(e.Attrs[i].Name, name) {
			return e.Attrs[i].Values
		}
	}
	return nil
}

// Object types.
const (
	TypeUser  = "user"
	TypeGroup = "group"
)

// Classify returns the object type of an entry from its object classes: a
// user, a group, or "" for anything else (OUs, computers, contacts…).
func Classify(objectClasses []string) string {
	var user, group, computer bool
	for _, oc := range objectClasses {
		switch strings.ToLower(oc) {
		case "user", "person", "inetorgperson", "posixaccount":
			user = true
		case "group", "groupofnames", "groupofuniquenames", "posixgroup":
			group = true
		case "computer":
			computer = true
		}
	}
	switch {
	case group:
		return TypeGroup
	case user && !computer:
		return TypeUser
	}
	return ""
}

// NormalizeDN returns the canonical form of a DN used for comparison: the
// attribute types and values lower-cased, spaces around separators removed,
// and special characters escaped one way. It fails on a DN that does not parse.
func NormalizeDN(dn string) (string, error) {
	if norm, ok := normalizeDNFast(dn); ok {
		return norm, nil
	}
	return normalizeDNSlow(dn)
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

// Anchor returns an entry's stable identity: its objectGUID (Active
// Directory), else its entryUUID (OpenLDAP), else "dn:" and its normalized DN.
func Anchor(e *Entry, normDN string) string {
	if v := e.Get("objectGUID"); len(v) > 0 && v[0] != "" {
		return "guid:" + formatGUID(v[0])
	}
	if v := e.Get("entryUUID"); len(v) > 0 && v[0] != "" {
		return "uuid:" + strings.ToLower(strings.TrimSpace(v[0]))
	}
	return "dn:" + normDN
}

// formatGUID renders a 16-byte objectGUID as Active Directory writes it
// (the first three groups little-endian); other values are kept as text.
func formatGUID(v string) string {
	if len(v) != 16 {
		return strings.ToLower(v)
	}
	b := []byte(v)
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
}

// skipped are attributes never copied to the target: anchors (kept as the
// anchor), secrets, and operational attributes that change on every read.
var skipped = map[string]bool{
	"objectguid": true, "entryuuid": true, "userpassword": true, "unicodepwd": true, "ntpwdhistory": true,
	"lmpwdhistory": true, "supplementalcredentials": true, "dbcspwd": true,
	"createtimestamp": true, "modifytimestamp": true, "creatorsname": true, "modifiersname": true,
	"entrycsn": true, "structuralobjectclass": true, "subschemasubentry": true, "hassubordinates": true,
	"entrydn": true, "whencreated": true, "whenchanged": true, "usncreated": true, "usnchanged": true,
	"dscorepropagationdata": true, "lastlogon": true, "lastlogontimestamp": true, "logoncount": true,
	"badpwdcount": true, "badpasswordtime": true, "pwdlastset": true, "lastlogoff": true,
	"member": true, "uniquemember": true, "memberuid": true, "memberof": true, "instancetype": true,
	"objectsid": true, "objectcategory": true, "samaccounttype": true, "replpropertymetadata": true,
}

// MembersAttr is the attribute holding a group's members, as anchors.
const MembersAttr = "members"

// attributes copies the entry's attributes that are synced, keyed by their
// first spelling; values that are not UTF-8 text are kept as "base64:…".
func attributes(e *Entry) map[string][]string {
	out := make(map[string][]string, len(e.Attrs))
	seen := make(map[string]string, len(e.Attrs))
	for _, a := range e.Attrs {
		low := strings.ToLower(a.Name)
		if skipped[low] || len(a.Values) == 0 {
			continue
		}
		key, ok := seen[low]
		if !ok {
			key = a.Name
			seen[low] = key
		}
		for _, v := range a.Values {
			if !utf8.ValidString(v) {
				v = "base64:" + base64.StdEncoding.EncodeToString([]byte(v))
			}
			out[key] = append(out[key], v)
		}
	}
	return out
}

// displayName picks the name a person knows an object by.
func displayName(e *Entry, dn string) string {
	for _, a := range []string{"displayName", "cn", "name", "uid", "sAMAccountName"} {
		if v := e.Get(a); len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	if parsed, err := ldap.ParseDN(dn); err == nil && len(parsed.RDNs) > 0 && len(parsed.RDNs[0].Attributes) > 0 {
		return parsed.RDNs[0].Attributes[0].Value
	}
	return dn
}

// contentHash hashes what a target object holds, so that planning compares
// one short string per object. Multi-valued attributes are sets: their order
// does not count.
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

// changedAttributes names the attributes that differ between two objects.
func changedAttributes(old, cur map[string][]string) []string {
	lower := func(m map[string][]string) map[string][]string {
		out := make(map[string][]string, len(m))
		for k, v := range m {
			v = slices.Clone(v)
			slices.Sort(v)
			out[strings.ToLower(k)] = v
		}
		return out
	}
	o, c := lower(old), lower(cur)
	var out []string
	for k, v := range c {
		if !slices.Equal(o[k], v) {
			out = append(out, k)
		}
	}
	for k := range o {
		if _, ok := c[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
