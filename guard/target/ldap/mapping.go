package ldap

import (
	"encoding/base64"
	"fmt"
	"strings"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/target"
)

// valueKind says how a source value becomes a target value.
type valueKind int

const (
	text   valueKind = iota // as it is; empty values dropped
	dnKind                  // a DN, re-rooted below the target base; dropped when not below the source base
	binary                  // "base64:…" (how syncguard keeps non-UTF-8 values) decoded to bytes
)

// attrMap is one row of the mapping: a target attribute and the source
// attributes it is taken from, the first one present winning.
type attrMap struct {
	target  string
	sources []string
	single  bool // SINGLE-VALUE in the target schema: the first value only
	kind    valueKind
}

// lowerNames maps the source names of the mapping, as spelled there and
// in lower case, to their lower case: the usual spellings need no
// strings.ToLower (and its allocation) for each object.
var lowerNames = func() map[string]string {
	m := map[string]string{}
	for _, table := range [][]attrMap{userAttrs, groupAttrs} {
		for _, a := range table {
			for _, s := range a.sources {
				m[s], m[strings.ToLower(s)] = strings.ToLower(s), strings.ToLower(s)
			}
		}
	}
	return m
}()

func lowerName(s string) string {
	if l, ok := lowerNames[s]; ok {
		return l
	}
	return strings.ToLower(s)
}

// userAttrs is the mapping of users (inetOrgPerson). The package doc
// shows the same table; TestDocListsTheMapping keeps them together.
var userAttrs = []attrMap{
	{target: "cn", sources: []string{"cn", "name", "displayName"}},
	{target: "sn", sources: []string{"sn", "surname"}},
	{target: "givenName", sources: []string{"givenName"}},
	{target: "initials", sources: []string{"initials"}},
	{target: "displayName", sources: []string{"displayName"}, single: true},
	{target: "mail", sources: []string{"mail"}},
	{target: "uid", sources: []string{"uid", "sAMAccountName"}},
	{target: "telephoneNumber", sources: []string{"telephoneNumber"}},
	{target: "mobile", sources: []string{"mobile"}},
	{target: "homePhone", sources: []string{"homePhone"}},
	{target: "pager", sources: []string{"pager"}},
	{target: "facsimileTelephoneNumber", sources: []string{"facsimileTelephoneNumber"}},
	{target: "title", sources: []string{"title"}},
	{target: "description", sources: []string{"description"}},
	{target: "employeeNumber", sources: []string{"employeeNumber", "employeeID"}, single: true},
	{target: "employeeType", sources: []string{"employeeType"}},
	{target: "departmentNumber", sources: []string{"departmentNumber", "department"}},
	{target: "o", sources: []string{"o", "company"}},
	{target: "l", sources: []string{"l"}},
	{target: "st", sources: []string{"st"}},
	{target: "street", sources: []string{"street", "streetAddress"}},
	{target: "postalCode", sources: []string{"postalCode"}},
	{target: "postOfficeBox", sources: []string{"postOfficeBox"}},
	{target: "physicalDeliveryOfficeName", sources: []string{"physicalDeliveryOfficeName"}},
	{target: "roomNumber", sources: []string{"roomNumber"}},
	{target: "preferredLanguage", sources: []string{"preferredLanguage"}, single: true},
	{target: "labeledURI", sources: []string{"labeledURI", "wWWHomePage"}},
	{target: "manager", sources: []string{"manager"}, kind: dnKind},
	{target: "jpegPhoto", sources: []string{"jpegPhoto", "thumbnailPhoto"}, kind: binary},
}

// groupAttrs is the mapping of groups (groupOfNames); member comes from
// Object.Members, not from an attribute.
var groupAttrs = []attrMap{
	{target: "cn", sources: []string{"cn", "name", "displayName"}},
	{target: "description", sources: []string{"description"}},
	{target: "owner", sources: []string{"owner", "managedBy"}, kind: dnKind},
	{target: "businessCategory", sources: []string{"businessCategory"}},
	{target: "o", sources: []string{"o"}},
	{target: "ou", sources: []string{"ou"}},
}

// Object classes written, and the one a match looks for.
var (
	userClasses  = []string{"top", "person", "organizationalPerson", "inetOrgPerson"}
	groupClasses = []string{"top", "groupOfNames"}
)

// emptyMember is the member value of a group without members: the empty DN
// (see the package doc).
const emptyMember = ""

// entry is an object as the target holds it.
type entry struct {
	dn      dn
	dnStr   string
	classes []string
	// attrs are every mapped attribute in mapping order, empty ones too
	// (an update replaces them all, which deletes the empty ones).
	attrs []ldapv3.Attribute
	typ   string
}

// entry maps obj to its target DN and attributes.
func (w *Writer) entry(obj *target.Object) (*entry, error) {
	if obj == nil {
		return nil, fmt.Errorf("no object")
	}
	d, err := w.reroot(obj.DN)
	if err != nil {
		return nil, err
	}
	e := &entry{dn: d, dnStr: d.String(), typ: obj.Type}
	src := make(map[string][]string, len(obj.Attributes))
	for k, v := range obj.Attributes {
		k = lowerName(k)
		if _, dup := src[k]; !dup || len(src[k]) == 0 {
			src[k] = v
		}
	}
	var table []attrMap
	switch obj.Type {
	case target.TypeUser:
		table, e.classes = userAttrs, userClasses
	case target.TypeGroup:
		table, e.classes = groupAttrs, groupClasses
	default:
		return nil, fmt.Errorf("object %s: type %q is neither %s nor %s", obj.DN, obj.Type, target.TypeUser, target.TypeGroup)
	}
	e.attrs = make([]ldapv3.Attribute, 0, len(table)+2)
	for _, m := range table {
		e.attrs = append(e.attrs, ldapv3.Attribute{Type: m.target, Vals: w.values(m, src)})
	}
	if obj.Type == target.TypeGroup {
		e.attrs = append(e.attrs, ldapv3.Attribute{Type: "member", Vals: w.members(obj.Members)})
	}
	e.keepRDN()
	cn := e.attr("cn")
	if len(cn.Vals) == 0 {
		cn.Vals = []string{firstOf(obj.Name, d[0].Attributes[0].Value)}
	}
	if sn := e.attr("sn"); sn != nil && len(sn.Vals) == 0 {
		sn.Vals = []string{cn.Vals[0]}
	}
	return e, nil
}

// values returns the target values of one mapping row.
func (w *Writer) values(m attrMap, src map[string][]string) []string {
	var in []string
	for _, s := range m.sources {
		if v := src[lowerName(s)]; len(v) > 0 {
			in = v
			break
		}
	}
	out := make([]string, 0, len(in))
	for _, v := range in {
		switch m.kind {
		case dnKind:
			d, err := w.rerootString(v)
			if err != nil {
				continue
			}
			v = d
		case binary:
			if b, ok := strings.CutPrefix(v, "base64:"); ok {
				raw, err := base64.StdEncoding.DecodeString(b)
				if err != nil {
					continue
				}
				v = string(raw)
			}
		}
		if v == "" {
			continue
		}
		out = append(out, v)
		if m.single {
			break
		}
	}
	return out
}

// members returns the target DNs of a group's members: a member's link
// when it has one, else its re-rooted source DN; a member that is neither
// is left out. No member at all gives the empty DN.
func (w *Writer) members(ms []target.Member) []string {
	out := make([]string, 0, len(ms))
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		v := m.Link
		if v == "" {
			var err error
			if v, err = w.rerootString(m.DN); err != nil {
				continue
			}
		}
		if k := strings.ToLower(v); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return []string{emptyMember}
	}
	return out
}

// keepRDN makes the values of the entry's RDN present in the entry, as
// LDAP requires: the RDN value leads its attribute (alone if the attribute
// is single-valued), and an RDN attribute outside the mapping is added.
func (e *entry) keepRDN() {
	for _, a := range e.dn[0].Attributes {
		at := e.attr(a.Type)
		if at == nil {
			e.attrs = append(e.attrs, ldapv3.Attribute{Type: a.Type, Vals: []string{a.Value}})
			continue
		}
		if single(e.typ, at.Type) {
			at.Vals = []string{a.Value}
			continue
		}
		if !containsFold(at.Vals, a.Value) {
			at.Vals = append([]string{a.Value}, at.Vals...)
		}
	}
}

// attr returns the entry's attribute called name (any case), or nil.
func (e *entry) attr(name string) *ldapv3.Attribute {
	for i := range e.attrs {
		if strings.EqualFold(e.attrs[i].Type, name) {
			return &e.attrs[i]
		}
	}
	return nil
}

// single reports whether the mapping of typ marks attribute name single-valued.
func single(typ, name string) bool {
	table := userAttrs
	if typ == target.TypeGroup {
		table = groupAttrs
	}
	for _, m := range table {
		if strings.EqualFold(m.target, name) {
			return m.single
		}
	}
	return false
}

func containsFold(vals []string, v string) bool {
	for _, x := range vals {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// addRequest is the Add of the whole entry.
func (e *entry) addRequest() *ldapv3.AddRequest {
	req := ldapv3.NewAddRequest(e.dnStr, nil)
	req.Attribute("objectClass", e.classes)
	for _, a := range e.attrs {
		if len(a.Vals) > 0 {
			req.Attribute(a.Type, a.Vals)
		}
	}
	return req
}

// modifyRequest replaces every mapped attribute (an empty one is deleted).
func (e *entry) modifyRequest() *ldapv3.ModifyRequest {
	req := ldapv3.NewModifyRequest(e.dnStr, nil)
	for _, a := range e.attrs {
		req.Replace(a.Type, a.Vals)
	}
	return req
}

// class is the structural object class of e: inetOrgPerson or groupOfNames.
func (e *entry) class() string { return e.classes[len(e.classes)-1] }

// rdnFilter finds the entry's kind of object by its RDN value(s).
func (e *entry) rdnFilter() string {
	var b strings.Builder
	b.WriteString("(&(objectClass=")
	b.WriteString(e.class())
	b.WriteByte(')')
	for _, a := range e.dn[0].Attributes {
		fmt.Fprintf(&b, "(%s=%s)", a.Type, ldapv3.EscapeFilter(a.Value))
	}
	b.WriteByte(')')
	return b.String()
}
