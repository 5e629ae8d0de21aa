package guard

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/ldap/adtest"
	"github.com/syncguard/syncguard/store"
)

// binarySID encodes S-1-5-21-a-b-c-rid as Active Directory stores objectSid.
func binarySID(a, b, c, rid uint32) string {
	out := []byte{1, 5, 0, 0, 0, 0, 0, 5}
	for _, v := range []uint32{21, a, b, c, rid} {
		out = binary.LittleEndian.AppendUint32(out, v)
	}
	return string(out)
}

// adEntry is an entry of the adtest directory: objectClass, objectGUID
// (16 bytes made of guid) and the attributes given as name, value pairs.
func adEntry(dn string, classes []string, guid string, kv ...string) adtest.Entry {
	e := adtest.Entry{DN: dn, Attrs: []adtest.Attr{{Name: "objectClass", Values: classes}}}
	if guid != "" {
		e.Attrs = append(e.Attrs, adtest.Attr{Name: "objectGUID", Values: []string{fmt.Sprintf("%-16.16s", guid)}})
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, adtest.Attr{Name: kv[i], Values: []string{kv[i+1]}})
	}
	return e
}

var (
	adUser     = []string{"top", "person", "organizationalPerson", "user"}
	adGroup    = []string{"top", "group"}
	adContact  = []string{"top", "person", "organizationalPerson", "contact"}
	adComputer = []string{"top", "person", "organizationalPerson", "user", "computer"}
)

// adDirectory is a small Active Directory as adtest serves it: in
// OU=Staff, Ann (primary group Staff, manager Bob), Bob (disabled, primary
// group Domain Users), a contact, a computer, krbtgt and Domain Users
// (critical system objects), the group Staff and a group of another
// domain whose objectSid ends in the same RID.
func adDirectory() []adtest.Entry {
	const ou = "OU=Staff,DC=corp,DC=example"
	ann := adEntry("CN=Ann,"+ou, adUser, "ann", "cn", "Ann", "sAMAccountName", "ann",
		"userPrincipalName", "ann@corp.example", "userAccountControl", "512", "objectSid", binarySID(1, 2, 3, 1105),
		"primaryGroupID", "1200", "manager", "CN=Bob,"+ou, "memberOf", "CN=Other,"+ou, "codePage", "0",
		"countryCode", "0", "distinguishedName", "CN=Ann,"+ou, "isCriticalSystemObject", "FALSE",
		"publicDelegatesBL", "CN=Bob,"+ou)
	bob := adEntry("CN=Bob,"+ou, adUser, "bob", "cn", "Bob", "sAMAccountName", "bob", "userAccountControl", "514",
		"objectSid", binarySID(1, 2, 3, 1106), "primaryGroupID", "513", "directReports", "CN=Ann,"+ou)
	return []adtest.Entry{
		adEntry(ou, []string{"top", "organizationalUnit"}, "ou-staff"), ann, bob,
		adEntry("CN=Partner,"+ou, adContact, "partner", "cn", "Partner", "mail", "p@partner.example"),
		adEntry("CN=WS01,"+ou, adComputer, "ws01", "cn", "WS01", "objectSid", binarySID(1, 2, 3, 1107), "primaryGroupID", "515"),
		adEntry("CN=krbtgt,"+ou, adUser, "krbtgt", "cn", "krbtgt", "isCriticalSystemObject", "TRUE"),
		adEntry("CN=Domain Users,"+ou, adGroup, "domain-users", "cn", "Domain Users", "objectSid", binarySID(1, 2, 3, 513),
			"isCriticalSystemObject", "TRUE"),
		adEntry("CN=Staff,"+ou, adGroup, "staff", "cn", "Staff", "objectSid", binarySID(1, 2, 3, 1200)),
		adEntry("CN=Other,"+ou, adGroup, "other", "cn", "Other", "objectSid", binarySID(9, 9, 9, 1200), "member", "CN=Ann,"+ou),
	}
}

// byName returns the target objects by name.
func byName(objs map[string]store.TargetObject) map[string]store.TargetObject {
	out := map[string]store.TargetObject{}
	for _, o := range objs {
		out[o.Name] = o
	}
	return out
}

// TestADObjects: what syncguard reads of Active Directory and what it
// leaves out: contacts, computers and critical system objects are not
// synced; backlinks (memberOf, directReports, …BL) and noise (codePage,
// countryCode, distinguishedName…) are not copied; the manager is kept as
// the manager's anchor and a primary group as a membership of that group
// (in the user's own domain only); a disabled account reads as disabled.
// Renaming the manager and changing what only backlinks show update the
// manager alone.
func TestADObjects(t *testing.T) {
	t.Parallel()
	const base = "DC=corp,DC=example"
	s := adtest.Start(t, adtest.Options{Suffix: base, Entries: adDirectory(), Accounts: []adtest.Account{{Name: `CORP\svc`, Password: "pw"}}})
	e := newEnv(t, &store.Configuration{Name: "ad", Source: s.URL, BaseDN: base, BindDN: `CORP\svc`, BindPassword: "pw", Basics: defaultBasics})
	e.runWant(store.OutcomeSucceeded)
	objs := byName(e.objects())
	if got := slices.Sorted(maps.Keys(objs)); !slices.Equal(got, []string{"Ann", "Bob", "Other", "Staff"}) {
		t.Fatalf("target holds %v, want Ann, Bob, Other and Staff", got)
	}
	ann, bob := objs["Ann"], objs["Bob"]
	for _, attr := range []string{"memberOf", "codePage", "countryCode", "distinguishedName", "isCriticalSystemObject",
		"publicDelegatesBL", "objectSid", "primaryGroupID"} {
		if _, ok := ann.Attributes[attr]; ok {
			t.Errorf("Ann's %s was copied: %v", attr, ann.Attributes[attr])
		}
	}
	if _, ok := bob.Attributes["directReports"]; ok {
		t.Errorf("Bob's directReports (a backlink) was copied")
	}
	if got := ann.Attributes[ManagerAttr]; !slices.Equal(got, []string{bob.Anchor}) {
		t.Errorf("Ann's manager = %v, want Bob's anchor %s", got, bob.Anchor)
	}
	if got := objs["Staff"].Attributes[MembersAttr]; !slices.Equal(got, []string{ann.Anchor}) {
		t.Errorf("Staff members = %v, want Ann (her primary group)", got)
	}
	if got := objs["Other"].Attributes[MembersAttr]; !slices.Equal(got, []string{ann.Anchor}) {
		t.Errorf("Other members = %v, want Ann by member only (RID 1200 of another domain)", got)
	}
	if !AccountEnabled(ann.Attributes) || AccountEnabled(bob.Attributes) {
		t.Errorf("enabled: Ann %v, Bob %v; want Ann enabled, Bob disabled", AccountEnabled(ann.Attributes), AccountEnabled(bob.Attributes))
	}

	// Bob renamed: AD changes his DN and nothing of Ann but her backlinks.
	entries := adDirectory()
	s.Delete("CN=Bob,OU=Staff," + base)
	renamed := entries[2]
	renamed.DN = "CN=Robert,OU=Staff," + base
	renamed.Attrs = append(renamed.Attrs, adtest.Attr{Name: "memberOf", Values: []string{"CN=Staff,OU=Staff," + base}})
	annNow := entries[1]
	for i := range annNow.Attrs {
		if annNow.Attrs[i].Name == "manager" {
			annNow.Attrs[i].Values = []string{renamed.DN}
		}
	}
	annNow.Attrs = append(annNow.Attrs, adtest.Attr{Name: "directReports", Values: []string{"CN=Robert,OU=Staff," + base}})
	s.Set(renamed, annNow)
	c := e.runWant(store.OutcomeSucceeded)
	if updates := e.logs(c.ID); c.Updates != 1 || len(updates) != 1 || updates[0].Anchor != bob.Anchor ||
		!strings.HasPrefix(updates[0].Details, "moved: ") {
		t.Errorf("after renaming the manager: %+v, log %+v; want one update, Bob moved", c, updates)
	}

	// Ann's primary group becomes Domain Users (not synced): Staff loses her.
	for i := range annNow.Attrs {
		if annNow.Attrs[i].Name == "primaryGroupID" {
			annNow.Attrs[i].Values = []string{"513"}
		}
	}
	s.Set(annNow)
	c = e.runWant(store.OutcomeSucceeded)
	if objs := byName(e.objects()); c.Updates != 1 || len(objs["Staff"].Attributes[MembersAttr]) != 0 {
		t.Errorf("after Ann's primary group changed: %+v, Staff members %v; want Staff updated, empty", c, objs["Staff"].Attributes[MembersAttr])
	}
}
