package guard

import (
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/store"
)

// TestRecreatedObjects: a subtree deleted and added again at the source
// (new entryUUIDs, the same DNs), and a user deleted and made again
// elsewhere with the same uid, are objects recreated: one Update each that
// re-anchors the target object, no deletion for the guard (6 users would
// reach the threshold of 5), no creation, and nothing to do after.
func TestRecreatedObjects(t *testing.T) {
	t.Parallel()
	dir := ldapDirectory(6)
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: dir.LDIF()})
	e := newLDAPEnv(t, srv, defaultBasics, ldifScope...)
	e.runWant(store.OutcomeSucceeded)
	before := e.objects()
	byDN := map[string]string{} // lower-case DN → anchor before
	for a, o := range before {
		byDN[strings.ToLower(o.DN)] = a
	}

	conn := srv.Conn(t)
	sales := "ou=Sales," + baseDN
	deleteSubtree(t, conn, sales)
	addEntries(t, conn, dir.LDIF(), sales)
	e0 := dir.user("e0")
	if err := conn.Del(goldap.NewDelRequest(e0.DN(), nil)); err != nil {
		t.Fatal(err)
	}
	moved := "uid=e0," + sales
	add := goldap.NewAddRequest(moved, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	for attr, v := range map[string]string{"uid": "e0", "cn": "User e0", "sn": "e0", "title": e0.Title} {
		add.Attribute(attr, []string{v})
	}
	if err := conn.Add(add); err != nil {
		t.Fatal(err)
	}

	c := e.runWant(store.OutcomeSucceeded)
	// 6 Sales users and e0 re-anchored; Staff and Leads name new anchors.
	if c.Updates != 9 || c.Creates != 0 || c.Deletes != 0 {
		t.Errorf("cycle: %+v, want 9 updates, nothing created or deleted", c)
	}
	after := e.objects()
	reanchored := 0
	for _, l := range e.logs(c.ID) {
		if l.Action != store.ActionUpdate {
			t.Errorf("log entry %s %s, want only updates", l.Action, l.DN)
			continue
		}
		o := after[l.Anchor]
		oldDN := strings.ToLower(o.DN)
		if l.DN == moved {
			oldDN = strings.ToLower(e0.DN())
		}
		old := byDN[oldDN]
		if o.Type == TypeGroup {
			if old != l.Anchor || !strings.Contains(l.Details, "changed: members") {
				t.Errorf("group %s: anchor %s → %s, details %q", l.DN, old, l.Anchor, l.Details)
			}
			continue
		}
		reanchored++
		if want := "re-anchored: " + old + " → " + l.Anchor; old == l.Anchor || !strings.HasPrefix(l.Details, want) {
			t.Errorf("user %s: details %q, want them to start with %q", l.DN, l.Details, want)
		}
		if l.DN == moved && !strings.Contains(l.Details, "moved: "+e0.DN()+" → "+moved) {
			t.Errorf("e0 recreated in Sales: details %q, want the move", l.Details)
		}
	}
	if reanchored != 7 || len(after) != len(before) {
		t.Errorf("%d users re-anchored, target %d → %d objects; want 7 and no object more or less", reanchored, len(before), len(after))
	}
	for _, o := range after {
		if o.Type == TypeGroup && slices.ContainsFunc(o.Attributes[MembersAttr], func(m string) bool { _, ok := after[m]; return !ok }) {
			t.Errorf("group %s names a member the target does not hold: %v", o.DN, o.Attributes[MembersAttr])
		}
	}
	if c := e.runWant(store.OutcomeSucceeded); c.Creates+c.Updates+c.Deletes != 0 {
		t.Errorf("the next cycle: %+v, want nothing to do", c)
	}
}
