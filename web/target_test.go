package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard"
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
