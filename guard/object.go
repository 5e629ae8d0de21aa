package guard

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
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
// user, a group, or "" for anything else. Left out among what a directory
// calls a person: AD computers (and managed service accounts, which are
// computers) and contacts (a contact is an address book entry, not an
// account: AD makes it a person and an organizationalPerson too).
func Classify(objectClasses []string) string {
	var user, group, notUser bool
	for _, oc := range objectClasses {
		switch strings.ToLower(oc) {
		case "user", "person", "inetorgperson", "posixaccount":
			user = true
		case "group", "groupofnames", "groupofuniquenames", "posixgroup":
			group = true
		case "computer", "contact":
			notUser = true
		}
	}
	switch {
	case group:
		return TypeGroup
	case user && !notUser:
		return TypeUser
	}
	return ""
}

// critical reports whether an entry is one of Active Directory's critical
// system objects (isCriticalSystemObject: TRUE): krbtgt, Administrator,
// Guest, the domain controllers' accounts, the built-in groups and the
// domain's own groups (Domain Users, Domain Admins…). They belong to the
// domain, not to the people synced, and are left out as Microsoft's own
// sync (Entra Connect) leaves them out.
func critical(e *Entry) bool {
	v := e.Get("isCriticalSystemObject")
	return len(v) > 0 && strings.EqualFold(strings.TrimSpace(v[0]), "TRUE")
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

// skipped are attributes never copied to the target as they are: anchors
// (kept as the anchor), secrets, links kept as anchors (members, manager),
// backlinks, and operational attributes and noise that change on their own
// or say nothing of the person or group.
var skipped = map[string]bool{
	// Anchors and secrets.
	"objectguid": true, "entryuuid": true, "userpassword": true, "unicodepwd": true, "ntpwdhistory": true,
	"lmpwdhistory": true, "supplementalcredentials": true, "dbcspwd": true,
	// Operational attributes that change on every write or logon.
	"createtimestamp": true, "modifytimestamp": true, "creatorsname": true, "modifiersname": true,
	"entrycsn": true, "structuralobjectclass": true, "subschemasubentry": true, "hassubordinates": true,
	"entrydn": true, "whencreated": true, "whenchanged": true, "usncreated": true, "usnchanged": true,
	"dscorepropagationdata": true, "lastlogon": true, "lastlogontimestamp": true, "logoncount": true,
	"badpwdcount": true, "badpasswordtime": true, "pwdlastset": true, "lastlogoff": true, "lockouttime": true,
	"replpropertymetadata": true,
	// Links, kept as anchors: members (MembersAttr), manager (ManagerAttr);
	// the primary group becomes a membership of that group.
	"member": true, "uniquemember": true, "memberuid": true, "manager": true, "primarygroupid": true,
	// Backlinks: Active Directory computes them from another object's
	// link (memberOf from member, directReports from manager…). Copied,
	// renaming one manager would update every report.
	"memberof": true, "directreports": true, "managedobjects": true, "masteredby": true,
	"msds-memberoftransitive": true, "msds-membertransitive": true,
	// Active Directory's bookkeeping, the same on every object or about
	// the directory rather than the person.
	"distinguishedname": true, "instancetype": true, "objectsid": true, "objectcategory": true,
	"samaccounttype": true, "iscriticalsystemobject": true, "codepage": true, "countrycode": true,
	"showinadvancedviewonly": true, "systemflags": true, "admincount": true, "msds-supportedencryptiontypes": true,
}

// skippedName reports whether an attribute, by its lower-case name, is not
// copied: one of skipped, or a backlink by Active Directory's naming
// (publicDelegatesBL, msExchDelegateListBL… end in "BL"; name is as the
// server spelled it).
func skippedName(low, name string) bool {
	return skipped[low] || (len(name) > 2 && strings.HasSuffix(name, "BL"))
}

// MembersAttr is the attribute holding a group's members, as anchors.
const MembersAttr = "members"

// ManagerAttr is the attribute holding a user's manager, as the manager's
// anchor (a manager who is not a synced object is left out).
const ManagerAttr = "manager"

// attributes copies the entry's attributes that are synced, keyed by their
// first spelling; values that are not UTF-8 text are kept as "base64:…".
func attributes(e *Entry) map[string][]string {
	out := make(map[string][]string, len(e.Attrs))
	seen := make(map[string]string, len(e.Attrs))
	for _, a := range e.Attrs {
		low := strings.ToLower(a.Name)
		if skippedName(low, a.Name) || len(a.Values) == 0 {
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

// sidString renders a binary objectSid as Windows writes it
// (S-1-5-21-…-RID); a value already written so is kept. ok is false for
// anything else.
func sidString(v string) (string, bool) {
	if strings.HasPrefix(v, "S-") && utf8.ValidString(v) {
		return v, true
	}
	b := []byte(v)
	if len(b) < 8 || b[0] != 1 || len(b) != 8+4*int(b[1]) {
		return "", false
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "S-%d-%d", b[0], auth)
	for i := 8; i < len(b); i += 4 {
		fmt.Fprintf(&s, "-%d", binary.LittleEndian.Uint32(b[i:]))
	}
	return s.String(), true
}

// primaryGroupSID returns the objectSid of a user's primary group: its
// domain's SID (its own objectSid without the last part, its RID) and its
// primaryGroupID. ok is false when the entry lacks either.
func primaryGroupSID(e *Entry) (string, bool) {
	pg, sid := e.Get("primaryGroupID"), e.Get("objectSid")
	if len(pg) == 0 || len(sid) == 0 {
		return "", false
	}
	rid, err := strconv.ParseUint(strings.TrimSpace(pg[0]), 10, 32)
	s, ok := sidString(sid[0])
	i := strings.LastIndexByte(s, '-')
	if err != nil || !ok || i < 0 {
		return "", false
	}
	return s[:i+1] + strconv.FormatUint(rid, 10), true
}
