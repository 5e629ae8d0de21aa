package guard

import (
	"encoding/base64"
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
