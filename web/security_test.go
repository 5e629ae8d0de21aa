package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/store"
)

// Route kinds of the authorization matrix.
const (
	kindOpen   = "open"   // no sign-in: /healthz, /static
	kindHome   = "home"   // / → /configurations
	kindLogin  = "login"  // the sign-in page
	kindSignIn = "signin" // POST /login
	kindLogout = "logout" // POST /logout
	kindLook   = "look"   // admins and viewers
	kindSelf   = "self"   // admins and viewers, on their own account; each POST on a client of its own
	kindChange = "change" // admins only
	kindBearer = "bearer" // a bearer token, not a session: /metrics (404 here: no token is set)
)

type route struct {
	method, pattern string
	kind            string
	path            func(e *env) string
	form            func(e *env) url.Values // what an admin posts
}

// routeTable is every route of web/routes.go with a real address;
// TestAuthorizationMatrix fails when a route is missing here.
func routeTable(entryID int64) []route {
	p := func(suffix string) func(e *env) string { return func(e *env) string { return e.path(suffix) } }
	fixed := func(path string) func(*env) string { return func(*env) string { return path } }
	quarantine := func(e *env) url.Values {
		return url.Values{"quarantine": {strconv.FormatInt(e.config().QuarantineID, 10)}}
	}
	return []route{
		{http.MethodGet, "/healthz", kindOpen, fixed("/healthz"), nil},
		{http.MethodGet, "/static/*", kindOpen, fixed("/static/style.css"), nil},
		{http.MethodGet, "/", kindHome, fixed("/"), nil},
		{http.MethodGet, "/login", kindLogin, fixed("/login"), nil},
		{http.MethodPost, "/login", kindSignIn, fixed("/login"), nil},
		{http.MethodPost, "/logout", kindLogout, fixed("/logout"), nil},
		{http.MethodGet, "/account", kindLook, fixed("/account"), nil},
		{http.MethodPost, "/account/password", kindSelf, fixed("/account/password"), func(*env) url.Values {
			return url.Values{"current_password": {testPassword}, "new_password": {"a brand new passphrase"},
				"repeat_password": {"a brand new passphrase"}}
		}},
		{http.MethodPost, "/account/sign-out-everywhere", kindSelf, fixed("/account/sign-out-everywhere"), func(*env) url.Values {
			return url.Values{}
		}},

		{http.MethodGet, "/configurations", kindLook, fixed("/configurations"), nil},
		{http.MethodGet, "/configurations/:id", kindLook, p(""), nil},
		{http.MethodGet, "/configurations/:id/status", kindLook, p("/status"), nil},
		{http.MethodGet, "/configurations/:id/logs", kindLook, p("/logs?action=Create"), nil},
		{http.MethodGet, "/configurations/:id/logs.csv", kindLook, p("/logs.csv"), nil},
		{http.MethodGet, "/configurations/:id/logs/:entry", kindLook, p("/logs/" + strconv.FormatInt(entryID, 10)), nil},
		{http.MethodGet, "/configurations/:id/deleted", kindLook, p("/deleted"), nil},
		{http.MethodGet, "/agents/:id", kindLook, func(e *env) string { return fmt.Sprintf("/agents/%d", e.AgentID) }, nil},
		{http.MethodGet, "/audit", kindLook, fixed("/audit"), nil},
		{http.MethodGet, "/outbox", kindLook, fixed("/outbox"), nil},

		{http.MethodGet, "/configurations/:id/basics/edit", kindChange, p("/basics/edit"), nil},
		{http.MethodPost, "/configurations/:id/basics", kindChange, p("/basics"), func(*env) url.Values {
			return url.Values{"email": {"ops@corp.example"}, "prevent": {"on"}, "threshold": {"11"}}
		}},
		{http.MethodGet, "/configurations/:id/scope/edit", kindChange, p("/scope/edit"), nil},
		{http.MethodPost, "/configurations/:id/scope", kindChange, p("/scope"), func(*env) url.Values {
			return url.Values{"ou": {demo.BaseDN}}
		}},
		{http.MethodPost, "/configurations/:id/sync", kindChange, p("/sync"), func(*env) url.Values { return url.Values{} }},
		{http.MethodGet, "/configurations/:id/allow-deletes", kindChange, p("/allow-deletes"), nil},
		{http.MethodPost, "/configurations/:id/allow-deletes", kindChange, p("/allow-deletes"), quarantine},
		{http.MethodGet, "/configurations/:id/restart", kindChange, p("/restart"), nil},
		{http.MethodPost, "/configurations/:id/restart", kindChange, p("/restart"), quarantine},
		{http.MethodGet, "/configurations/:id/deleted/restore", kindChange, p("/deleted/restore?all=1"), nil},
		{http.MethodPost, "/configurations/:id/deleted/restore", kindChange, p("/deleted/restore"), func(*env) url.Values {
			return url.Values{"all": {"1"}}
		}},
		{http.MethodPost, "/configurations/:id/target/test", kindChange, p("/target/test"), func(*env) url.Values { return url.Values{} }},
		{http.MethodGet, "/configurations/:id/target/edit", kindChange, p("/target/edit"), nil},
		{http.MethodPost, "/configurations/:id/target", kindChange, p("/target"), func(*env) url.Values {
			return url.Values{"target_kind": {"none"}, "action": {"save"}}
		}},
		{http.MethodGet, "/configurations/:id/source/edit", kindChange, p("/source/edit"), nil},
		{http.MethodPost, "/configurations/:id/source", kindChange, p("/source"), func(e *env) url.Values {
			return url.Values{"source": {"ldif:" + e.LDIF}, "base_dn": {demo.BaseDN}, "action": {"save"}}
		}},
		{http.MethodGet, "/configurations/:id/schedule/edit", kindChange, p("/schedule/edit"), nil},
		{http.MethodPost, "/configurations/:id/schedule", kindChange, p("/schedule"), func(*env) url.Values {
			return url.Values{"interval": {"3m"}}
		}},
		{http.MethodGet, "/configurations/:id/delete", kindChange, p("/delete"), nil},
		// A configuration of its own to delete, each time.
		{http.MethodPost, "/configurations/:id/delete", kindChange, func(e *env) string { return e.spareConfig() + "/delete" },
			func(e *env) url.Values { return url.Values{"confirm_name": {e.lastSpare}} }},

		{http.MethodGet, "/configurations/new", kindChange, fixed("/configurations/new"), nil},
		{http.MethodPost, "/configurations/new", kindChange, fixed("/configurations/new"), sourceStep},
		{http.MethodGet, "/configurations/new/:draft/source", kindChange, e2e(wizardPath, "source"), nil},
		{http.MethodPost, "/configurations/new/:draft/source", kindChange, e2e(wizardPath, "source"), sourceStep},
		{http.MethodGet, "/configurations/new/:draft/scope", kindChange, e2e(wizardPath, "scope"), nil},
		{http.MethodPost, "/configurations/new/:draft/scope", kindChange, e2e(wizardPath, "scope"), func(*env) url.Values {
			return url.Values{"shown": {demo.BaseDN}, "ou": {demo.BaseDN}, "action": {"next"}}
		}},
		{http.MethodGet, "/configurations/new/:draft/target", kindChange, e2e(wizardPath, "target"), nil},
		{http.MethodPost, "/configurations/new/:draft/target", kindChange, e2e(wizardPath, "target"), func(*env) url.Values {
			return url.Values{"target_kind": {"none"}, "action": {"next"}}
		}},
		{http.MethodGet, "/configurations/new/:draft/basics", kindChange, e2e(wizardPath, "basics"), nil},
		{http.MethodPost, "/configurations/new/:draft/basics", kindChange, e2e(wizardPath, "basics"), func(*env) url.Values {
			return url.Values{"email": {testEmail}, "prevent": {"on"}, "threshold": {"10"}, "interval": {"5m"}, "action": {"create"}}
		}},

		{http.MethodGet, "/users", kindChange, fixed("/users"), nil},
		{http.MethodGet, "/users/new", kindChange, fixed("/users/new"), nil},
		{http.MethodPost, "/users", kindChange, fixed("/users"), func(e *env) url.Values {
			e.spares++
			return url.Values{"name": {fmt.Sprintf("added%d", e.spares)}, "role": {"viewer"},
				"new_password": {testPassword}, "repeat_password": {testPassword}}
		}},
		{http.MethodPost, "/users/:id/role", kindChange, e2e(spareUserPath, "/role"), func(*env) url.Values {
			return url.Values{"role": {"admin"}}
		}},
		{http.MethodGet, "/users/:id/password", kindChange, e2e(spareUserPath, "/password"), nil},
		{http.MethodPost, "/users/:id/password", kindChange, e2e(spareUserPath, "/password"), func(*env) url.Values {
			return url.Values{"new_password": {"another long passphrase"}, "repeat_password": {"another long passphrase"}}
		}},
		{http.MethodGet, "/users/:id/remove", kindChange, e2e(spareUserPath, "/remove"), nil},
		{http.MethodPost, "/users/:id/remove", kindChange, e2e(spareUserPath, "/remove"), func(*env) url.Values { return url.Values{} }},

		{http.MethodGet, "/metrics", kindBearer, fixed("/metrics"), nil},
	}
}

// sourceStep is New configuration's first step, filled in: Browse OUs.
func sourceStep(e *env) url.Values {
	e.spares++
	return url.Values{"name": {fmt.Sprintf("new%d", e.spares)}, "source": {"ldif:" + e.LDIF}, "base_dn": {demo.BaseDN},
		"action": {"next"}}
}

// e2e makes a path function of a function of env and a suffix.
func e2e(f func(e *env, suffix string) string, suffix string) func(*env) string {
	return func(e *env) string { return f(e, suffix) }
}

// wizardPath is a step of a new draft of the admin client e.drafter, its
// source and scope filled in.
func wizardPath(e *env, step string) string {
	e.t.Helper()
	c := e.drafter
	res := c.post("/configurations/new", withToken(c, sourceStep(e)))
	res.wantStatus(http.StatusSeeOther)
	scope := res.Header.Get("Location")
	c.post(scope, withToken(c, url.Values{"shown": {demo.BaseDN}, "ou": {demo.BaseDN}, "action": {"next"}})).wantStatus(http.StatusSeeOther)
	return strings.TrimSuffix(scope, "scope") + step
}

func withToken(c *client, v url.Values) url.Values {
	v.Set("_csrf", c.token())
	return v
}

// spareUserPath is the path of a new viewer of its own, plus suffix.
func spareUserPath(e *env, suffix string) string {
	e.spares++
	name := fmt.Sprintf("spare%d", e.spares)
	e.ensureUser(name, store.RoleViewer)
	u, err := e.Store.UserByName(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprintf("/users/%d%s", u.ID, suffix)
}

// Every route × {signed out, viewer, admin}: signed-out people are sent to
// sign in (GET) or refused (POST); viewers look but change nothing (403 on
// every change route, forms and confirmations included); admins do both.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.tripGuard() // so that a viewer's Allow deletes would have something to delete
	entry := e.logs(store.LogQuery{Limit: 1})[0]
	table := routeTable(entry.ID)

	// The table covers every route the server has.
	var registered, listed []string
	for _, r := range e.Server.Echo().Routes() {
		if r.Method != echo.RouteNotFound {
			registered = append(registered, r.Method+" "+r.Path)
		}
	}
	for _, r := range table {
		listed = append(listed, r.method+" "+r.pattern)
	}
	slices.Sort(registered)
	slices.Sort(listed)
	if !slices.Equal(registered, listed) {
		t.Fatalf("routes of the server and of the test differ:\nserver %q\ntest   %q", registered, listed)
	}

	clients := map[string]*client{
		"signed out": e.newClient(),
		"viewer":     e.signIn(store.RoleViewer),
		"admin":      e.signIn(store.RoleAdmin),
	}
	e.drafter = clients["admin"] // the drafts of New configuration are the admin's
	// POST /login and POST /logout each get a client of their own; the
	// POSTs of one's own account (which end every session of the user) a
	// user of their own.
	fresh := map[string]map[string]*client{}
	for role, newClient := range map[string]func(name string) *client{
		"signed out": func(string) *client { return e.newClient() },
		"viewer":     func(name string) *client { return e.signInAs(name, store.RoleViewer) },
		"admin":      func(name string) *client { return e.signInAs(name, store.RoleAdmin) },
	} {
		fresh[role] = map[string]*client{}
		for i, r := range table {
			switch r.kind {
			case kindSignIn, kindLogout:
				fresh[role][r.method+" "+r.pattern] = newClient(map[string]string{"viewer": "victor", "admin": "alice"}[role])
			case kindSelf:
				fresh[role][r.method+" "+r.pattern] = newClient(fmt.Sprintf("self%d-%s", i, strings.ReplaceAll(role, " ", "")))
			}
		}
	}
	for _, role := range []string{"signed out", "viewer", "admin"} { // admin last: it changes things
		c := clients[role]
		tok := c.token()
		for _, r := range table {
			t.Run(role+"/"+r.method+" "+r.pattern, func(t *testing.T) {
				path := r.path(e)
				c, tok := c, tok
				c.t = t
				if fc := fresh[role][r.method+" "+r.pattern]; fc != nil {
					c = fc
					c.t = t
					tok = c.token()
				}
				var res *page
				before := e.snapshot()
				switch r.method {
				case http.MethodGet:
					res = c.get(path)
				default:
					form := url.Values{}
					switch {
					case r.kind == kindSignIn:
						form = url.Values{"username": {"alice"}, "password": {testPassword}}
					case r.form != nil: // what an admin posts, for every role
						form = r.form(e)
					}
					form.Set("_csrf", tok)
					res = c.post(path, form)
				}
				status, loc := res.Status, res.Header.Get("Location")
				want, wantLoc := expect(role, r, path)
				if status != want || (wantLoc != "" && loc != wantLoc) {
					t.Errorf("%s %s as %s: %d %q, want %d %q", r.method, path, role, status, loc, want, wantLoc)
				}
				if r.kind == kindChange && r.method == http.MethodPost {
					if role != "admin" {
						e.assertUnchanged(before, r.method+" "+path+" as "+role)
					}
					e.waitCycles()
				}
			})
		}
	}
}

// expect is the status (and, for redirects, the Location) a role gets.
func expect(role string, r route, path string) (int, string) {
	switch r.kind {
	case kindOpen:
		return http.StatusOK, ""
	case kindBearer:
		return http.StatusNotFound, ""
	case kindHome:
		return http.StatusSeeOther, "/configurations"
	case kindSignIn:
		return http.StatusSeeOther, "/configurations"
	case kindLogout:
		return http.StatusSeeOther, "/login"
	case kindSelf:
		if role == "signed out" {
			return http.StatusUnauthorized, ""
		}
		return http.StatusSeeOther, ""
	case kindLogin:
		if role == "signed out" {
			return http.StatusOK, ""
		}
		return http.StatusSeeOther, "/configurations"
	}
	switch role {
	case "signed out":
		if r.method == http.MethodGet {
			return http.StatusSeeOther, "/login?next=" + url.QueryEscape(path)
		}
		return http.StatusUnauthorized, ""
	case "viewer":
		if r.kind == kindLook {
			return http.StatusOK, ""
		}
		return http.StatusForbidden, ""
	}
	if r.method == http.MethodGet {
		return http.StatusOK, ""
	}
	return http.StatusSeeOther, ""
}

// /healthz answers without sign-in.
func TestHealthz(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	res := e.newClient().get("/healthz")
	res.wantStatus(http.StatusOK)
	if strings.TrimSpace(res.Body) != "ok" {
		t.Errorf("body = %q, want ok", res.Body)
	}
}

// A viewer sees everything and no button that changes anything.
func TestViewerSeesNoChangeButtons(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.tripGuard()
	viewer := e.signIn(store.RoleViewer)
	for _, path := range []string{e.path(""), e.path("/status"), "/configurations"} {
		p := viewer.get(path)
		p.wantStatus(http.StatusOK)
		for _, name := range []string{"Edit Basics", "Edit Scope", "Edit Source", "Edit Schedule", "Edit Target", "Allow deletes", "Restart sync",
			"Run sync now", "Delete configuration", "New configuration", "Users"} {
			if p.hasControl(name) {
				t.Errorf("%s: a viewer sees %q", path, name)
			}
		}
		if p.Doc.Find(`form[method="post"]:not([action="/logout"])`).Length() > 0 {
			t.Errorf("%s: a viewer gets a form that changes something", path)
		}
	}
	p := viewer.get(e.path(""))
	for _, name := range []string{"View provisioning log", "View agent", "Delete threshold exceeded"} {
		if !p.hasControl(name) {
			t.Errorf("a viewer does not see %q", name)
		}
	}
}

// A POST without the CSRF token, with a wrong one, or from another site is
// refused with 403 and changes nothing.
func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.tripGuard()
	admin := e.signIn(store.RoleAdmin)
	other := e.signInAs("bob", store.RoleAdmin)
	good := admin.token()
	forms := map[string]url.Values{
		e.path("/basics"):          {"email": {"ops@corp.example"}, "prevent": {"on"}, "threshold": {"99"}},
		e.path("/allow-deletes"):   {"quarantine": {strconv.FormatInt(e.config().QuarantineID, 10)}},
		e.path("/restart"):         {"quarantine": {strconv.FormatInt(e.config().QuarantineID, 10)}},
		e.path("/deleted/restore"): {"all": {"1"}},
	}
	tokens := []struct {
		name, token string
		header      http.Header
	}{
		{"no token", "", nil},
		{"wrong token", flipFirst(good), nil},
		{"another session's token", other.token(), nil},
		{"cross-site with a good token", good, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}},
	}
	if tokens[2].token == good {
		t.Fatal("two sessions share a CSRF token")
	}
	for path, form := range forms {
		for _, tt := range tokens {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				before := e.snapshot()
				f := url.Values{}
				for k, v := range form {
					f[k] = v
				}
				if tt.token != "" {
					f.Set("_csrf", tt.token)
				}
				req := admin.postRequest(path, f)
				for k, v := range tt.header {
					req.Header[k] = v
				}
				res := admin.do(req)
				res.wantStatus(http.StatusForbidden)
				e.assertUnchanged(before, tt.name)
			})
		}
	}
	// The same forms with the page's token do go through.
	res := admin.postForm(e.path("/allow-deletes"), e.path("/allow-deletes"), nil)
	res.wantRedirect(e.path(""))
	if got := admin.follow(res).flash(); !strings.Contains(got, "accepted") {
		t.Errorf("Allow deletes with the page's token: flash %q", got)
	}
	e.waitCycles()
	if n := e.pending(); n != 0 {
		t.Errorf("Allow deletes with the page's token: %d staged deletions still pending", n)
	}
	// Sign-in is a form too.
	c := e.newClient()
	c.get("/login")
	c.post("/login", url.Values{"username": {"alice"}, "password": {testPassword}}).wantStatus(http.StatusForbidden)
}

// flipFirst changes a token's first character.
func flipFirst(s string) string {
	if s[0] == 'a' {
		return "b" + s[1:]
	}
	return "a" + s[1:]
}

const xss = `<script>alert(1)</script>`

// Directory text is shown as text, never as markup: a user named
// <script>…</script>, in an OU named so, in a configuration named so.
func TestDirectoryTextIsEscaped(t *testing.T) {
	t.Parallel()
	xssOU := `ou=\<script\>alert(1)\</script\>,dc=corp,dc=example`
	dir := generate(t, demo.Options{OUs: []string{"Sales", xss}, Users: 20, Groups: 1, MembersPerGroup: 4, Seed: 3, UUIDs: true})
	dir = append(dir, "\n"+ldifEntry("uid=xss,"+xssOU, "objectClass", "top", "objectClass", "inetOrgPerson", "uid", "xss",
		"cn", xss, "sn", xss, "displayName", xss, "entryUUID", "00000000-0000-4000-8000-000000000001")+
		"\n"+ldifEntry("uid=formula,"+salesOU, "objectClass", "inetOrgPerson", "uid", "formula", "cn", "=1+1", "sn", "f",
		"displayName", "=1+1", "entryUUID", "00000000-0000-4000-8000-000000000002")+"\n"...)
	cfgName := `"><script>alert(2)</script>`
	e := newTestServerWith(t, setup{Name: cfgName, LDIF: dir, Threshold: 5})
	if users, _ := e.objects(); users != 22 {
		t.Fatalf("%d users synced, want 22", users)
	}
	e.writeLDIF(withoutBelow(dir, xssOU))
	cy := e.runCycle()
	if cy.Outcome != store.OutcomeQuarantined || cy.StagedDeletes != 11 {
		t.Fatalf("cycle: %s, %d staged; want Quarantined, 11", cy.Outcome, cy.StagedDeletes)
	}
	admin := e.signIn(store.RoleAdmin)
	var xssEntry store.LogEntry
	for _, l := range e.logs(store.LogQuery{Action: store.ActionStagedDelete}) {
		if l.Name == xss {
			xssEntry = l
		}
	}
	if xssEntry.ID == 0 {
		t.Fatal("no StagedDelete entry for the <script> user")
	}

	pages := []struct {
		path      string
		wantTexts []string // shown as text
	}{
		{"/configurations", []string{cfgName}},
		{e.path(""), []string{cfgName}},
		{e.path("/scope/edit"), []string{xssOU}},
		{e.path("/basics/edit"), []string{cfgName}},
		{e.path("/status"), []string{cfgName, xss, xssOU}},
		{e.path("/logs"), []string{cfgName, xss}},
		{e.path("/logs?action=StagedDelete&q=" + url.QueryEscape(xss)), []string{xss}},
		{e.path("/logs?action=" + url.QueryEscape(xss)), nil}, // a bad filter value, shown back
		{e.path(fmt.Sprintf("/logs/%d", xssEntry.ID)), []string{xss, "uid=xss," + xssOU}},
		{e.path("/allow-deletes"), []string{cfgName}},
		{e.path("/restart"), []string{cfgName}},
		{e.path("/deleted"), []string{cfgName}},
		{"/audit", []string{cfgName}},
		{"/outbox", []string{cfgName}},
		{fmt.Sprintf("/agents/%d", e.AgentID), []string{cfgName}},
		{"/configurations/999", nil},
	}
	for _, pg := range pages {
		t.Run(pg.path, func(t *testing.T) {
			admin.t = t
			res := admin.get(pg.path) // checkMarkup: no inline script, no on* attributes
			if res.Doc == nil {
				t.Fatalf("status %d, not HTML", res.Status)
			}
			res.Doc.Find("script").Each(func(_ int, s *goquery.Selection) {
				if strings.Contains(s.Text(), "alert") {
					t.Errorf("an injected <script>: %q", s.Text())
				}
			})
			if n := res.Doc.Find("img:not([src^='/static/'])").Length(); n > 0 {
				t.Errorf("%d injected <img> elements", n)
			}
			if strings.Contains(res.Body, xss) || strings.Contains(res.Body, "<script>alert(2)") {
				t.Error("the raw markup is in the page, unescaped")
			}
			txt := res.Doc.Text()
			for _, w := range pg.wantTexts {
				if !strings.Contains(txt, w) {
					t.Errorf("the page does not show %q as text", w)
				}
			}
		})
	}
	admin.t = t

	// CSV is not HTML: the text is there as is, but a formula is defused.
	res := admin.get(e.path("/logs.csv"))
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("CSV: Content-Type %q, X-Content-Type-Options %q", ct, res.Header.Get("X-Content-Type-Options"))
	}
	recs, err := csv.NewReader(strings.NewReader(res.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs[1:] {
		names = append(names, r[6])
	}
	if !slices.Contains(names, xss) || !slices.Contains(names, "'=1+1") || slices.Contains(names, "=1+1") {
		t.Errorf("CSV names %q: want %q as is and =1+1 as '=1+1", names, xss)
	}
}

// The session cookie is HttpOnly, SameSite=Lax, Path=/, Secure and
// __Host- prefixed when the portal is served over TLS; signing in issues a
// new session, never the pre-sign-in id the sign-in form was bound to.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			e := newTestServerWith(t, setup{Secure: secure})
			e.ensureUser("alice", store.RoleAdmin)
			prefix := ""
			if secure {
				prefix = "__Host-"
			}
			// A plain client: a cookie jar would not send Secure cookies over http.
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := hc.Get(e.URL + "/login")
			if err != nil {
				t.Fatal(err)
			}
			doc, err := goquery.NewDocumentFromReader(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			pre := cookieNamed(resp.Cookies(), prefix+"syncguard_pre")
			if pre == nil {
				t.Fatal("no pre-sign-in cookie for the sign-in form")
			}
			if !pre.HttpOnly || pre.SameSite != http.SameSiteLaxMode || pre.Secure != secure {
				t.Errorf("pre-sign-in cookie: HttpOnly %v SameSite %v Secure %v", pre.HttpOnly, pre.SameSite, pre.Secure)
			}
			form := url.Values{"_csrf": {doc.Find(`input[name="_csrf"]`).AttrOr("value", "")},
				"username": {"alice"}, "password": {testPassword}}
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: pre.Name, Value: pre.Value})
			resp, err = hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign in: status %d", resp.StatusCode)
			}
			sc := cookieNamed(resp.Cookies(), prefix+"syncguard_session")
			if sc == nil {
				t.Fatal("signing in set no session cookie")
			}
			if sc.Value == pre.Value {
				t.Error("the session id is the pre-sign-in id")
			}
			if !sc.HttpOnly {
				t.Error("session cookie is not HttpOnly")
			}
			if sc.SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie SameSite = %v, want Lax", sc.SameSite)
			}
			if sc.Path != "/" {
				t.Errorf("session cookie Path = %q, want /", sc.Path)
			}
			if sc.Secure != secure {
				t.Errorf("session cookie Secure = %v, want %v", sc.Secure, secure)
			}
			if sc.MaxAge <= 0 {
				t.Errorf("session cookie MaxAge = %d, want a limited lifetime", sc.MaxAge)
			}
		})
	}

	t.Run("fixation", func(t *testing.T) {
		e := newTestServer(t)
		// Someone plants a session cookie (here: a viewer's) in the victim's browser…
		planted := sessionCookie(t, e.signIn(store.RoleViewer))
		victim := e.newClient()
		u, _ := url.Parse(e.URL)
		victim.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "syncguard_session", Value: planted, Path: "/"}})
		if got := squash(victim.get("/configurations").Doc.Find(".user-name").Text()); got != "victor" {
			t.Fatalf("the planted cookie signs in %q, want victor", got)
		}
		// …who then signs in as an admin: the session after is a new one.
		e.ensureUser("alice", store.RoleAdmin)
		res := victim.post("/login", url.Values{"_csrf": {victim.token()}, "username": {"alice"}, "password": {testPassword}})
		res.wantRedirect("/configurations")
		after := sessionCookie(t, victim)
		if after == planted {
			t.Error("signing in kept the session cookie from before")
		}
		// The planted cookie is still only the viewer's: the admin sign-in did not upgrade it.
		attacker := e.newClient()
		attacker.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "syncguard_session", Value: planted, Path: "/"}})
		if got := squash(attacker.get("/configurations").Doc.Find(".user-name").Text()); got != "victor" {
			t.Errorf("the planted cookie now signs in %q, want victor", got)
		}
		if attacker.get(e.path("/basics/edit")).Status != http.StatusForbidden {
			t.Error("the planted cookie gained admin rights")
		}
	})

	t.Run("sign out", func(t *testing.T) {
		e := newTestServer(t)
		admin := e.signIn(store.RoleAdmin)
		res := admin.submit(admin.get("/configurations"), "Sign out", nil)
		res.wantRedirect("/login")
		if sc := cookieNamed(res.Resp.Cookies(), "syncguard_session"); sc == nil || sc.MaxAge >= 0 {
			t.Errorf("sign out does not remove the session cookie: %v", sc)
		}
		admin.get("/configurations").wantRedirect("/login?next=%2Fconfigurations")
	})
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func sessionCookie(t *testing.T, c *client) string {
	t.Helper()
	u, _ := url.Parse(c.env.URL)
	sc := cookieNamed(c.hc.Jar.Cookies(u), "syncguard_session")
	if sc == nil {
		t.Fatal("no session cookie")
	}
	return sc.Value
}

// After sign-in, ?next= only ever leads to a page of this site.
func TestSignInNextStaysLocal(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.ensureUser("alice", store.RoleAdmin)
	tests := []struct{ next, want string }{
		{"https://evil.example", "/configurations"},
		{"//evil.example", "/configurations"},
		{"/\\evil.example", "/configurations"},
		{"\\\\evil.example", "/configurations"},
		{"javascript:alert(1)", "/configurations"},
		{"/%5Cevil.example", "/%5Cevil.example"}, // an odd but local path
		{"http:/evil.example", "/configurations"},
		{" //evil.example", "/configurations"},
		{"/\t/evil.example", "/configurations"},
		{"", "/configurations"},
		{"/configurations/1/logs?action=Create", "/configurations/1/logs?action=Create"},
	}
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			c := e.newClient()
			c.t = t
			login := c.get("/login?next=" + url.QueryEscape(tt.next))
			login.wantStatus(http.StatusOK)
			res := c.submit(login, "Sign in", map[string]string{"Username": "alice", "Password": testPassword})
			res.wantStatus(http.StatusSeeOther)
			loc := res.Header.Get("Location")
			if loc != tt.want {
				t.Errorf("next=%q: Location %q, want %q", tt.next, loc, tt.want)
			}
			u, err := url.Parse(loc)
			if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.Contains(loc, "\\") {
				t.Errorf("next=%q: Location %q leaves the site", tt.next, loc)
			}
			// Signed in, /login?next= redirects at once: still local.
			again := c.get("/login?next=" + url.QueryEscape(tt.next))
			if got := again.Header.Get("Location"); got != tt.want {
				t.Errorf("signed in, next=%q: Location %q, want %q", tt.next, got, tt.want)
			}
		})
	}

	t.Run("sent to sign in, then back", func(t *testing.T) {
		c := e.newClient()
		res := c.get(e.path("/status"))
		res.wantRedirect("/login?next=" + url.QueryEscape(e.path("/status")))
		login := c.follow(res)
		back := c.submit(login, "Sign in", map[string]string{"Username": "alice", "Password": testPassword})
		back.wantRedirect(e.path("/status"))
		c.follow(back).wantStatus(http.StatusOK)
	})
}

// Pages carry a strict Content-Security-Policy and the other security headers.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	viewer := e.signIn(store.RoleViewer)
	out := e.newClient()
	for _, tt := range []struct {
		c    *client
		path string
	}{
		{out, "/login"}, {admin, "/configurations"}, {admin, e.path("")}, {admin, e.path("/logs")},
		{admin, e.path("/logs.csv")}, {admin, "/nowhere"}, {viewer, e.path("/basics/edit")}, {out, e.path("")},
	} {
		res := tt.c.get(tt.path)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		if csp == "" || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s (%d): Content-Security-Policy = %q", tt.path, res.Status, csp)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", tt.path, got)
		}
		if got := h.Get("Referrer-Policy"); got == "" || got == "unsafe-url" {
			t.Errorf("%s: Referrer-Policy = %q", tt.path, got)
		}
		if got := h.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options = %q", tt.path, got)
		}
		if got := h.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", tt.path, got)
		}
	}
}

// A wrong password is told, sets no session, and repeated failures are
// slowed down with 429.
func TestSignInFailures(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.ensureUser("alice", store.RoleAdmin)
	e.ensureUser("victor", store.RoleViewer)
	c := e.newClient()
	login := c.get("/login")

	wrong := c.submit(login, "Sign in", map[string]string{"Username": "alice", "Password": "not the password"})
	wrong.wantStatus(http.StatusUnauthorized)
	msg := squash(wrong.Doc.Find(`[role="alert"]`).Text())
	if msg != "The username or password is not right." {
		t.Errorf("message = %q", msg)
	}
	if got := wrong.byLabel("Username").AttrOr("value", ""); got != "alice" {
		t.Errorf("Username shows %q, want alice kept", got)
	}
	if got := wrong.byLabel("Password").AttrOr("value", ""); got != "" {
		t.Errorf("Password shows %q, want it empty", got)
	}
	u, _ := url.Parse(e.URL)
	if sc := cookieNamed(c.hc.Jar.Cookies(u), "syncguard_session"); sc != nil {
		t.Errorf("a failed sign-in set a session cookie")
	}
	c.get("/configurations").wantRedirect("/login?next=%2Fconfigurations")

	// An unknown name gets the same answer: names cannot be probed.
	unknown := c.submit(login, "Sign in", map[string]string{"Username": "mallory", "Password": "whatever it is"})
	unknown.wantStatus(http.StatusUnauthorized)
	if got := squash(unknown.Doc.Find(`[role="alert"]`).Text()); got != msg {
		t.Errorf("unknown user: message %q, want %q", got, msg)
	}

	// Five failures for alice, then even the right password waits, from
	// this address.
	for range 4 {
		c.submit(login, "Sign in", map[string]string{"Username": "alice", "Password": "still wrong!"}).wantStatus(http.StatusUnauthorized)
	}
	limited := c.submit(login, "Sign in", map[string]string{"Username": "alice", "Password": testPassword})
	limited.wantStatus(http.StatusTooManyRequests)
	// 30 seconds after the last failure, less the time the checks took.
	got := squash(limited.Doc.Find(`[role="alert"]`).Text())
	var wait int
	if _, err := fmt.Sscanf(got, "Too many failed sign-in attempts. Try again in %d seconds.", &wait); err != nil || wait > 30 || wait < 15 {
		t.Errorf("429 message = %q, want Try again in (about) 30 seconds", got)
	}
	if got := limited.Header.Get("Retry-After"); got == "" {
		t.Error("429 without Retry-After")
	}
	if sc := cookieNamed(c.hc.Jar.Cookies(u), "syncguard_session"); sc != nil {
		t.Error("a rate-limited sign-in set a session cookie")
	}
	for _, ev := range e.audit() {
		if ev.Action == "Signed in" {
			t.Errorf("audit has %+v after failed sign-ins only", ev)
		}
	}
	// Another user from the same address is not locked out by alice's failures.
	e.signIn(store.RoleViewer)
}

// A bind password (the source's or the target's) never appears in a page.
func TestNoSecretInPages(t *testing.T) {
	t.Parallel()
	const secret, targetSecret = "Bind-Secret-4242", "Target-Secret-5353"
	e := newTestServerWith(t, setup{Source: "ldap://127.0.0.1:1", BindPassword: secret})
	if cy := e.cycles()[0]; cy.Outcome != store.OutcomeFailed {
		t.Fatalf("first cycle against a closed port: %s, want Failed", cy.Outcome)
	}
	if err := e.Store.SetTarget(t.Context(), &store.Target{ConfigID: e.ConfigID, URL: "ldaps://127.0.0.1:1", BaseDN: "dc=cloud,dc=example",
		BindDN: "cn=sync,dc=cloud,dc=example", BindPassword: targetSecret}, "setup"); err != nil {
		t.Fatal(err)
	}
	admin := e.signIn(store.RoleAdmin)
	e.drafter = admin
	// The admin edits Basics, so the audit log has an edit of this configuration too.
	admin.postForm(e.path("/basics/edit"), e.path("/basics"), url.Values{"threshold": {"12"}}).wantRedirect(e.path(""))
	if !strings.Contains(admin.get(e.path("")).text(), "Error") {
		t.Error("the failed cycle's error is not shown")
	}
	for _, r := range routeTable(0) {
		if r.method != http.MethodGet || r.kind == kindOpen || strings.Contains(r.pattern, ":entry") {
			continue
		}
		path := r.path(e)
		if res := admin.get(path); strings.Contains(res.Body, secret) || strings.Contains(res.Body, targetSecret) {
			t.Errorf("%s shows a bind password", path)
		}
	}
	for _, path := range []string{e.path("/logs.csv"), e.path("/status"), "/outbox", "/audit"} {
		if body := admin.get(path).Body; strings.Contains(body, secret) || strings.Contains(body, targetSecret) {
			t.Errorf("%s shows a bind password", path)
		}
	}
	cfg, err := e.Store.Configuration(context.Background(), e.ConfigID)
	if err != nil || cfg.BindPassword != secret {
		t.Fatalf("the bind password was lost: %v", err)
	}
}
