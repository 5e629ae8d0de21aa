package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
	"github.com/syncguard/syncguard/store"
)

// setTarget points the env's configuration at a SCIM service.
func (e *env) setTarget(srv *scimtest.Server) {
	e.t.Helper()
	if err := e.Store.SetTarget(e.t.Context(), &store.Target{ConfigID: e.ConfigID, URL: srv.URL, Token: srv.Token}, "test"); err != nil {
		e.t.Fatal(err)
	}
}

// TestTargetPane: the Target pane says where the configuration exports
// and how its exports stand, linking the counts to the log; an admin's
// Test connection shows the target's answer on the page; a viewer has no
// button and is refused; a configuration without a target says so.
func TestTargetPane(t *testing.T) {
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	p := admin.get(e.path(""))
	if got := p.prop("#target-heading + dl, section[aria-labelledby=target-heading] dl", "Kind"); got != "None: the target directory copy only" {
		t.Errorf("Kind without a target = %q", got)
	}
	if p.hasControl("Test connection") {
		t.Error("Test connection offered without a target")
	}

	srv := scimtest.Start(t, scimtest.Options{})
	e.setTarget(srv)
	e.runCycle() // the copy goes to the new target: 62 pending
	p = admin.get(e.path(""))
	pane := "section[aria-labelledby=target-heading]"
	for name, want := range map[string]string{"Kind": "SCIM 2.0 service", "URL": srv.URL, "Pending exports": "62",
		"Failed exports": "0", "Last export": "never"} {
		if got := p.prop(pane, name); got != want {
			t.Errorf("Target pane %s = %q, want %q", name, got, want)
		}
	}
	if href, _ := p.link("Pending exports: 62").Attr("href"); href != e.path("")+"/logs?status=Pending" {
		t.Errorf("the pending count links to %q", href)
	}
	logs := admin.get(e.path("") + "/logs?status=Pending")
	if n := len(logs.rows("table")); n != 50 {
		t.Errorf("the log filtered on Pending shows %d rows, want a first page of 50", n)
	}

	p = admin.follow(admin.submit(p, "Test connection", nil))
	if got := p.flash(); !strings.HasPrefix(got, "Test connection: SCIM 2.0 service at "+srv.HTTPURL[len("http://"):strings.Index(srv.HTTPURL, "/scim")]) {
		t.Errorf("Test connection says %q", got)
	}
	srv.Close()
	p = admin.follow(admin.submit(admin.get(e.path("")), "Test connection", nil))
	if got := p.flash(); !strings.HasPrefix(got, "Test connection failed: SCIM") {
		t.Errorf("Test connection with the service down says %q", got)
	}
	if p = admin.post(e.path("")+"/target/test", url.Values{}); p.Status != http.StatusForbidden && p.Status != http.StatusBadRequest {
		t.Errorf("Test connection without a CSRF token: %d", p.Status)
	}

	viewer := e.signIn(store.RoleViewer)
	if viewer.get(e.path("")).hasControl("Test connection") {
		t.Error("a viewer is offered Test connection")
	}
	if p := viewer.post(e.path("")+"/target/test", url.Values{"_csrf": {viewer.token()}}); p.Status != http.StatusForbidden {
		t.Errorf("a viewer's Test connection: %d, want 403", p.Status)
	}
}

// TestTargetUnreachableStatus: exports waiting on a target that fails
// transiently show as Target unreachable (amber, since when, the last
// error) in the list, on the configuration and on the status info; the
// last cycle is still Succeeded.
func TestTargetUnreachableStatus(t *testing.T) {
	e := newTestServer(t)
	srv := scimtest.Start(t, scimtest.Options{})
	srv.FailNext(10, "", "", scimtest.Fault{Status: http.StatusServiceUnavailable, Detail: "down for <maintenance>"})
	e.setTarget(srv)
	e.runCycle()
	x := &guard.Exporter{Store: e.Store}
	defer x.Close()
	if p, err := x.Export(t.Context(), e.ConfigID); err != nil || p.RetryAt.IsZero() {
		t.Fatalf("Export = %+v, %v; want it stopped by the 503", p, err)
	}
	m, err := e.Store.Metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if g := m.Configurations[0].Gauges; g["exports_pending"] != 62 || g["target_unreachable"] != 1 || g["exports_failed"] != 0 {
		t.Errorf("metrics of the queue = %v, want 62 pending and the target unreachable", g)
	}
	admin := e.signIn(store.RoleAdmin)
	for _, path := range []string{"/configurations", e.path(""), e.path("") + "/status"} {
		p := admin.get(path)
		badge := p.Doc.Find(".badge-warn").First()
		text := squash(badge.Parent().Text())
		if squash(badge.Text()) != "Target unreachable" || !strings.Contains(text, "since ") ||
			!strings.Contains(text, "SCIM 503: down for <maintenance>") {
			t.Errorf("%s: status reads %q", path, text)
		}
	}
}

const (
	cloudBase   = "dc=cloud,dc=example"
	cloudSecret = "Cloud-Secret-777"
	scimToken   = "Scim-Token-4242-secret"
)

// ldapTargetEntries counts the users and groups below the target base of
// srv with a plain search.
func ldapTargetEntries(t *testing.T, srv *slapdtest.Server) int {
	t.Helper()
	res, err := srv.Conn(t).Search(ldap.NewSearchRequest(cloudBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))", []string{"1.1"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Entries)
}

// export waits for the cycles the portal started, then sends the export
// queue of a configuration as serve's exporter would, until nothing is
// left pending.
func (e *env) export(configID int64) {
	e.t.Helper()
	e.waitCycles()
	x := &guard.Exporter{Store: e.Store}
	defer x.Close()
	d, err := x.Drain(e.t.Context(), configID, 30*time.Second)
	if err != nil || d.Pending != 0 {
		e.t.Fatalf("export: %+v, %v", d, err)
	}
}

// target is the configuration's target as saved.
func (e *env) target() *store.Target {
	e.t.Helper()
	t, err := e.Store.Target(e.t.Context(), e.ConfigID)
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

// ldapTargetFields are Edit Target's fields for an LDAP target, by label.
func ldapTargetFields(url, password string) map[string]string {
	return map[string]string{"Kind of target": "ldap", "Target URL": url, "Target base DN": cloudBase,
		"Target bind DN": "cn=admin," + cloudBase, "Target bind password": password}
}

// Edit Target through the real stack, from none to a slapd, then to a
// SCIM service, then to none: a target that refuses the credentials is
// not saved and its words are on the page, with every value typed kept
// (the secrets only on the server); an empty password or token keeps the
// one kept; a new destination is confirmed first, saying what happens to
// what was exported, and its first cycle exports the whole copy.
func TestEditTarget(t *testing.T) {
	t.Parallel()
	slapd := slapdtest.Start(t, slapdtest.Options{Suffix: cloudBase, RootPW: cloudSecret})
	scim := scimtest.Start(t, scimtest.Options{Token: scimToken})
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	edit := admin.click(admin.get(e.path("")), "Edit Target")
	edit.wantStatus(http.StatusOK)
	if got := edit.byLabel("Kind of target").Find("option[selected]").AttrOr("value", ""); got != "none" {
		t.Errorf("Kind of target = %q, want none", got)
	}
	before := e.snapshot()

	// Bad input: a message by each field, every value kept, nothing saved.
	bad := map[string]string{"Kind of target": "ldap", "Target URL": "ftp://dir.example", "Target base DN": "not a DN",
		"Target bind DN": "cn=admin," + cloudBase, "Target bind password": "typed-then-refused"}
	res := admin.submit(edit, "Save", bad)
	res.wantStatus(http.StatusUnprocessableEntity)
	for label, want := range map[string]string{"Target URL": "not the address of an LDAP directory", "Target base DN": "This is not a DN"} {
		if msgs := res.describedBy(res.byLabel(label)); len(msgs) < 2 || !strings.Contains(msgs[1].Text(), want) {
			t.Errorf("no message %q by %s", want, label)
		}
		if got := res.byLabel(label).AttrOr("value", ""); got != bad[label] {
			t.Errorf("%s not kept: %q", label, got)
		}
	}
	noSecret(t, res, "typed-then-refused")

	// The wrong password: the directory's words, nothing saved.
	res = admin.submit(res, "Save", ldapTargetFields(slapd.URL, "not the password"))
	res.wantStatus(http.StatusUnprocessableEntity)
	wantTexts(t, res, "Could not connect to the target", "LDAP 49", "nvalid credentials")
	e.assertUnchanged(before, "a refused Edit Target")
	if !e.target().None() {
		t.Fatal("a target that refused the password was saved")
	}

	// The right one, tested; then Save with the field empty: the password
	// typed is kept by the server, never in the page.
	res = admin.submit(res, "Test connection", ldapTargetFields(slapd.URL, cloudSecret))
	res.wantStatus(http.StatusOK)
	wantTexts(t, res, "Connected to "+slapd.URL, "LDAP ok: bound as cn=admin,"+cloudBase)
	noSecret(t, res, cloudSecret)
	res = admin.submit(res, "Save", map[string]string{"Target bind password": ""})
	res.wantStatus(http.StatusOK)
	wantTexts(t, res, "This change points syncguard at another directory", "target: none → "+slapd.URL,
		"exports the whole target directory copy, 60 users and 2 groups, to "+slapd.URL, "Saving starts that cycle at once")
	e.assertUnchanged(before, "a target change not yet confirmed")
	res = admin.submit(res, "Save target", nil)
	res.wantRedirect(e.path(""))
	if got := admin.follow(res).flash(); got != "Target saved. A cycle has started: it exports the whole copy to "+slapd.URL+"." {
		t.Errorf("flash = %q", got)
	}
	if tg := e.target(); tg.URL != slapd.URL || tg.BaseDN != cloudBase || tg.BindPassword != cloudSecret {
		t.Errorf("saved %+v", tg)
	}
	if ev := e.audit()[0]; ev.Action != "Edited Target" || ev.Actor != "alice" || !strings.Contains(ev.Details, "target: none → "+slapd.URL) ||
		strings.Contains(ev.Details, cloudSecret) {
		t.Errorf("audit: %+v", ev)
	}
	e.export(e.ConfigID)
	if n := ldapTargetEntries(t, slapd); n != testUsers+testGroups {
		t.Errorf("the directory holds %d users and groups, want %d", n, testUsers+testGroups)
	}

	// The password left empty keeps the one saved: Test connection binds
	// with it, and Save changes nothing.
	edit = admin.click(admin.get(e.path("")), "Edit Target")
	noSecret(t, edit, cloudSecret)
	if hint := squash(edit.describedBy(edit.byLabel("Target bind password"))[0].Text()); !strings.Contains(hint, "A password is kept") {
		t.Errorf("the password field does not say one is kept: %q", hint)
	}
	wantTexts(t, admin.submit(edit, "Test connection", nil), "LDAP ok: bound as cn=admin,"+cloudBase)
	res = admin.submit(edit, "Save", nil)
	res.wantRedirect(e.path(""))
	if got := admin.follow(res).flash(); got != "Nothing changed." {
		t.Errorf("Save of the same settings: %q", got)
	}
	if got := e.target().BindPassword; got != cloudSecret {
		t.Errorf("the password after a Save without one: %q", got)
	}

	// LDAP → SCIM: the wrong token is the service's to refuse; the right
	// one, as the service's https-less base URL, is confirmed and exported.
	scimFields := map[string]string{"Kind of target": "scim", "Target URL": strings.TrimPrefix(scim.URL, "scim+"), "Bearer token": "wrong-token"}
	res = admin.submit(admin.click(admin.get(e.path("")), "Edit Target"), "Save", scimFields)
	res.wantStatus(http.StatusUnprocessableEntity)
	wantTexts(t, res, "Could not connect to the target", "SCIM 401")
	scimFields["Bearer token"] = scimToken
	res = admin.submit(res, "Save", scimFields)
	res.wantStatus(http.StatusOK)
	wantTexts(t, res, "target: "+slapd.URL+" → "+scim.URL, "What syncguard exported to "+slapd.URL+" stays there as it is")
	noSecret(t, res, scimToken)
	admin.follow(admin.submit(res, "Save target", nil))
	e.export(e.ConfigID)
	if u, g := len(scim.Users()), len(scim.Groups()); u != testUsers || g != testGroups {
		t.Errorf("the SCIM service holds %d users and %d groups, want %d and %d", u, g, testUsers, testGroups)
	}
	if n := ldapTargetEntries(t, slapd); n != testUsers+testGroups {
		t.Errorf("the old directory holds %d users and groups after the switch, want them all kept", n)
	}

	// SCIM → none.
	res = admin.submit(admin.click(admin.get(e.path("")), "Edit Target"), "Save", map[string]string{"Kind of target": "none"})
	wantTexts(t, res, "This change stops the exports", "target: "+scim.URL+" → none", "Nothing is exported any more")
	page := admin.follow(admin.submit(res, "Save target", nil))
	if got := page.flash(); !strings.HasPrefix(got, "Target removed") {
		t.Errorf("flash = %q", got)
	}
	if got := page.prop("section[aria-labelledby=target-heading]", "Kind"); got != "None: the target directory copy only" {
		t.Errorf("Kind after removing the target = %q", got)
	}
	if !e.target().None() || len(scim.Users()) != testUsers {
		t.Errorf("after removing the target: %+v, %d users left in the service", e.target(), len(scim.Users()))
	}
}

// New configuration with a SCIM target: the Target step refuses a token
// the service refuses, in its words; Back and forth keeps what was typed
// (the token on the server only); Test connection answers; the summary
// names the target; Create configuration saves both at once, and its
// first cycle ends Healthy with every object in the service.
func TestNewConfigurationWithTarget(t *testing.T) {
	t.Parallel()
	scim := scimtest.Start(t, scimtest.Options{Token: scimToken})
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	e.drafter = admin
	step := admin.get(wizardPath(e, "target"))
	step.wantStatus(http.StatusOK)
	name := fmt.Sprintf("new%d", e.spares) // sourceStep named it
	wantTexts(t, step, "3. Target", "4. Basics and schedule")

	fields := map[string]string{"Kind of target": "scim", "Target URL": strings.TrimPrefix(scim.URL, "scim+"), "Bearer token": "wrong-token"}
	res := admin.submit(step, "Next", fields)
	res.wantStatus(http.StatusUnprocessableEntity)
	wantTexts(t, res, "Could not connect to the target", "SCIM 401: the bearer token is not valid")
	noSecret(t, res, "wrong-token")
	scope := admin.follow(admin.submit(res, "Back", nil))
	wantTexts(t, scope, "In scope")
	step = admin.follow(admin.submit(scope, "Next", nil))
	if got := step.byLabel("Target URL").AttrOr("value", ""); got != fields["Target URL"] {
		t.Errorf("the target URL after Back and Next: %q", got)
	}
	if got := step.byLabel("Kind of target").Find("option[selected]").AttrOr("value", ""); got != "scim" {
		t.Errorf("the kind after Back and Next: %q", got)
	}
	if hint := squash(step.describedBy(step.byLabel("Bearer token"))[0].Text()); !strings.Contains(hint, "A token is kept") {
		t.Errorf("the token field does not say one is kept: %q", hint)
	}
	res = admin.submit(step, "Test connection", map[string]string{"Bearer token": scimToken})
	res.wantStatus(http.StatusOK)
	wantTexts(t, res, "Connected to "+scim.URL, "PATCH supported, 0 users, 0 groups")
	noSecret(t, res, scimToken)
	basics := admin.follow(admin.submit(res, "Next", nil))
	if got := basics.prop("main", "Target"); got != scim.URL {
		t.Errorf("summary: target %q", got)
	}
	res = admin.submit(basics, "Create configuration", nil)
	cfg, err := e.Store.ConfigurationByName(t.Context(), name)
	if err != nil {
		t.Fatalf("not created: %v (%d %s)", err, res.Status, excerpt(res))
	}
	if tg, err := e.Store.Target(t.Context(), cfg.ID); err != nil || tg.URL != scim.URL || tg.Token != scimToken {
		t.Errorf("its target: %+v, %v", tg, err)
	}
	e.export(cfg.ID)
	if u, g := len(scim.Users()), len(scim.Groups()); u != testUsers || g != testGroups {
		t.Errorf("the SCIM service holds %d users and %d groups, want %d and %d", u, g, testUsers, testGroups)
	}
	page := admin.follow(res)
	page = admin.get(page.URL.Path) // after the export
	wantTexts(t, page, "Healthy")
	noSecret(t, page, scimToken)
	pane := "section[aria-labelledby=target-heading]"
	if got, want := page.prop(pane, "Kind")+" "+page.prop(pane, "Pending exports"), "SCIM 2.0 service 0"; got != want {
		t.Errorf("Target pane: %q, want %q", got, want)
	}
}

// Edit Target never overwrites a change saved meanwhile: the confirmation
// made before it saves nothing and asks to look again; a confirmation
// without its draft (forgotten, or forged) saves nothing either.
func TestEditTargetChangedMeanwhile(t *testing.T) {
	t.Parallel()
	scim := scimtest.Start(t, scimtest.Options{Token: scimToken})
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	confirm := admin.submit(admin.click(admin.get(e.path("")), "Edit Target"), "Save",
		map[string]string{"Kind of target": "scim", "Target URL": scim.URL, "Bearer token": scimToken})
	wantTexts(t, confirm, "target: none → "+scim.URL)
	other := &store.Target{ConfigID: e.ConfigID, URL: "scim+https://scim.other.example/v2", Token: "their-token"}
	if err := e.Store.SetTarget(t.Context(), other, "bob"); err != nil {
		t.Fatal(err)
	}
	res := admin.submit(confirm, "Save target", nil)
	res.wantRedirect(e.path(""))
	if got := admin.follow(res).flash(); got != "The target was changed by someone else meanwhile: look at it again." {
		t.Errorf("flash = %q", got)
	}
	if tg := e.target(); tg.URL != other.URL || tg.Token != other.Token {
		t.Errorf("the target after a stale confirmation: %+v", tg)
	}
	forged := admin.post(e.path("/target"), withToken(admin, url.Values{"draft": {"no-such-draft"}, "action": {"confirm"}}))
	forged.wantRedirect(e.path("/target/edit"))
	if tg := e.target(); tg.URL != other.URL {
		t.Errorf("the target after a confirmation without its draft: %+v", tg)
	}
}
