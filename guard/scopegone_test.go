package guard

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/ldif"
	"github.com/syncguard/syncguard/store"
)

// deleteSubtree deletes dn and everything below it, leaves first.
func deleteSubtree(t *testing.T, c *goldap.Conn, dn string) {
	t.Helper()
	res, err := c.Search(goldap.NewSearchRequest(dn, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		t.Fatalf("search %s: %v", dn, err)
	}
	dns := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	// Deeper entries have more RDNs: delete those first.
	slices.SortFunc(dns, func(a, b string) int { return strings.Count(b, ",") - strings.Count(a, ",") })
	for _, d := range dns {
		if err := c.Del(goldap.NewDelRequest(d, nil)); err != nil {
			t.Fatalf("delete %s: %v", d, err)
		}
	}
}

// addEntries adds the records of the LDIF data at or below dn, parents
// first (as the LDIF lists them): the directory gives them new entryUUIDs.
func addEntries(t *testing.T, c *goldap.Conn, data []byte, dn string) int {
	t.Helper()
	r := ldif.NewReader(bytes.NewReader(data))
	n := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		if low := strings.ToLower(rec.DN); low != strings.ToLower(dn) && !strings.HasSuffix(low, ","+strings.ToLower(dn)) {
			continue
		}
		add := goldap.NewAddRequest(rec.DN, nil)
		for _, a := range rec.Attrs {
			add.Attribute(a.Name, a.Values)
		}
		if err := c.Add(add); err != nil {
			t.Fatalf("add %s: %v", rec.DN, err)
		}
		n++
	}
}

// TestScopeOUGone: an in-scope OU deleted at the source is no failed
// cycle: its synced objects are staged with cause "scope OU gone" and the
// cycle is quarantined whatever the threshold, prevention off included.
// Put back (new entryUUIDs, the same DNs), Restart sync re-anchors them:
// nothing deleted, nothing created.
func TestScopeOUGone(t *testing.T) {
	t.Parallel()
	dir := ldapDirectory(4)
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: dir.LDIF()})
	high := store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 1000}
	e := newLDAPEnv(t, srv, high, ldifScope...)
	off := newLDAPEnv(t, srv, store.Basics{Prevent: false, Threshold: 1000}, ldifScope...)
	for _, env := range []*env{e, off} {
		env.runWant(store.OutcomeSucceeded)
	}
	sales := "ou=Sales," + baseDN
	deleteSubtree(t, srv.Conn(t), sales)

	q := e.runWant(store.OutcomeQuarantined)
	if q.StagedDeletes != 4 || q.Error != "" {
		t.Errorf("cycle with ou=Sales gone: %+v, want 4 staged deletes and no error", q)
	}
	for _, s := range e.staged() {
		if s.Cause != store.CauseScopeOUGone || s.OU != sales || s.State != store.StagedPending {
			t.Errorf("staged delete %s: cause %q, OU %q, %s; want pending, %q, from %s", s.DN, s.Cause, s.OU, s.State,
				store.CauseScopeOUGone, sales)
		}
	}
	for _, l := range e.logs(q.ID) {
		if l.Action != store.ActionStagedDelete || l.Cause != store.CauseScopeOUGone ||
			!strings.Contains(l.Details, "the scope OU "+sales+" no longer exists at the source") {
			t.Errorf("log entry %s %s: cause %q, details %q", l.Action, l.DN, l.Cause, l.Details)
		}
	}
	mails := e.notifications()
	if len(mails) != 1 || mails[0].Subject != QuarantineSubject("corp-ldap") {
		t.Fatalf("notifications %+v, want one quarantine mail", mails)
	}
	for _, want := range []string{"4 of the deletions because the scope OU " + sales + " no longer exists at the source",
		"stops sync whatever the threshold", "4  scope OU gone"} {
		if !strings.Contains(mails[0].Body, want) {
			t.Errorf("mail lacks %q:\n%s", want, mails[0].Body)
		}
	}
	if c := off.runWant(store.OutcomeQuarantined); c.StagedDeletes != 4 {
		t.Errorf("prevention off: %+v, want the 4 objects of the OU staged", c)
	}

	// The OU is back, as an export put back in: new entryUUIDs.
	if n := addEntries(t, srv.Conn(t), dir.LDIF(), sales); n != 5 {
		t.Fatalf("added %d entries back, want 5", n)
	}
	res, err := e.eng.RestartSync(t.Context(), e.id, q.ID, "alice")
	if err != nil || res.Count != 4 {
		t.Fatalf("RestartSync = %+v, %v", res, err)
	}
	c := e.run(res.Next)
	if c.Outcome != store.OutcomeSucceeded || c.Deletes != 0 || c.Creates != 0 || c.Updates != 6 {
		t.Errorf("cycle after the OU came back: %+v, want 4 users re-anchored and their 2 groups updated, nothing deleted or created", c)
	}
	if got := len(entryAnchors(e.logs(c.ID), store.ActionUpdate, store.LogSuccess)); got != 6 {
		t.Errorf("%d Update entries, want 6", got)
	}
	if c := e.runWant(store.OutcomeSucceeded); c.Creates+c.Updates+c.Deletes != 0 {
		t.Errorf("the next cycle: %+v, want nothing to do", c)
	}
}

// TestScopeOUHidden: an in-scope OU the bind account may no longer see
// (an ACL changed) reads as the OU gone: quarantined whatever the
// threshold, not a failed cycle, and never a deletion.
func TestScopeOUHidden(t *testing.T) {
	t.Parallel()
	const reader = "cn=reader," + baseDN
	data := append(ldapDirectory(3).LDIF(), []byte("dn: "+reader+"\nobjectClass: organizationalRole\n"+
		"objectClass: simpleSecurityObject\ncn: reader\nuserPassword: reader-pw\n\n")...)
	const open = "access to attrs=userPassword by anonymous auth by * none\naccess to * by * read"
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: data, Access: open})
	e := newEnv(t, &store.Configuration{Name: "reader", Source: srv.URL, BaseDN: srv.Suffix, BindDN: reader,
		BindPassword: "reader-pw", Scope: ldifScope, Basics: store.Basics{Prevent: true, Threshold: 1000}})
	if c := e.runWant(store.OutcomeSucceeded); c.Creates != 8 {
		t.Fatalf("first cycle: %+v, want 8 objects created", c)
	}
	e.runWant(store.OutcomeSucceeded) // the source found unchanged
	srv.SetAccess(t, "access to attrs=userPassword by anonymous auth by * none\n"+
		`access to dn.subtree="ou=Engineering,`+baseDN+`" by dn.exact="`+reader+`" none by * read`+"\naccess to * by * read")
	q := e.runWant(store.OutcomeQuarantined)
	if q.StagedDeletes != 3 {
		t.Errorf("cycle with ou=Engineering hidden: %+v, want its 3 users staged", q)
	}
	for _, s := range e.staged() {
		if s.Cause != store.CauseScopeOUGone || !strings.HasSuffix(s.DN, ",ou=Engineering,"+baseDN) {
			t.Errorf("staged %s with cause %q", s.DN, s.Cause)
		}
	}
	if got := len(e.objects()); got != 8 {
		t.Errorf("target holds %d objects, want the 8 (nothing deleted)", got)
	}
}

// TestScopeBaseMissing: a scope OU the source never had, with no synced
// object below it, reads as empty (the other OUs sync); a base DN the
// source does not have is a failure, not an empty directory.
func TestScopeBaseMissing(t *testing.T) {
	t.Parallel()
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: ldapDirectory(2).LDIF()})
	e := newLDAPEnv(t, srv, defaultBasics, append(slices.Clone(ldifScope), "ou=Nowhere,"+baseDN)...)
	if c := e.runWant(store.OutcomeSucceeded); c.Creates != 6 {
		t.Errorf("with a scope OU missing: %+v, want the 6 objects of the others created", c)
	}
	cfg := &store.Configuration{Name: "wrong-base", Source: srv.URL, BaseDN: "ou=Missing," + baseDN, BindDN: srv.RootDN,
		BindPassword: srv.RootPW, Basics: defaultBasics}
	c := newEnv(t, cfg).runWant(store.OutcomeFailed)
	if !strings.Contains(c.Error, "no such object") {
		t.Errorf("missing base DN: error %q, want no such object", c.Error)
	}
}
