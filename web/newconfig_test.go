package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/store"
)

// The directory behind the test slapd: 40 users in ou=Sales and
// ou=Engineering and two groups, a branch three OUs deep
// (Regions/EMEA/Paris), 600 OUs in one level (Branches), and the account
// syncguard binds as, which the server's size limit of 500 binds (the root
// DN's would not).
const (
	syncDN       = "cn=sync,dc=corp,dc=example"
	syncPassword = "Sync-Bind-Secret-77"
	treeSales    = 20 // users in ou=Sales
)

func treeSlapd(t *testing.T) *slapdtest.Server {
	t.Helper()
	buf := bytes.NewBuffer(demo.Tree())
	fmt.Fprintf(buf, "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: sync\nuserPassword: %s\n\n",
		syncDN, syncPassword)
	return slapdtest.Start(t, slapdtest.Options{LDIF: buf.Bytes()})
}

// sourceFields are the source step's fields, by label.
func sourceFields(name, source, base, bindDN, password string) map[string]string {
	return map[string]string{"Name": name, "Source URL": source, "Base DN": base, "Bind DN": bindDN, "Bind password": password}
}

// New configuration against a real slapd, as an admin does it without
// JavaScript: Test connection (refused, then ok), the OU browser three
// levels deep and through a level of 600 OUs, the Basics, Create
// configuration; then the first cycle syncs what was ticked.
func TestNewConfigurationLDAP(t *testing.T) {
	t.Parallel()
	srv := treeSlapd(t)
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)

	list := admin.get("/configurations")
	form := admin.click(list, "New configuration")
	form.wantStatus(http.StatusOK)
	if !strings.Contains(form.text(), "1. Source") {
		t.Errorf("no step list: %s", form.text())
	}

	// Nothing answers there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "ldap://" + ln.Addr().String()
	ln.Close()
	res := admin.submit(form, "Test connection", sourceFields("hq", closed, "", syncDN, syncPassword))
	res.wantStatus(http.StatusOK)
	wantTexts(t, res, "Could not connect", "connection refused", "Nothing answers at that address")
	noSecret(t, res, syncPassword)
	if got := res.byLabel("Source URL").AttrOr("value", ""); got != closed {
		t.Errorf("the typed source is not kept: %q", got)
	}

	// A wrong password: refused, in words.
	res = admin.submit(res, "Test connection", sourceFields("hq", srv.URL, "", syncDN, "not the password"))
	wantTexts(t, res, "Could not connect", "bind as "+syncDN, "invalid credentials", "Check the bind DN and the password")

	// A bad pin: the field says why; every value stays, the password too
	// (kept by the server, not in the page).
	fields := sourceFields("hq", srv.URL, "", syncDN, syncPassword)
	fields["Certificate pin"] = "sha256:nothex"
	res = admin.submit(res, "Test connection", fields)
	res.wantStatus(http.StatusUnprocessableEntity)
	if msgs := res.describedBy(res.byLabel("Certificate pin")); len(msgs) < 2 || !strings.Contains(msgs[1].Text(), "64 hex digits") {
		t.Errorf("no message by the pin")
	}
	noSecret(t, res, syncPassword)
	if got := res.byLabel("Bind DN").AttrOr("value", ""); got != syncDN {
		t.Errorf("bind DN not kept: %q", got)
	}
	if hint := squash(res.describedBy(res.byLabel("Bind password"))[0].Text()); !strings.Contains(hint, "A password is kept") {
		t.Errorf("the password field does not say a password is kept: %q", hint)
	}

	// The pin fixed, the password left empty: the kept one binds.
	res = admin.submit(res, "Test connection", map[string]string{"Certificate pin": "", "Bind password": ""})
	res.wantStatus(http.StatusOK)
	wantTexts(t, res, "Connected to "+srv.URL+" as "+syncDN, "Naming contexts: dc=corp,dc=example",
		"dc=corp,dc=example is the source's own, and is filled in")
	if got := res.byLabel("Base DN").AttrOr("value", ""); got != demo.BaseDN {
		t.Errorf("base DN not filled in: %q", got)
	}
	noSecret(t, res, syncPassword)

	// Browse OUs: the base's children.
	res = admin.submit(res, "Browse OUs", nil)
	scope := admin.follow(res)
	scope.wantStatus(http.StatusOK)
	if got, want := ouRows(scope), "dc=corp,dc=example|ou=Branches|ou=Engineering|ou=Groups|ou=Regions|ou=Sales"; got != want {
		t.Errorf("the base level = %s, want %s", got, want)
	}
	// Tick Sales, open Regions, then EMEA: depth 3.
	res = admin.submit(scope, "Open ou=Regions,dc=corp,dc=example", map[string]string{"ou=Sales,dc=corp,dc=example": "x"})
	regions := admin.follow(res)
	if got, want := ouRows(regions), "ou=Regions|ou=APAC|ou=EMEA"; got != want {
		t.Errorf("Regions = %s, want %s", got, want)
	}
	emea := admin.follow(admin.submit(regions, "Open ou=EMEA,ou=Regions,dc=corp,dc=example", nil))
	if got, want := ouRows(emea), "ou=EMEA|ou=Berlin|ou=Paris"; got != want {
		t.Errorf("EMEA = %s, want %s", got, want)
	}
	paris := "ou=Paris,ou=EMEA,ou=Regions,dc=corp,dc=example"
	// Tick Paris and go up to the base by the path: Sales is still ticked.
	top := admin.follow(admin.submit(emea, "Up to dc=corp,dc=example", map[string]string{paris: "x"}))
	if _, ok := top.byLabel("ou=Sales,dc=corp,dc=example").Attr("checked"); !ok {
		t.Error("Sales lost its tick on the way")
	}
	wantTexts(t, top, "20 users and 0 groups in 2 OUs.", "ou=Sales,dc=corp,dc=example 20 users, 0 groups")

	// The level of 600, read in LDAP pages past the size limit of 500,
	// shown 100 at a time, and filtered.
	branches := admin.follow(admin.submit(top, "Open ou=Branches,dc=corp,dc=example", nil))
	wantTexts(t, branches, "Page 1 of 6 (600 OUs)")
	if rows := strings.Split(ouRows(branches), "|"); len(rows) != 101 || rows[1] != "ou=Branch 000" || rows[100] != "ou=Branch 099" {
		t.Errorf("page 1 = %d rows from %s", len(rows), rows[:2])
	}
	next := admin.follow(admin.submit(branches, "Next page", nil))
	if rows := strings.Split(ouRows(next), "|"); len(rows) != 101 || rows[1] != "ou=Branch 100" {
		t.Errorf("page 2 starts with %s", rows[1])
	}
	filtered := admin.follow(admin.submit(next, "Filter", map[string]string{"Filter OUs by name": "Branch 59"}))
	if rows := strings.Split(ouRows(filtered), "|"); len(rows) != 11 || rows[1] != "ou=Branch 590" {
		t.Errorf("filtered: %q", rows)
	}
	// Remove Paris from the selection again, then tick it back and go on.
	res = admin.submit(filtered, "Remove "+paris+" from the scope", nil)
	filtered = admin.follow(res)
	wantTexts(t, filtered, "20 users and 0 groups in 1 OU.")
	target := admin.follow(admin.submit(filtered, "Next", nil))
	if got := target.byLabel("Kind of target").Find("option[selected]").AttrOr("value", ""); got != "none" {
		t.Errorf("the Target step starts with %q, want none", got)
	}
	basics := admin.follow(admin.submit(target, "Next", nil))
	basics.wantStatus(http.StatusOK)
	if got := basics.prop("main", "Scope"); got != "ou=Sales,dc=corp,dc=example" {
		t.Errorf("summary: scope %q", got)
	}
	if got := basics.prop("main", "In scope now"); got != "20 users and 0 groups" {
		t.Errorf("summary: in scope now %q", got)
	}

	// Bad Basics keep what was typed; then Create configuration.
	res = admin.submit(basics, "Create configuration", map[string]string{"Notification email": "ops@", "Accidental deletion threshold": "5",
		"Interval": "soon"})
	res.wantStatus(http.StatusUnprocessableEntity)
	if got := res.byLabel("Interval").AttrOr("value", ""); got != "soon" {
		t.Errorf("interval not kept: %q", got)
	}
	wantTexts(t, res, "is not an email address", "is not a duration")
	if _, err := e.Store.ConfigurationByName(context.Background(), "hq"); err == nil {
		t.Fatal("a configuration was saved before the last step")
	}
	res = admin.submit(res, "Create configuration", map[string]string{"Notification email": "ops@corp.example",
		"Accidental deletion threshold": "5", "Interval": "10m"})
	cfg, err := e.Store.ConfigurationByName(context.Background(), "hq")
	if err != nil {
		t.Fatalf("not created: %v (%d %s)", err, res.Status, excerpt(res))
	}
	res.wantRedirect(fmt.Sprintf("/configurations/%d", cfg.ID))
	page := admin.follow(res)
	if got := page.flash(); !strings.Contains(got, "Configuration hq created. Its first cycle is running.") {
		t.Errorf("flash = %q", got)
	}
	e.waitCycles()
	if cfg.Source != srv.URL || cfg.BindDN != syncDN || cfg.BindPassword != syncPassword || cfg.BaseDN != demo.BaseDN ||
		strings.Join(cfg.Scope, "|") != "ou=Sales,dc=corp,dc=example" || cfg.Basics.Threshold != 5 || cfg.Interval.String() != "10m0s" {
		t.Errorf("created %+v", cfg)
	}
	users, groups, err := e.Store.ObjectCounts(context.Background(), cfg.ID)
	if err != nil || users != treeSales || groups != 0 {
		t.Errorf("after the first cycle: %d users, %d groups, %v; want %d users", users, groups, err, treeSales)
	}
	page = admin.get(fmt.Sprintf("/configurations/%d", cfg.ID))
	wantTexts(t, page, "Healthy")
	noSecret(t, page, syncPassword)
	if ev := e.audit()[0]; ev.Action != "Created configuration" || ev.Actor != "alice" {
		t.Errorf("audit: %+v", ev)
	}
}

// wantTexts fails unless the page shows each text.
func wantTexts(t *testing.T, p *page, texts ...string) {
	t.Helper()
	got := p.text()
	for _, w := range texts {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not show %q:\n%s", p.URL.Path, w, got)
		}
	}
}

// noSecret fails when the page holds secret anywhere (a value, a hidden
// field, a script).
func noSecret(t *testing.T, p *page, secret string) {
	t.Helper()
	if strings.Contains(p.Body, secret) {
		t.Errorf("%s holds the bind password", p.URL.Path)
	}
}

// ouRows are the OUs the picker lists on this page: the level's own OU,
// then its children, each by its first RDN.
func ouRows(p *page) string {
	var out []string
	p.Doc.Find(".ou-list label").Each(func(_ int, s *goquery.Selection) {
		rdn, _, _ := strings.Cut(squash(s.Text()), ",")
		if strings.HasPrefix(rdn, "dc=") {
			rdn = squash(s.Text())
		}
		out = append(out, rdn)
	})
	return strings.Join(out, "|")
}

// A draft belongs to the session that made it; after the last step, or
// for another admin, it is gone, and the page says so.
func TestNewConfigurationDraftIsPrivate(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	alice := e.signIn(store.RoleAdmin)
	res := alice.submit(alice.get("/configurations/new"), "Browse OUs", sourceFields("second", "ldif:"+e.LDIF, "", "", ""))
	res.wantStatus(http.StatusSeeOther)
	scopeURL := res.Header.Get("Location")
	alice.get(scopeURL).wantStatus(http.StatusOK)
	bob := e.signInAs("bob", store.RoleAdmin)
	other := bob.get(scopeURL)
	other.wantStatus(http.StatusNotFound)
	wantTexts(t, other, "Start again with New configuration")
	// An LDIF source without a base DN takes the file's top entry.
	scope := alice.get(scopeURL)
	if got := ouRows(scope); !strings.HasPrefix(got, "dc=corp,dc=example|ou=Engineering") {
		t.Errorf("LDIF levels: %s", got)
	}
	// Ticked and on in one request (no picker page in between), and past
	// the Target step left at None to the Basics: the summary counts what
	// is in scope.
	res = alice.post(scopeURL, withToken(alice, url.Values{"shown": {demo.BaseDN}, "ou": {demo.BaseDN}, "action": {"next"}}))
	basics := alice.follow(alice.submit(alice.follow(res), "Next", nil))
	if got, want := basics.prop("main", "In scope now"), fmt.Sprintf("%d users and %d groups", testUsers, testGroups); got != want {
		t.Errorf("in scope now = %q, want %q", got, want)
	}
}
