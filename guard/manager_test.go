package guard

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/store"
)

// TestManagerLinks: a user's manager is kept as the manager's anchor, so
// renaming a manager of 1,000 reports updates the manager alone (the
// directory rewrites the reports' manager DNs, as Active Directory does
// for its links); a report who changes manager, or loses it, is one update
// that keeps the rest of its attributes; a manager outside the scope is
// left out.
func TestManagerLinks(t *testing.T) {
	t.Parallel()
	const reports = 1000
	people := "ou=People," + baseDN
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: Corp\ndc: corp\n\n", baseDN)
	for _, ou := range []string{"People", "Archive"} {
		fmt.Fprintf(&b, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, baseDN, ou)
	}
	person := func(uid, ou, manager string) {
		fmt.Fprintf(&b, "dn: uid=%s,ou=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\ntitle: t-%s\n", uid, ou, baseDN, uid, uid, uid, uid)
		if manager != "" {
			fmt.Fprintf(&b, "manager: %s\n", manager)
		}
		b.WriteString("\n")
	}
	person("boss", "People", "")
	person("boss2", "People", "")
	person("outsider", "Archive", "")
	for i := range reports {
		m := "uid=boss," + people
		if i == 0 {
			m = "uid=outsider,ou=Archive," + baseDN
		}
		person(fmt.Sprintf("r%d", i), "People", m)
	}
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: []byte(b.String())})
	e := newLDAPEnv(t, srv, defaultBasics, people)
	e.runWant(store.OutcomeSucceeded)
	objs := e.objects()
	anchorOf := map[string]string{}
	for a, o := range objs {
		anchorOf[o.Name] = a
	}
	for _, o := range objs {
		want := []string{anchorOf["boss"]}
		if o.Name == "boss" || o.Name == "boss2" || o.Name == "r0" {
			want = nil // no manager, or one outside the scope
		}
		if got := o.Attributes[ManagerAttr]; !slices.Equal(got, want) {
			t.Fatalf("%s: manager %v, want %v", o.Name, got, want)
		}
	}

	conn := srv.Conn(t)
	if err := conn.ModifyDN(goldap.NewModifyDNRequest("uid=boss,"+people, "uid=chief", true, "")); err != nil {
		t.Fatal(err)
	}
	setManager := func(uid string, manager ...string) {
		t.Helper()
		mod := goldap.NewModifyRequest("uid="+uid+","+people, nil)
		mod.Replace("manager", manager)
		if err := conn.Modify(mod); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < reports; i++ {
		setManager(fmt.Sprintf("r%d", i), "uid=chief,"+people)
	}
	c := e.runWant(store.OutcomeSucceeded)
	if l := e.logs(c.ID); c.Updates != 1 || len(l) != 1 || l[0].Anchor != anchorOf["boss"] {
		t.Errorf("after renaming the manager of %d: %+v, %d log entries; want one update, of the manager", reports-1, c, len(l))
	}

	setManager("r1", "uid=boss2,"+people)
	setManager("r2")
	title := goldap.NewModifyRequest("uid=r3,"+people, nil)
	title.Replace("title", []string{"Head of r3"})
	if err := conn.Modify(title); err != nil {
		t.Fatal(err)
	}
	c = e.runWant(store.OutcomeSucceeded)
	if c.Updates != 3 {
		t.Errorf("after r1 changed manager, r2 lost theirs and r3 got a title: %+v, want 3 updates", c)
	}
	for _, l := range e.logs(c.ID) {
		want := "changed: manager"
		if l.Name == "r3" {
			want = "changed: title"
		}
		if l.Details != want {
			t.Errorf("update of %s: details %q, want %q", l.Name, l.Details, want)
		}
	}
	now := e.objects()
	r1, r2 := now[anchorOf["r1"]], now[anchorOf["r2"]]
	if got := r1.Attributes[ManagerAttr]; !slices.Equal(got, []string{anchorOf["boss2"]}) || r1.Attributes["title"][0] != "t-r1" {
		t.Errorf("r1 = %v, want manager boss2 and the rest kept", r1.Attributes)
	}
	if _, ok := r2.Attributes[ManagerAttr]; ok || r2.Attributes["title"][0] != "t-r2" {
		t.Errorf("r2 = %v, want no manager and the rest kept", r2.Attributes)
	}
	if r3 := now[anchorOf["r3"]]; r3.Attributes["title"][0] != "Head of r3" || !slices.Equal(r3.Attributes[ManagerAttr], []string{anchorOf["boss"]}) {
		t.Errorf("r3 = %v, want the new title and the manager kept", r3.Attributes)
	}
	if c := e.runWant(store.OutcomeSucceeded); c.Creates+c.Updates+c.Deletes != 0 {
		t.Errorf("the next cycle: %+v, want nothing to do", c)
	}
}
