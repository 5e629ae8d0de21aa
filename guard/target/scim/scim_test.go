package scim_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/syncguard/syncguard/guard/target"
	"github.com/syncguard/syncguard/guard/target/scim"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
)

// newWriter returns a Writer for srv, changed by each of mods.
func newWriter(t *testing.T, srv *scimtest.Server, mods ...func(*scim.Config)) *scim.Writer {
	t.Helper()
	cfg := scim.Config{URL: srv.URL, Token: srv.Token}
	for _, m := range mods {
		m(&cfg)
	}
	w, err := scim.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// person is an OpenLDAP user.
func person(anchor, uid string) *target.Object {
	return &target.Object{
		Anchor: anchor, Type: target.TypeUser, Name: uid, Enabled: true,
		DN: "uid=" + uid + ",ou=People,dc=example,dc=org",
		Attributes: map[string][]string{
			"uid": {uid}, "mail": {uid + "@example.org"}, "givenName": {"Given " + uid},
			"sn": {"Family"}, "cn": {"Given " + uid + " Family"},
		},
	}
}

func group(anchor, name string, members ...string) *target.Object {
	g := &target.Object{Anchor: anchor, Type: target.TypeGroup, Name: name, Attributes: map[string][]string{"cn": {name}}}
	for _, m := range members {
		g.Members = append(g.Members, target.Member{Anchor: "anchor-of-" + m, Link: m})
	}
	return g
}

// put calls w.Put and fails the test on an error.
func put(t *testing.T, w *scim.Writer, obj *target.Object, link target.Link, find target.Find) target.Link {
	t.Helper()
	got, err := w.Put(context.Background(), obj, link, find)
	if err != nil {
		t.Fatalf("Put(%s, %q): %v", obj.Anchor, link, err)
	}
	return got
}

// targetError returns err as a *target.Error, failing the test otherwise.
func targetError(t *testing.T, err error) *target.Error {
	t.Helper()
	var te *target.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a *target.Error", err, err)
	}
	return te
}

func TestPutCreatesUser(t *testing.T) {
	for _, find := range []target.Find{target.CreateFirst, target.LookFirst} {
		t.Run(fmt.Sprint("LookFirst=", find), func(t *testing.T) {
			srv := scimtest.Start(t, scimtest.Options{})
			w := newWriter(t, srv)
			link := put(t, w, person("uuid:ann", "ann"), "", find)
			u, ok := srv.UserByExternalID("uuid:ann")
			if !ok || target.Link(u.ID) != link {
				t.Fatalf("user with externalId uuid:ann = %+v (%v), want id %q", u, ok, link)
			}
			want := scimtest.User{
				ID: u.ID, ExternalID: "uuid:ann", UserName: "ann@example.org",
				GivenName: "Given ann", FamilyName: "Family", FormattedName: "Given ann Family",
				DisplayName: "ann", Active: true,
				Emails: []scimtest.Email{{Value: "ann@example.org", Type: "work", Primary: true}},
			}
			if fmt.Sprint(u) != fmt.Sprint(want) {
				t.Errorf("user = %+v\nwant   %+v", u, want)
			}
			if got := srv.Requests("POST", "/Users"); got != 1 {
				t.Errorf("POST /Users = %d, want 1", got)
			}
		})
	}
}

func TestLookFirstMatches(t *testing.T) {
	tests := []struct {
		name     string
		existing scimtest.User
	}{
		{"by externalId", scimtest.User{ID: "u-1", ExternalID: "uuid:ann", UserName: "old-name", Active: true}},
		{"by userName", scimtest.User{ID: "u-1", UserName: "ANN@example.org", DisplayName: "Ann by hand"}},
		{"by userName with quotes", scimtest.User{ID: "u-1", UserName: `o"brien\ann`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := scimtest.Start(t, scimtest.Options{Users: []scimtest.User{tt.existing, {UserName: "someone-else"}}})
			w := newWriter(t, srv)
			obj := person("uuid:ann", "ann")
			if strings.Contains(tt.name, "quotes") {
				obj.Attributes["mail"] = []string{`o"brien\ann`}
			}
			for range 2 { // a second look (a retry) finds it again
				if link := put(t, w, obj, "", target.LookFirst); link != "u-1" {
					t.Fatalf("Put link = %q, want the existing u-1", link)
				}
			}
			if got := srv.Requests("POST", ""); got != 0 {
				t.Errorf("POST requests = %d, want 0 (matched, never created)", got)
			}
			u, _ := srv.User("u-1")
			if u.ExternalID != "uuid:ann" || u.GivenName != "Given ann" || !u.Active || len(srv.Users()) != 2 {
				t.Errorf("matched user = %+v (of %d users), want it updated with externalId uuid:ann", u, len(srv.Users()))
			}
		})
	}
}

func TestLookFirstLeavesOthersAlone(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{Users: []scimtest.User{{ID: "u-1", ExternalID: "guid:other", UserName: "ann@example.org"}}})
	w := newWriter(t, srv)
	for _, find := range []target.Find{target.LookFirst, target.CreateFirst} {
		_, err := w.Put(context.Background(), person("uuid:ann", "ann"), "", find)
		te := targetError(t, err)
		if te.Transient || !strings.Contains(te.Message, `userName "ann@example.org" already exists for another object`) {
			t.Errorf("find %v: error = %+v, want permanent: taken by another object", find, te)
		}
	}
	if u, _ := srv.User("u-1"); u.ExternalID != "guid:other" || srv.Requests("PATCH", "") != 0 {
		t.Errorf("the other object was changed: %+v", u)
	}
}

func TestCreateFirstConflictMatches(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{Users: []scimtest.User{{ID: "u-1", UserName: "ann@example.org"}}})
	w := newWriter(t, srv)
	link := put(t, w, person("uuid:ann", "ann"), "", target.CreateFirst)
	if link != "u-1" {
		t.Errorf("link = %q, want the existing u-1", link)
	}
	if got, want := srv.Requests("POST", "/Users"), 1; got != want {
		t.Errorf("POST = %d, want %d", got, want)
	}
	if users := srv.Users(); len(users) != 1 || users[0].ExternalID != "uuid:ann" || !users[0].Active {
		t.Errorf("users = %+v, want u-1 matched and updated", users)
	}
}

func TestUpdate(t *testing.T) {
	for _, noPatch := range []bool{false, true} {
		t.Run(fmt.Sprint("NoPatch=", noPatch), func(t *testing.T) {
			srv := scimtest.Start(t, scimtest.Options{NoPatch: noPatch})
			w := newWriter(t, srv)
			obj := person("uuid:ann", "ann")
			link := put(t, w, obj, "", target.CreateFirst)

			obj.Attributes["mail"] = []string{"ann.lee@example.org", "ann@example.com"}
			obj.Attributes["displayName"] = []string{"Ann Lee"}
			delete(obj.Attributes, "givenName")
			if got := put(t, w, obj, link, target.CreateFirst); got != link {
				t.Errorf("update link = %q, want %q", got, link)
			}
			u, _ := srv.User(string(link))
			wantEmails := []scimtest.Email{{Value: "ann.lee@example.org", Type: "work", Primary: true}, {Value: "ann@example.com", Type: "work"}}
			if u.UserName != "ann.lee@example.org" || u.DisplayName != "Ann Lee" || u.GivenName != "" ||
				fmt.Sprint(u.Emails) != fmt.Sprint(wantEmails) {
				t.Errorf("updated user = %+v", u)
			}
			patches, puts := srv.Requests("PATCH", "/Users"), srv.Requests("PUT", "/Users")
			if noPatch && (patches != 0 || puts != 1) || !noPatch && (patches != 1 || puts != 0) {
				t.Errorf("PATCH = %d, PUT = %d; want only %s", patches, puts, map[bool]string{false: "PATCH", true: "PUT"}[noPatch])
			}
			put(t, w, obj, link, target.CreateFirst)
			if got := srv.Requests("GET", "/ServiceProviderConfig"); got != 1 {
				t.Errorf("ServiceProviderConfig read %d times, want once", got)
			}
		})
	}
}

func TestUpdateOfGoneObjectRecreates(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{})
	w := newWriter(t, srv)
	obj := person("uuid:ann", "ann")
	link := put(t, w, obj, "", target.CreateFirst)
	if !srv.Remove(string(link)) {
		t.Fatal("could not remove the user behind the writer's back")
	}
	again := put(t, w, obj, link, target.CreateFirst)
	if again == link || again == "" {
		t.Errorf("link after re-creation = %q, want a new one (was %q)", again, link)
	}
	if u, ok := srv.UserByExternalID("uuid:ann"); !ok || target.Link(u.ID) != again || len(srv.Users()) != 1 {
		t.Errorf("users = %+v, want one, re-created as %q", srv.Users(), again)
	}
}

func TestDelete(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{})
	w := newWriter(t, srv)
	ann, bob := person("uuid:ann", "ann"), person("uuid:bob", "bob")
	annLink := put(t, w, ann, "", target.CreateFirst)
	put(t, w, bob, "", target.CreateFirst)
	ctx := context.Background()
	if err := w.Delete(ctx, ann, annLink); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := w.Delete(ctx, ann, annLink); err != nil {
		t.Errorf("Delete of a deleted user (404): %v, want success", err)
	}
	if err := w.Delete(ctx, bob, ""); err != nil { // no link: found by externalId
		t.Errorf("Delete without link: %v", err)
	}
	if users := srv.Users(); len(users) != 0 {
		t.Errorf("users left = %+v, want none", users)
	}
	if got := srv.Requests("DELETE", "/Users"); got != 3 {
		t.Errorf("DELETE requests = %d, want 3", got)
	}
}

func TestDisableAndRestore(t *testing.T) {
	for _, noPatch := range []bool{false, true} {
		t.Run(fmt.Sprint("NoPatch=", noPatch), func(t *testing.T) {
			srv := scimtest.Start(t, scimtest.Options{NoPatch: noPatch})
			w := newWriter(t, srv)
			ctx := context.Background()
			ann := person("uuid:ann", "ann")
			annLink := put(t, w, ann, "", target.CreateFirst)
			staff := group("uuid:staff", "Staff", string(annLink))
			staffLink := put(t, w, staff, "", target.CreateFirst)

			if got, err := w.Disable(ctx, ann, annLink); err != nil || got != annLink {
				t.Fatalf("Disable user = %q, %v; want %q", got, err, annLink)
			}
			if got, err := w.Disable(ctx, staff, staffLink); err != nil || got != staffLink {
				t.Fatalf("Disable group = %q, %v; want %q", got, err, staffLink)
			}
			u, _ := srv.User(string(annLink))
			g, kept := srv.Group(string(staffLink))
			if u.Active || u.UserName != "ann@example.org" || u.GivenName != "Given ann" || !kept || len(g.Members) != 0 {
				t.Fatalf("held: user %+v, group %+v (kept %v); want ann inactive and otherwise intact, Staff kept without members", u, g, kept)
			}

			put(t, w, ann, annLink, target.CreateFirst)
			put(t, w, staff, staffLink, target.CreateFirst)
			u, _ = srv.User(string(annLink))
			g, _ = srv.Group(string(staffLink))
			if !u.Active || len(g.Members) != 1 || g.Members[0] != string(annLink) {
				t.Errorf("restored: user %+v, group %+v; want ann active, Staff with ann", u, g)
			}

			// An object gone from the service has nothing to hold.
			srv.Remove(string(annLink))
			if got, err := w.Disable(ctx, ann, annLink); err != nil || got != "" {
				t.Errorf("Disable of a gone user = %q, %v; want \"\", nil", got, err)
			}
		})
	}
}

func TestGroupMembersBySCIMID(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{})
	w := newWriter(t, srv)
	ann := put(t, w, person("uuid:ann", "ann"), "", target.CreateFirst)
	bob := put(t, w, person("uuid:bob", "bob"), "", target.CreateFirst)
	staff := group("uuid:staff", "Staff", string(ann), string(bob), "")
	staff.Attributes["displayName"] = []string{"All staff"}
	link := put(t, w, staff, "", target.LookFirst)
	g, _ := srv.Group(string(link))
	if g.DisplayName != "All staff" || g.ExternalID != "uuid:staff" || strings.Join(g.Members, ",") != string(ann)+","+string(bob) {
		t.Errorf("group = %+v, want All staff with ann and bob (the member without a link left out)", g)
	}
	staff.Members = staff.Members[1:]
	put(t, w, staff, link, target.LookFirst)
	if g, _ := srv.Group(string(link)); strings.Join(g.Members, ",") != string(bob) {
		t.Errorf("members after ann left = %v, want bob only", g.Members)
	}
}

func TestGroupMatchesByDisplayName(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{Groups: []scimtest.Group{{ID: "g-1", DisplayName: "staff"}}})
	w := newWriter(t, srv)
	if link := put(t, w, group("uuid:staff", "Staff"), "", target.LookFirst); link != "g-1" {
		t.Errorf("link = %q, want the existing g-1", link)
	}
	if g, _ := srv.Group("g-1"); g.ExternalID != "uuid:staff" || srv.Requests("POST", "") != 0 {
		t.Errorf("group = %+v, want g-1 matched (externalId set), nothing created", g)
	}
}

func TestConcurrentPuts(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{})
	w := newWriter(t, srv)
	const workers, each = 8, 25
	links := make([][]target.Link, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Go(func() {
			for j := range each {
				obj := person(fmt.Sprintf("uuid:%d-%d", i, j), fmt.Sprintf("u%d-%d", i, j))
				link, err := w.Put(context.Background(), obj, "", target.Find(j%2 == 0))
				if err == nil {
					obj.Enabled = false
					link, err = w.Put(context.Background(), obj, link, target.CreateFirst)
				}
				if err != nil {
					errs <- err
					return
				}
				links[i] = append(links[i], link)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	users := srv.Users()
	if len(users) != workers*each {
		t.Fatalf("users = %d, want %d", len(users), workers*each)
	}
	for _, u := range users {
		if u.Active {
			t.Errorf("user %s still active after its update", u.UserName)
		}
	}
	if got := srv.Requests("GET", "/ServiceProviderConfig"); got != 1 {
		t.Errorf("ServiceProviderConfig read %d times by concurrent calls, want once", got)
	}
}

func TestTest(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{Users: []scimtest.User{{UserName: "a"}, {UserName: "b"}}, Groups: []scimtest.Group{{DisplayName: "g"}}})
	got, err := newWriter(t, srv).Test(context.Background())
	if want := "PATCH supported, 2 users, 1 groups"; err != nil || !strings.HasPrefix(got, "SCIM 2.0 service at 127.0.0.1:") || !strings.HasSuffix(got, want) {
		t.Errorf("Test = %q, %v; want …%s", got, err, want)
	}
	srv = scimtest.Start(t, scimtest.Options{NoPatch: true})
	if got, err := newWriter(t, srv).Test(context.Background()); err != nil || !strings.Contains(got, "no PATCH (updates are PUT), 0 users") {
		t.Errorf("Test without PATCH = %q, %v", got, err)
	}
}

func TestWrongToken(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{Token: "the-right-token"})
	const wrong = "s3cret-wrong-token"
	w := newWriter(t, srv, func(c *scim.Config) { c.Token = wrong + "\n" })
	_, err := w.Put(context.Background(), person("uuid:ann", "ann"), "", target.CreateFirst)
	te := targetError(t, err)
	if te.Transient || te.Message != "SCIM 401: the bearer token is not valid" {
		t.Errorf("Put with a wrong token: %+v, want permanent SCIM 401", te)
	}
	_, err = w.Test(context.Background())
	te = targetError(t, err)
	if !strings.HasPrefix(te.Message, "SCIM 401: ") || !strings.Contains(te.Message, "check the token file") {
		t.Errorf("Test with a wrong token: %q", te.Message)
	}
	// A service that echoes the token does not get it into a message.
	srv.FailNext(1, "", "", scimtest.Fault{Status: 400, Detail: "token " + wrong + " looks odd"})
	_, err = w.Put(context.Background(), person("uuid:ann", "ann"), "", target.CreateFirst)
	for _, e := range []error{err, targetError(t, err).Err} {
		if strings.Contains(e.Error(), wrong) {
			t.Errorf("message %q shows the token", e.Error())
		}
	}
}

func TestNewRefuses(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cfg  scim.Config
		want string // in the error; "" for success
	}{
		{scim.Config{URL: "scim+http://scim.example.org/scim/v2", Token: "t"}, "only to a loopback address"},
		{scim.Config{URL: "scim+http://10.0.0.1/scim", Token: "t"}, "only to a loopback address"},
		{scim.Config{URL: "scim+http://127.0.0.1:8080/scim", Token: "t"}, ""},
		{scim.Config{URL: "scim+http://[::1]:8080/scim", Token: "t"}, ""},
		{scim.Config{URL: "scim+http://localhost/scim", Token: "t"}, ""},
		{scim.Config{URL: "scim+https://scim.example.org/scim/v2/", Token: "t"}, ""},
		{scim.Config{URL: "https://scim.example.org/scim/v2", Token: "t"}, "want scim+https://"},
		{scim.Config{URL: "scim+https://user:pw@scim.example.org/", Token: "t"}, "carries credentials"},
		{scim.Config{URL: "scim+https://scim.example.org/", Token: " \n"}, "no bearer token"},
		{scim.Config{URL: "scim+https://scim.example.org/", Token: "t", CAFile: ca}, "holds no PEM certificate"},
		{scim.Config{URL: "scim+https://scim.example.org/", Token: "t", Concurrency: 1000}, "not between 1 and 64"},
	}
	for _, tt := range tests {
		w, err := scim.New(tt.cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("New(%s): %v", tt.cfg.URL, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("New(%s) = %v, want an error saying %q", tt.cfg.URL, err, tt.want)
		case err == nil && w.Concurrency() != scim.DefaultConcurrency:
			t.Errorf("Concurrency = %d, want the default %d", w.Concurrency(), scim.DefaultConcurrency)
		}
	}
}

func TestTLS(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{TLS: true})
	_, err := newWriter(t, srv).Test(context.Background())
	if te := targetError(t, err); te.Transient || !strings.HasPrefix(te.Message, "SCIM TLS: the certificate of 127.0.0.1:") {
		t.Errorf("untrusted certificate: %+v, want a permanent TLS error", te)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, srv, func(c *scim.Config) { c.CAFile = ca })
	if got, err := w.Test(context.Background()); err != nil || !strings.Contains(got, "PATCH supported") {
		t.Errorf("Test with the CA file = %q, %v", got, err)
	}
}
