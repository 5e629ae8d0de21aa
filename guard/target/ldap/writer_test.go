package ldap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/target"
)

func TestPutCreatesUsersAndGroupsBelowTheTargetBase(t *testing.T) {
	srv, w := newTarget(t)
	c := srv.Conn(t)

	ann := user("uid=ann,ou=Sales,ou=EU,"+sourceBase,
		"uid", "ann", "cn", "Ann Lee", "sn", "Lee", "givenName", "Ann", "mail", "ann@corp.example",
		"telephoneNumber", "+1 555 0100", "title", "Buyer", "employeeNumber", "42", "employeeNumber", "43")
	if got, want := put(t, w, ann, "", target.CreateFirst), target.Link("uid=ann,ou=Sales,ou=EU,"+targetBase); got != want {
		t.Fatalf("Put link = %q, want %q", got, want)
	}
	e := mustGet(t, c, "uid=ann,ou=Sales,ou=EU,"+targetBase)
	wantValues(t, e, "objectClass", "top", "person", "organizationalPerson", "inetOrgPerson")
	wantValues(t, e, "cn", "Ann Lee")
	wantValues(t, e, "sn", "Lee")
	wantValues(t, e, "givenName", "Ann")
	wantValues(t, e, "mail", "ann@corp.example")
	wantValues(t, e, "telephoneNumber", "+1 555 0100")
	wantValues(t, e, "employeeNumber", "42") // single-valued in the target: the first value
	for _, ou := range []string{"ou=EU," + targetBase, "ou=Sales,ou=EU," + targetBase} {
		wantValues(t, mustGet(t, c, ou), "objectClass", "top", "organizationalUnit")
	}

	// An Active Directory user: CN RDN with a comma, AD attribute names,
	// no sn, below a cn= container.
	lee := user(`CN=Lee\, Bob,CN=Users,`+sourceBase,
		"cn", "Lee, Bob", "sAMAccountName", "blee", "department", "Sales", "company", "Corp",
		"streetAddress", "1 Main St", "employeeID", "E7", "userPrincipalName", "blee@corp.example")
	leeDN := `CN=Lee\, Bob,CN=Users,` + targetBase
	if got := put(t, w, lee, "", target.CreateFirst); string(got) != leeDN {
		t.Fatalf("Put link = %q, want %q", got, leeDN)
	}
	e = mustGet(t, c, leeDN)
	wantValues(t, e, "cn", "Lee, Bob")
	wantValues(t, e, "sn", "Lee, Bob") // sn is required: the cn stands in
	wantValues(t, e, "uid", "blee")
	wantValues(t, e, "departmentNumber", "Sales")
	wantValues(t, e, "o", "Corp")
	wantValues(t, e, "street", "1 Main St")
	wantValues(t, e, "employeeNumber", "E7")
	wantValues(t, mustGet(t, c, "cn=Users,"+targetBase), "objectClass", "top", "organizationalRole")

	// UTF-8, a plus sign, a multi-valued RDN, dc= and o= containers.
	zoe := user(`cn=Zoë Ärger+uid=z\+a,o=Læb,dc=emea,`+sourceBase, "cn", "Zoë Ärger", "uid", "z+a", "sn", "Ärger")
	zoeDN := `cn=Zoë Ärger+uid=z\+a,o=Læb,dc=emea,` + targetBase
	if got := put(t, w, zoe, "", target.CreateFirst); string(got) != zoeDN {
		t.Fatalf("Put link = %q, want %q", got, zoeDN)
	}
	e = mustGet(t, c, zoeDN)
	wantValues(t, e, "cn", "Zoë Ärger")
	wantValues(t, e, "uid", "z+a")
	wantValues(t, mustGet(t, c, "dc=emea,"+targetBase), "objectClass", "top", "domain")
	wantValues(t, mustGet(t, c, "o=Læb,dc=emea,"+targetBase), "objectClass", "top", "organization")

	// A group: members by their re-rooted DN, or by their link.
	g := group("cn=Sales team,ou=Groups,"+sourceBase,
		target.Member{Anchor: "a", DN: "uid=ann,ou=Sales,ou=EU," + sourceBase},
		target.Member{Anchor: "b", DN: `CN=Lee\, Bob,CN=Users,` + sourceBase, Link: leeDN},
		target.Member{Anchor: "z", DN: "uid=zed,ou=Elsewhere,dc=other,dc=example"}) // not below the source base: left out
	g.Attributes["description"] = []string{"Everyone in sales"}
	put(t, w, g, "", target.CreateFirst)
	e = mustGet(t, c, "cn=Sales team,ou=Groups,"+targetBase)
	wantValues(t, e, "objectClass", "top", "groupOfNames")
	wantValues(t, e, "cn", "Sales team")
	wantValues(t, e, "description", "Everyone in sales")
	wantDNs(t, e, "member", "uid=ann,ou=Sales,ou=EU,"+targetBase, leeDN)
}

func TestEmptyGroupHasTheEmptyDNAsMember(t *testing.T) {
	srv, w := newTarget(t)
	c := srv.Conn(t)
	g := group("cn=Nobody,ou=Groups," + sourceBase)
	link := put(t, w, g, "", target.CreateFirst)
	wantValues(t, mustGet(t, c, string(link)), "member", "")

	ann := put(t, w, user("uid=ann,ou=People,"+sourceBase, "uid", "ann"), "", target.CreateFirst)
	g.Members = []target.Member{{Anchor: "a", DN: "uid=ann,ou=People," + sourceBase, Link: string(ann)}}
	put(t, w, g, link, target.CreateFirst)
	wantValues(t, mustGet(t, c, string(link)), "member", string(ann))

	g.Members = nil
	put(t, w, g, link, target.CreateFirst)
	wantValues(t, mustGet(t, c, string(link)), "member", "")
}

func TestUpdateReplacesMappedAttributesAndKeepsOthers(t *testing.T) {
	srv, w := newTarget(t)
	c := srv.Conn(t)
	ann := user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann", "cn", "Ann Lee", "mail", "ann@corp.example", "title", "Buyer", "mobile", "+1 555 0101")
	link := put(t, w, ann, "", target.CreateFirst)
	// An attribute syncguard does not map, set in the target by its admin.
	mod := ldapv3.NewModifyRequest(string(link), nil)
	mod.Replace("userPassword", []string{"{SSHA}kept"})
	if err := c.Modify(mod); err != nil {
		t.Fatal(err)
	}

	ann.Attributes = map[string][]string{"uid": {"ann"}, "cn": {"Ann Lee", "Ann B. Lee"}, "mail": {"ann.lee@corp.example"}, "mobile": {"+1 555 0101"}}
	if got := put(t, w, ann, link, target.CreateFirst); got != link {
		t.Fatalf("Put link = %q, want %q", got, link)
	}
	e := mustGet(t, c, string(link))
	wantValues(t, e, "mail", "ann.lee@corp.example")
	wantValues(t, e, "cn", "Ann Lee", "Ann B. Lee")
	wantValues(t, e, "title")
	wantValues(t, e, "mobile", "+1 555 0101")
	wantValues(t, e, "userPassword", "{SSHA}kept")
}

func TestRenameAndMoveAreOneModifyDN(t *testing.T) {
	srv, w := newTarget(t)
	c := srv.Conn(t)
	ann := user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann", "cn", "Ann Lee", "mail", "ann@corp.example")
	link := put(t, w, ann, "", target.CreateFirst)
	uuid := mustGet(t, c, string(link)).GetAttributeValue("entryUUID")

	steps := []struct {
		name, dn, want string
		attrs          map[string][]string
	}{
		{"rename", "uid=ann.lee,ou=Sales," + sourceBase, "uid=ann.lee,ou=Sales," + targetBase, map[string][]string{"uid": {"ann.lee"}, "cn": {"Ann Lee"}}},
		{"move", "uid=ann.lee,ou=Support,ou=EU," + sourceBase, "uid=ann.lee,ou=Support,ou=EU," + targetBase, map[string][]string{"uid": {"ann.lee"}, "cn": {"Ann Lee"}}},
		{"both", "uid=alee,ou=Sales," + sourceBase, "uid=alee,ou=Sales," + targetBase, map[string][]string{"uid": {"alee"}, "cn": {"Ann Lee"}}},
		// The RDN's attribute type changes: uid stays a value of the entry
		// until the mapping says otherwise.
		{"type", "cn=Ann Lee,ou=Sales," + sourceBase, "cn=Ann Lee,ou=Sales," + targetBase, map[string][]string{"uid": {"alee"}, "cn": {"Ann Lee"}}},
	}
	for _, s := range steps {
		ann.DN, ann.Attributes = s.dn, s.attrs
		got := put(t, w, ann, link, target.CreateFirst)
		if string(got) != s.want {
			t.Fatalf("%s: link = %q, want %q", s.name, got, s.want)
		}
		e := mustGet(t, c, s.want)
		if e.GetAttributeValue("entryUUID") != uuid {
			t.Errorf("%s: entryUUID %s, want %s: the entry was re-created, not moved", s.name, e.GetAttributeValue("entryUUID"), uuid)
		}
		wantValues(t, e, "uid", s.attrs["uid"]...)
		if get(t, c, string(link)) != nil {
			t.Errorf("%s: %s is still there", s.name, link)
		}
		link = got
	}
	if got := search(t, c, "(objectClass=inetOrgPerson)"); len(got) != 1 {
		t.Errorf("users in the target: %q, want one", got)
	}
}

func TestLookFirstMatchesByDNThenByRDN(t *testing.T) {
	srv, w := newTarget(t)
	c := srv.Conn(t)
	add := func(dn string, attrs map[string][]string) string {
		t.Helper()
		for _, ou := range []string{"ou=Sales," + targetBase, "ou=People," + targetBase, "ou=Groups," + targetBase} {
			req := ldapv3.NewAddRequest(ou, nil)
			req.Attribute("objectClass", []string{"organizationalUnit"})
			req.Attribute("ou", []string{strings.TrimPrefix(strings.Split(ou, ",")[0], "ou=")})
			if err := c.Add(req); err != nil && !ldapv3.IsErrorWithCode(err, ldapv3.LDAPResultEntryAlreadyExists) {
				t.Fatal(err)
			}
		}
		req := ldapv3.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := c.Add(req); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
		return mustGet(t, c, dn).GetAttributeValue("entryUUID")
	}
	// Objects syncguard did not create: one at the mapped DN, one
	// elsewhere, a group elsewhere, another kind of entry at a mapped DN.
	annUUID := add("uid=ann,ou=Sales,"+targetBase, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"ann"}, "cn": {"Ann"}, "sn": {"L"}, "telephoneNumber": {"1"}})
	bobUUID := add("uid=bob,ou=People,"+targetBase, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"bob"}, "cn": {"Bob"}, "sn": {"B"}})
	grpUUID := add("cn=Sales team,ou=Groups,"+targetBase, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"Sales team"}, "member": {"uid=x," + targetBase}})
	johnUUID := add("cn=John Smith,ou=People,"+targetBase, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"jsmith"}, "cn": {"John Smith"}, "sn": {"Smith"}})

	ann := user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann", "cn", "Ann Lee", "sn", "Lee", "mail", "ann@corp.example")
	if got := put(t, w, ann, "", target.LookFirst); string(got) != "uid=ann,ou=Sales,"+targetBase {
		t.Fatalf("ann: link %q", got)
	}
	e := mustGet(t, c, "uid=ann,ou=Sales,"+targetBase)
	if e.GetAttributeValue("entryUUID") != annUUID {
		t.Error("ann was created again instead of matched by DN")
	}
	wantValues(t, e, "mail", "ann@corp.example")
	wantValues(t, e, "telephoneNumber")
	wantValues(t, e, "sn", "Lee")

	bob := user("uid=bob,ou=Sales,"+sourceBase, "uid", "bob", "cn", "Bob Ray", "sn", "Ray")
	if got := put(t, w, bob, "", target.LookFirst); string(got) != "uid=bob,ou=Sales,"+targetBase {
		t.Fatalf("bob: link %q", got)
	}
	if mustGet(t, c, "uid=bob,ou=Sales,"+targetBase).GetAttributeValue("entryUUID") != bobUUID {
		t.Error("bob was created again instead of matched by RDN and moved")
	}

	g := group("cn=Sales team,ou=Teams,"+sourceBase, target.Member{DN: "uid=ann,ou=Sales," + sourceBase})
	put(t, w, g, "", target.LookFirst)
	e = mustGet(t, c, "cn=Sales team,ou=Teams,"+targetBase)
	if e.GetAttributeValue("entryUUID") != grpUUID {
		t.Error("the group was created again instead of matched by RDN and moved")
	}
	wantDNs(t, e, "member", "uid=ann,ou=Sales,"+targetBase)

	// Another John Smith (his uid says so) is not the one in the target.
	john2 := user("cn=John Smith,ou=Sales,"+sourceBase, "uid", "jsmith2", "cn", "John Smith")
	put(t, w, john2, "", target.LookFirst)
	if mustGet(t, c, "cn=John Smith,ou=People,"+targetBase).GetAttributeValue("entryUUID") != johnUUID {
		t.Error("the other John Smith was taken over")
	}
	mustGet(t, c, "cn=John Smith,ou=Sales,"+targetBase)

	if got, want := search(t, c, "(objectClass=inetOrgPerson)"), []string{
		"cn=John Smith,ou=People," + targetBase, "cn=John Smith,ou=Sales," + targetBase,
		"uid=ann,ou=Sales," + targetBase, "uid=bob,ou=Sales," + targetBase,
	}; !slices.Equal(got, want) {
		t.Errorf("users = %q, want %q", got, want)
	}

	// Another kind of entry at the mapped DN is not taken over.
	add("uid=eve,ou=Sales,"+targetBase, map[string][]string{"objectClass": {"account"}, "uid": {"eve"}})
	_, err := w.Put(context.Background(), user("uid=eve,ou=Sales,"+sourceBase, "uid", "eve"), "", target.LookFirst)
	var te *target.Error
	if !errors.As(err, &te) || te.Transient || te.Message != "LDAP: uid=eve,ou=Sales,dc=cloud,dc=example exists with objectClass account, not inetOrgPerson: syncguard does not take it over" {
		t.Errorf("another kind of entry: error %v", err)
	}

	// Two candidates: syncguard says so instead of picking one.
	add("uid=dup,ou=People,"+targetBase, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"dup"}, "cn": {"D"}, "sn": {"D"}})
	add("uid=dup,ou=Groups,"+targetBase, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"dup"}, "cn": {"D"}, "sn": {"D"}})
	_, err = w.Put(context.Background(), user("uid=dup,ou=Sales,"+sourceBase, "uid", "dup"), "", target.LookFirst)
	if !errors.As(err, &te) || te.Transient || !strings.Contains(te.Message, "2 entries match") {
		t.Errorf("two candidates: error %v, want a permanent one saying 2 entries match", err)
	}
}

func TestCreateFirstMatchesAnEntryThatExists(t *testing.T) {
	srv, w := newTarget(t)
	c := srv.Conn(t)
	ann := user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann", "cn", "Ann Lee", "title", "Buyer")
	link := put(t, w, ann, "", target.CreateFirst)
	uuid := mustGet(t, c, string(link)).GetAttributeValue("entryUUID")

	// A second create (the exporter restarted after the first went out).
	ann.Attributes["title"] = []string{"Head buyer"}
	if got := put(t, w, ann, "", target.CreateFirst); got != link {
		t.Fatalf("link %q, want %q", got, link)
	}
	e := mustGet(t, c, string(link))
	if e.GetAttributeValue("entryUUID") != uuid {
		t.Error("entry re-created")
	}
	wantValues(t, e, "title", "Head buyer")
}

func TestUpdateOfAMissingEntryCreatesItAgain(t *testing.T) {
	srv, w := newTarget(t)
	c := srv.Conn(t)
	ann := user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann", "cn", "Ann Lee")
	link := put(t, w, ann, "", target.CreateFirst)
	for _, dn := range []string{string(link), "ou=Sales," + targetBase} {
		if err := c.Del(ldapv3.NewDelRequest(dn, nil)); err != nil {
			t.Fatal(err)
		}
	}
	ann.Attributes["mail"] = []string{"ann@corp.example"}
	if got := put(t, w, ann, link, target.CreateFirst); got != link {
		t.Fatalf("link %q, want %q", got, link)
	}
	wantValues(t, mustGet(t, c, string(link)), "mail", "ann@corp.example")

	// Renamed while gone: created at the new DN.
	if err := c.Del(ldapv3.NewDelRequest(string(link), nil)); err != nil {
		t.Fatal(err)
	}
	ann.DN = "uid=ann,ou=Support," + sourceBase
	if got := put(t, w, ann, link, target.CreateFirst); string(got) != "uid=ann,ou=Support,"+targetBase {
		t.Fatalf("link %q", got)
	}
	mustGet(t, c, "uid=ann,ou=Support,"+targetBase)
}

func TestDelete(t *testing.T) {
	srv, w := newTarget(t)
	c := srv.Conn(t)
	link := put(t, w, user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann"), "", target.CreateFirst)
	obj := user("uid=ann,ou=Sales," + sourceBase)
	if err := w.Delete(context.Background(), obj, link); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if get(t, c, string(link)) != nil {
		t.Error("still there after Delete")
	}
	if err := w.Delete(context.Background(), obj, link); err != nil {
		t.Errorf("Delete of a missing entry: %v, want nil", err)
	}
	mustGet(t, c, "ou=Sales,"+targetBase) // syncguard's OUs stay
}

func TestDisableHoldsAndPutRestores(t *testing.T) {
	srv, w := newTarget(t)
	c := srv.Conn(t)
	ctx := context.Background()
	ann := user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann", "cn", "Ann Lee", "mail", "ann@corp.example")
	ann.Anchor = "uuid:5f1c2d3e-0000-4000-8000-000000000001"
	link := put(t, w, ann, "", target.CreateFirst)
	before := mustGet(t, c, string(link))

	held, err := w.Disable(ctx, ann, link)
	if err != nil {
		t.Fatalf("Disable: %v", err)
	}
	heldRoot := "ou=syncguard-held," + targetBase
	if want := "uid=ann,ou=uuid:5f1c2d3e-0000-4000-8000-000000000001," + heldRoot; string(held) != want {
		t.Fatalf("held link %q, want %q", held, want)
	}
	if get(t, c, string(link)) != nil {
		t.Error("still at its place after Disable")
	}
	holder := mustGet(t, c, strings.SplitN(string(held), ",", 2)[1])
	if d := holder.GetAttributeValue("description"); !strings.HasPrefix(d, "held by syncguard since ") || !strings.HasSuffix(d, "; was "+string(link)) {
		t.Errorf("holder description %q", d)
	}
	e := mustGet(t, c, string(held))
	for _, a := range before.Attributes {
		wantValues(t, e, a.Name, a.Values...)
	}
	if again, err := w.Disable(ctx, ann, held); err != nil || again != held {
		t.Errorf("Disable of a held object = %q, %v; want %q", again, err, held)
	}

	// Another object at the same DN is held later: no collision.
	ann2 := user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann", "cn", "Ann Other")
	ann2.Anchor = "uuid:another"
	link2 := put(t, w, ann2, "", target.CreateFirst)
	held2, err := w.Disable(ctx, ann2, link2)
	if err != nil || held2 == held {
		t.Fatalf("second Disable = %q, %v", held2, err)
	}
	if err := w.Delete(ctx, ann2, held2); err != nil { // purged after the hold
		t.Fatal(err)
	}
	if get(t, c, strings.SplitN(string(held2), ",", 2)[1]) != nil {
		t.Error("the purged object's holder is left behind")
	}

	// Restore: Put with the held link puts it back as it was.
	if got := put(t, w, ann, held, target.CreateFirst); got != link {
		t.Fatalf("restored link %q, want %q", got, link)
	}
	e = mustGet(t, c, string(link))
	for _, a := range before.Attributes {
		wantValues(t, e, a.Name, a.Values...)
	}
	if got := search(t, c, "(objectClass=*)"); !slices.Equal(got, []string{targetBase, "ou=Sales," + targetBase, heldRoot, "uid=ann,ou=Sales," + targetBase}) {
		t.Errorf("target after restore: %q", got)
	}

	// Held, then put back by matching alone (the link was lost).
	held, err = w.Disable(ctx, ann, link)
	if err != nil {
		t.Fatal(err)
	}
	if got := put(t, w, ann, "", target.LookFirst); got != link {
		t.Fatalf("matched link %q, want %q", got, link)
	}
	if mustGet(t, c, string(link)).GetAttributeValue("entryUUID") != before.GetAttributeValue("entryUUID") {
		t.Error("restored by matching: entry re-created")
	}

	// Disable of an object that is gone: nothing held.
	if err := c.Del(ldapv3.NewDelRequest(string(link), nil)); err != nil {
		t.Fatal(err)
	}
	if got, err := w.Disable(ctx, ann, link); err != nil || got != "" {
		t.Errorf("Disable of a missing entry = %q, %v; want \"\", nil", got, err)
	}
	if got := search(t, c, "(objectClass=*)"); !slices.Equal(got, []string{targetBase, "ou=Sales," + targetBase, heldRoot}) {
		t.Errorf("target after holding nothing: %q", got)
	}
}

func TestConcurrentPutsCreateEachParentOnce(t *testing.T) {
	srv, w := newTarget(t, func(c *Config) { c.Concurrency = 16 })
	c := srv.Conn(t)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			obj := user(fmt.Sprintf("uid=u%d,ou=Team%d,ou=Dept%d,%s", i, i%5, i%2, sourceBase), "uid", fmt.Sprint("u", i))
			if _, err := w.Put(context.Background(), obj, "", target.CreateFirst); err != nil {
				errs <- fmt.Errorf("%s: %w", obj.DN, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := search(t, c, "(objectClass=inetOrgPerson)"); len(got) != n {
		t.Errorf("%d users, want %d", len(got), n)
	}
	if got := search(t, c, "(objectClass=organizationalUnit)"); len(got) != 2+5*2 {
		t.Errorf("OUs %q, want 12", got)
	}
}
