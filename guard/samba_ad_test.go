package guard

import (
	"encoding/binary"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap"
	"github.com/syncguard/syncguard/guard/ldap/sambatest"
	"github.com/syncguard/syncguard/store"
)

// sambaRID reads the RID of the objectSid of dn.
func sambaRID(t *testing.T, c *goldap.Conn, dn string) string {
	t.Helper()
	res, err := c.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"objectSid"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("objectSid of %s: %v", dn, err)
	}
	sid := res.Entries[0].GetRawAttributeValue("objectSid")
	return strconv.FormatUint(uint64(binary.LittleEndian.Uint32(sid[len(sid)-4:])), 10)
}

// sambaAdd adds dn with the attributes given as name, values pairs.
func sambaAdd(t *testing.T, c *goldap.Conn, dn string, attrs map[string][]string) {
	t.Helper()
	add := goldap.NewAddRequest(dn, nil)
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		add.Attribute(k, attrs[k])
	}
	if err := c.Add(add); err != nil {
		t.Fatalf("add %s: %v", dn, err)
	}
}

// TestSambaDirectory: a real Active Directory domain controller (Samba
// 4.17), read from the domain root: its critical system objects (krbtgt,
// Administrator, Guest, the DC's account, Domain Users and the built-in
// groups), a contact and a computer are not synced; a disabled account is
// disabled; the manager is an anchor and directReports is not copied; a
// group that is a user's primary group has them as a member (Samba lists
// no primary member in member). A scope OU deleted at the DC stages its
// objects with cause "scope OU gone" (Samba answers noSuchObject without a
// matched DN) and is no failed cycle.
func TestSambaDirectory(t *testing.T) {
	t.Parallel()
	dc := sambatest.Start(t)
	svc := dc.AddUser(t, "svc-read", "Svc-Passw0rd!", nil)
	const base = sambatest.BaseDN
	ou := "OU=Staff," + base
	c := dc.Conn(t)
	sambaAdd(t, c, ou, map[string][]string{"objectClass": {"organizationalUnit"}})
	ann := "CN=Ann," + ou
	bob := "CN=Bob," + ou
	group := "CN=Staff Group," + ou
	for _, u := range []struct{ dn, name, uac string }{{ann, "ann", "512"}, {bob, "bob", "514"}} {
		sambaAdd(t, c, u.dn, map[string][]string{"objectClass": {"user"}, "sAMAccountName": {u.name},
			"userPrincipalName": {u.name + "@" + sambatest.Realm}, "userAccountControl": {u.uac}})
	}
	sambaAdd(t, c, group, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {"staff-group"}, "member": {ann}})
	sambaAdd(t, c, "CN=Partner,"+ou, map[string][]string{"objectClass": {"contact"}, "mail": {"p@partner.example"}})
	sambaAdd(t, c, "CN=WS01,"+ou, map[string][]string{"objectClass": {"computer"}, "sAMAccountName": {"WS01$"}})
	mod := goldap.NewModifyRequest(ann, nil)
	mod.Replace("manager", []string{bob})
	mod.Replace("primaryGroupID", []string{sambaRID(t, c, group)})
	if err := c.Modify(mod); err != nil {
		t.Fatalf("manager and primary group of Ann: %v", err)
	}

	cfg := func(name string, scope ...string) *store.Configuration {
		return &store.Configuration{Name: name, Source: dc.LDAPSURL, BaseDN: base, BindDN: svc, BindPassword: "Svc-Passw0rd!",
			TLSPin: ldap.Pin(dc.Cert), Scope: scope, Basics: store.Basics{Prevent: true, Threshold: 500}}
	}
	root := newEnv(t, cfg("domain"))
	staff := newEnv(t, cfg("staff", ou))
	root.runWant(store.OutcomeSucceeded)
	staff.runWant(store.OutcomeSucceeded)
	objs := byName(root.objects())
	// DnsAdmins and DnsUpdateProxy come with the DC's DNS, not marked
	// critical (as on Windows): a group admins may use, so synced.
	want := []string{"Ann", "Bob", "DnsAdmins", "DnsUpdateProxy", "Staff Group", "svc-read"}
	if got := slices.Sorted(maps.Keys(objs)); !slices.Equal(got, want) {
		t.Errorf("domain root synced %v, want %v", got, want)
	}
	a, b := objs["Ann"], objs["Bob"]
	if !slices.Equal(a.Attributes[ManagerAttr], []string{b.Anchor}) || b.Attributes["directReports"] != nil || a.Attributes["memberOf"] != nil {
		t.Errorf("Ann's manager %v (want Bob, %s); Bob's directReports %v; Ann's memberOf %v",
			a.Attributes[ManagerAttr], b.Anchor, b.Attributes["directReports"], a.Attributes["memberOf"])
	}
	if got := objs["Staff Group"].Attributes[MembersAttr]; !slices.Equal(got, []string{a.Anchor}) {
		t.Errorf("Staff Group members %v, want Ann (her primary group)", got)
	}
	if !AccountEnabled(a.Attributes) || AccountEnabled(b.Attributes) {
		t.Errorf("Ann enabled %v, Bob enabled %v; want true, false", AccountEnabled(a.Attributes), AccountEnabled(b.Attributes))
	}
	for _, o := range objs {
		for _, noise := range []string{"distinguishedName", "codePage", "countryCode", "isCriticalSystemObject", "objectSid", "primaryGroupID"} {
			if _, ok := o.Attributes[noise]; ok {
				t.Errorf("%s: %s copied", o.Name, noise)
			}
		}
	}

	// AD refuses to delete a group that is still someone's primary group.
	mod = goldap.NewModifyRequest(ann, nil)
	mod.Replace("primaryGroupID", []string{"513"})
	if err := c.Modify(mod); err != nil {
		t.Fatal(err)
	}
	del := goldap.NewDelRequest(ou, []goldap.Control{goldap.NewControlSubtreeDelete()})
	if err := c.Del(del); err != nil {
		t.Fatalf("delete %s: %v", ou, err)
	}
	q := staff.runWant(store.OutcomeQuarantined)
	if q.StagedDeletes != 3 {
		t.Errorf("scope OU deleted at the DC: %+v, want Ann, Bob and Staff Group staged", q)
	}
	for _, s := range staff.staged() {
		if s.Cause != store.CauseScopeOUGone || !strings.HasSuffix(s.DN, ","+ou) {
			t.Errorf("staged %s with cause %q, want %q", s.DN, s.Cause, store.CauseScopeOUGone)
		}
	}
}
