package guard

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
	"github.com/syncguard/syncguard/store"
)

// TestExportMatchesLDAP exports into a directory that already holds some
// of the objects: s0 at its mapped DN and e0 in another OU are matched
// (updated; e0 moved: both keep their entryUUID), never added again;
// entries syncguard neither created nor matched are left as they were.
func TestExportMatchesLDAP(t *testing.T) {
	slapdtest.Require(t)
	srv := slapdtest.Start(t, slapdtest.Options{Suffix: cloudBase, LDIF: []byte(`dn: dc=cloud,dc=example
objectClass: dcObject
objectClass: organization
o: Cloud
dc: cloud

dn: ou=Sales,dc=cloud,dc=example
objectClass: organizationalUnit
ou: Sales

dn: uid=s0,ou=Sales,dc=cloud,dc=example
objectClass: inetOrgPerson
uid: s0
cn: Old s0
sn: s0
title: Old title

dn: ou=Elsewhere,dc=cloud,dc=example
objectClass: organizationalUnit
ou: Elsewhere

dn: uid=e0,ou=Elsewhere,dc=cloud,dc=example
objectClass: inetOrgPerson
uid: e0
cn: Old e0
sn: e0

dn: uid=zz,ou=Sales,dc=cloud,dc=example
objectClass: inetOrgPerson
uid: zz
cn: Someone else
sn: Else
title: Not syncguard's

dn: cn=Other,ou=Elsewhere,dc=cloud,dc=example
objectClass: groupOfNames
cn: Other
member: uid=zz,ou=Sales,dc=cloud,dc=example
`)})
	before := ldapEntries(t, srv)
	dir := newDirectory(3)
	e := newTargetEnv(t, dir, defaultBasics, store.Target{URL: srv.URL, BaseDN: cloudBase, BindDN: srv.RootDN, BindPassword: srv.RootPW})
	e.runWant(store.OutcomeSucceeded)
	e.drain()
	after := ldapEntries(t, srv)
	for _, dn := range []string{"uid=zz,ou=sales," + cloudBase, "cn=other,ou=elsewhere," + cloudBase} {
		if !equalEntry(before[dn], after[dn]) {
			t.Errorf("%s was touched:\nbefore %+v\nafter  %+v", dn, before[dn], after[dn])
		}
		delete(after, dn)
	}
	got := map[string]ldapEntry{}
	for dn, en := range after {
		got[dn] = en
	}
	if s0 := got[cloudDN("uid=s0", "Sales")]; s0.UUID != before[cloudDN("uid=s0", "Sales")].UUID || !slices.Equal(s0.Attrs["title"], []string{dir.user("s0").Title}) {
		t.Errorf("s0 = %+v: not matched and updated in place", s0)
	}
	if e0 := got[cloudDN("uid=e0", "Engineering")]; e0.UUID != before["uid=e0,ou=elsewhere,"+cloudBase].UUID {
		t.Errorf("e0 = %+v: not matched and moved", e0)
	}
	if len(got) != 8 {
		t.Errorf("the target holds %d of syncguard's entries, want 8 (6 users, 2 groups)", len(got))
	}
}

func equalEntry(a, b ldapEntry) bool {
	if a.DN != b.DN || a.UUID != b.UUID || len(a.Attrs) != len(b.Attrs) {
		return false
	}
	for k, v := range a.Attrs {
		if !slices.Equal(v, b.Attrs[k]) {
			return false
		}
	}
	return true
}

// TestExportMatchesSCIM: users and groups already in the service are
// matched by userName and displayName and take their externalId; the
// service's own user is left alone; nothing is created twice.
func TestExportMatchesSCIM(t *testing.T) {
	srv, tgt := scimTarget(t, scimtest.Options{
		Users: []scimtest.User{
			{UserName: "s0", DisplayName: "Old s0", Active: true},
			{UserName: "E1", Active: true},
			{UserName: "boss", ExternalID: "hr:1", DisplayName: "The boss", Active: true},
		},
		Groups: []scimtest.Group{{DisplayName: "Staff"}},
	})
	matched := map[string]string{}
	for _, u := range srv.Users() {
		matched[strings.ToLower(u.UserName)] = u.ID
	}
	staff := srv.Groups()[0].ID
	dir := newDirectory(3)
	e := newTargetEnv(t, dir, defaultBasics, tgt)
	e.runWant(store.OutcomeSucceeded)
	e.drain()
	users := scimUsers(srv)
	for _, uid := range []string{"s0", "e1"} {
		if u := users["uuid:"+dir.user(uid).UUID]; u.ID != matched[uid] {
			t.Errorf("%s is %+v, want the service's user %s matched", uid, u, matched[uid])
		}
	}
	if boss := users["hr:1"]; boss.DisplayName != "The boss" || boss.UserName != "boss" {
		t.Errorf("the service's own user was changed: %+v", boss)
	}
	if g, ok := srv.GroupByExternalID("uuid:" + dir.Groups[0].UUID); !ok || g.ID != staff || len(srv.Groups()) != 2 {
		t.Errorf("Staff = %+v, want the service's group %s matched (2 groups in all, got %d)", g, staff, len(srv.Groups()))
	}
	if n := srv.Requests(http.MethodPost, "/Users"); n != 4 {
		t.Errorf("%d POST /Users, want 4: the 6 users less the 2 matched", n)
	}
	if len(users) != 7 {
		t.Errorf("%d users in the service, want 7 (6 synced and the boss)", len(users))
	}
}

// TestExportReanchored: a user deleted and made anew at the source (same
// DN, a new entryUUID) is one Update that re-anchors it; in the target it
// is the same object, updated in place and taking the new anchor, never
// created a second time.
func TestExportReanchored(t *testing.T) {
	srv, tgt := scimTarget(t, scimtest.Options{})
	dir := newDirectory(3)
	e := newTargetEnv(t, dir, defaultBasics, tgt)
	e.runWant(store.OutcomeSucceeded)
	e.drain()
	old := scimUsers(srv)["uuid:"+dir.user("s1").UUID]
	dir.user("s1").UUID = uuidFor(9001)
	e.write(dir)
	e.runWant(store.OutcomeSucceeded)
	e.drain()
	users := scimUsers(srv)
	if u, ok := users["uuid:"+uuidFor(9001)]; !ok || u.ID != old.ID || len(srv.Users()) != 6 {
		t.Errorf("s1 re-anchored is %+v (was %s); %d users in the service, want 6", u, old.ID, len(srv.Users()))
	}
	if n := srv.Requests(http.MethodPost, "/Users"); n != 6 {
		t.Errorf("%d POST /Users, want the 6 of the first export", n)
	}
}
