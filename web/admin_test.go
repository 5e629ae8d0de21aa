package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// Edit Source: Test connection answers for the typed settings; a change
// that moves what is read asks first, and a scope outside the new base DN
// becomes the base DN; an unchanged bind password stays stored.
func TestEditSource(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	page := admin.get(e.path(""))
	edit := admin.click(page, "Edit Source")
	edit.wantStatus(http.StatusOK)
	if got := edit.byLabel("Source URL").AttrOr("value", ""); got != "ldif:"+e.LDIF {
		t.Errorf("Source URL = %q", got)
	}
	before := e.snapshot()
	missing := filepath.Join(t.TempDir(), "gone.ldif")
	res := admin.submit(edit, "Test connection", map[string]string{"Source URL": "ldif:" + missing})
	res.wantStatus(http.StatusOK)
	wantTexts(t, res, "Could not read the file", "no such file or directory", "syncguard reads the file on the host where it runs")
	res = admin.submit(res, "Save", nil) // the missing file is kept in the form, and refused
	res.wantStatus(http.StatusUnprocessableEntity)
	if got := res.byLabel("Source URL").AttrOr("value", ""); got != "ldif:"+missing {
		t.Errorf("the typed source is not kept: %q", got)
	}
	e.assertUnchanged(before, "Test connection and a refused Save")
	// A confirmation forged for settings that were refused changes nothing.
	bad := admin.submit(res, "Save", map[string]string{"Source URL": "ftp://nowhere"})
	bad.wantStatus(http.StatusUnprocessableEntity)
	forged := admin.post(e.path("/source"), withToken(admin, url.Values{"draft": {bad.Doc.Find(`input[name="draft"]`).AttrOr("value", "")},
		"action": {"confirm"}}))
	forged.wantStatus(http.StatusUnprocessableEntity)
	e.assertUnchanged(before, "a forged confirmation")

	// Narrow the base DN to ou=Sales: that moves what is read.
	res = admin.submit(res, "Save", map[string]string{"Source URL": "ldif:" + e.LDIF, "Base DN": salesOU})
	res.wantStatus(http.StatusOK)
	wantTexts(t, res, "This change moves what syncguard reads", "base DN: dc=corp,dc=example → "+salesOU,
		"compares the new source with the 60 users and 2 groups", "If that is 10 objects or more, the guard stops the cycle")
	e.assertUnchanged(before, "a source change not yet confirmed")
	res = admin.submit(res, "Save source", nil)
	res.wantRedirect(e.path(""))
	if got := admin.follow(res).flash(); got != "Source saved. It applies from the next cycle." {
		t.Errorf("flash = %q", got)
	}
	if cfg := e.config(); cfg.BaseDN != salesOU || len(cfg.Scope) != 0 {
		t.Errorf("after save: base %q, scope %q", cfg.BaseDN, cfg.Scope)
	}
	if ev := e.audit()[0]; ev.Action != "Edited configuration" || !strings.Contains(ev.Details, "base DN: dc=corp,dc=example → "+salesOU) {
		t.Errorf("audit: %+v", ev)
	}
	// The guard holds the next cycle: 48 users and 2 groups leave.
	e.runCycle()
	if e.config().QuarantineID == 0 {
		t.Error("the narrowed source was not stopped by the guard")
	}
}

// Edit Source of an LDAP source keeps the stored password unless one is
// typed, and never shows it.
func TestEditSourceKeepsPassword(t *testing.T) {
	t.Parallel()
	srv := treeSlapd(t)
	e := newTestServerWith(t, setup{Source: srv.URL, BindPassword: syncPassword})
	ctx := context.Background()
	cfg := e.config()
	cfg.BindDN = syncDN
	if err := e.Store.UpdateConfiguration(ctx, cfg, "setup"); err != nil {
		t.Fatal(err)
	}
	admin := e.signIn(store.RoleAdmin)
	edit := admin.click(admin.get(e.path("")), "Edit Source")
	noSecret(t, edit, syncPassword)
	res := admin.submit(edit, "Test connection", nil)
	wantTexts(t, res, "Connected to "+srv.URL+" as "+syncDN)
	res = admin.submit(res, "Save", map[string]string{"TLS server name": ""})
	res.wantRedirect(e.path(""))
	if got := e.config().BindPassword; got != syncPassword {
		t.Errorf("the stored password after Save without typing one: %q", got)
	}
}

// Edit Schedule: a bad interval is shown again with a message; a good one
// is saved and audited.
func TestEditSchedule(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	edit := admin.click(admin.get(e.path("")), "Edit Schedule")
	if got := edit.byLabel("Interval").AttrOr("value", ""); got != "2m" {
		t.Errorf("Interval = %q, want 2m", got)
	}
	before := e.snapshot()
	res := admin.submit(edit, "Save", map[string]string{"Interval": "every day"})
	res.wantStatus(http.StatusUnprocessableEntity)
	if msgs := res.describedBy(res.byLabel("Interval")); len(msgs) < 2 || !strings.Contains(msgs[1].Text(), "is not a duration") {
		t.Error("no message by Interval")
	}
	e.assertUnchanged(before, "a bad interval")
	res = admin.submit(res, "Save", map[string]string{"Interval": "15m"})
	res.wantRedirect(e.path(""))
	if got := admin.follow(res).flash(); got != "Schedule saved: a cycle every 15 minutes." {
		t.Errorf("flash = %q", got)
	}
	if got := e.config().Interval; got != 15*time.Minute {
		t.Errorf("interval = %s", got)
	}
}

// Delete configuration: confirmed by typing the name; refused while a
// cycle runs; the audit keeps the configuration's events and the deletion.
func TestDeleteConfiguration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	confirm := admin.click(admin.get(e.path("")), "Delete configuration")
	wantTexts(t, confirm, "Delete configuration corp?", "Objects it provisioned to a target stay in place",
		"The audit log keeps its events", "its copy of 60 users and 2 groups")
	before := e.snapshot()
	res := admin.submit(confirm, "Delete configuration", map[string]string{"Type the configuration's name to confirm": "Corp"})
	res.wantStatus(http.StatusUnprocessableEntity)
	wantTexts(t, res, "Type corp exactly")
	e.assertUnchanged(before, "a wrong name")

	if ok, err := e.Store.AcquireCycleLock(ctx, e.ConfigID, "a cycle", 1, "elsewhere", e.Store.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	res = admin.submit(confirm, "Delete configuration", map[string]string{"Type the configuration's name to confirm": "corp"})
	res.wantStatus(http.StatusConflict)
	wantTexts(t, res, "A cycle of corp is running: try again when it has finished.")
	e.assertUnchanged(before, "a delete while a cycle runs")
	if err := e.Store.ReleaseCycleLock(ctx, e.ConfigID, "a cycle"); err != nil {
		t.Fatal(err)
	}

	res = admin.submit(confirm, "Delete configuration", map[string]string{"Type the configuration's name to confirm": "corp"})
	res.wantRedirect("/configurations")
	list := admin.follow(res)
	if got := list.flash(); !strings.Contains(got, "Configuration corp deleted.") {
		t.Errorf("flash = %q", got)
	}
	if _, err := e.Store.Configuration(ctx, e.ConfigID); err == nil {
		t.Error("the configuration is still there")
	}
	admin.get(e.path("")).wantStatus(http.StatusNotFound)
	audit := admin.get("/audit").text()
	for _, w := range []string{"Deleted configuration", "Created configuration"} {
		if !strings.Contains(audit, w) {
			t.Errorf("the audit log lacks %q", w)
		}
	}
}

// The Users page: add a user (bad input shown again), change a role, reset
// a password, remove a user; each change audited and ending the user's
// sessions; the last admin neither demoted nor removed, and told why.
func TestUsersPage(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	users := admin.click(admin.get("/configurations"), "Users")
	users.wantStatus(http.StatusOK)
	if users.hasControl("Remove alice") || !strings.Contains(users.text(), "the last admin: cannot be demoted or removed") {
		t.Errorf("the last admin can be removed, or the page does not say why: %s", users.text())
	}
	// A forged removal of the last admin is refused, in words.
	res := admin.post(fmt.Sprintf("/users/%d/remove", e.user("alice").ID), withToken(admin, url.Values{}))
	res.wantRedirect("/users")
	if got := admin.follow(res).flash(); got != "alice is the last admin and cannot be removed: make another user an admin first." {
		t.Errorf("flash = %q", got)
	}

	add := admin.click(users, "Add user")
	res = admin.submit(add, "Add user", map[string]string{"Username": "vera", "Role": "viewer", "New password": "short",
		"Repeat new password": "short"})
	res.wantStatus(http.StatusUnprocessableEntity)
	if got := res.byLabel("Username").AttrOr("value", ""); got != "vera" {
		t.Errorf("the typed name is not kept: %q", got)
	}
	wantTexts(t, res, "The password must have at least 12 characters.")
	res = admin.submit(res, "Add user", map[string]string{"New password": testPassword, "Repeat new password": testPassword})
	res.wantRedirect("/users")
	if got := admin.follow(res).flash(); !strings.Contains(got, "Added viewer vera.") {
		t.Errorf("flash = %q", got)
	}
	vera := e.newClient()
	vera.signInWith("vera", testPassword).wantRedirect("/configurations")
	if vera.get("/configurations").hasControl("Users") {
		t.Error("a viewer sees Users in the navigation")
	}
	vera.get("/users").wantStatus(http.StatusForbidden)

	// vera becomes an admin: her viewer session ends.
	users = admin.get("/users")
	res = admin.submit(users, "Change role of vera", map[string]string{"Role of vera": "admin"})
	res.wantRedirect("/users")
	if e.user("vera").Role != store.RoleAdmin {
		t.Fatalf("vera's role: %s", e.user("vera").Role)
	}
	vera.signedOut("vera after her role changed")
	if !strings.Contains(admin.follow(res).flash(), "vera is now admin, and was signed out everywhere.") {
		t.Error("no flash after the role change")
	}

	// Reset vera's password: the old one no longer works.
	vera = e.newClient()
	vera.signInWith("vera", testPassword).wantRedirect("/configurations")
	reset := admin.click(admin.get("/users"), "Reset password of vera")
	const fresh = "a fresh long passphrase"
	res = admin.submit(reset, "Reset password", map[string]string{"New password": fresh, "Repeat new password": fresh + "x"})
	res.wantStatus(http.StatusUnprocessableEntity)
	res = admin.submit(res, "Reset password", map[string]string{"New password": fresh, "Repeat new password": fresh})
	res.wantRedirect("/users")
	vera.signedOut("vera after her password was reset")
	e.newClient().signInWith("vera", testPassword).wantStatus(http.StatusUnauthorized)
	e.newClient().signInWith("vera", fresh).wantRedirect("/configurations")

	// Now alice is not the last admin: she can be demoted; vera removed.
	confirm := admin.click(admin.get("/users"), "Remove vera")
	wantTexts(t, confirm, "Remove admin vera?")
	res = admin.submit(confirm, "Yes", nil)
	res.wantRedirect("/users")
	if _, err := e.Store.UserByName(context.Background(), "vera"); err == nil {
		t.Error("vera is still there")
	}
	var actions []string
	for _, ev := range e.audit() {
		if ev.Actor == "alice" && ev.Action != "Signed in" {
			actions = append(actions, ev.Action)
		}
	}
	if got, want := strings.Join(actions, ", "), "Removed user, Changed password, Changed role, Added user"; got != want {
		t.Errorf("audit = %s, want %s", got, want)
	}
	// The last sign-in shows.
	if got := admin.get("/users").rows("table"); len(got) != 1 || got[0][3] == "never" {
		t.Errorf("users table = %q", got)
	}

	// Change password (everyone's own) has the names people look for.
	account := admin.click(admin.get("/users"), "Change password")
	for _, l := range []string{"Current password", "New password", "Repeat new password"} {
		account.byLabel(l)
	}
}

// /metrics: 404 without a token set; 401 without the right bearer token;
// with it, the Prometheus text format, read from the database: cycles by
// outcome, the duration histogram, the quarantine, staged deletes, objects
// by type, the outbox; a cycle run by another process counts.
func TestMetrics(t *testing.T) {
	t.Parallel()
	newTestServer(t).newClient().get("/metrics").wantStatus(http.StatusNotFound)

	const token = "metrics-token-0123456789"
	e := newTestServerWith(t, setup{MetricsToken: token})
	scrape := func(auth string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, e.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, auth := range []string{"", "Bearer wrong-token-0123456789", token, "Basic " + token} {
		if resp, _ := scrape(auth); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %d, want 401 with WWW-Authenticate", auth, resp.StatusCode)
		}
	}
	e.tripGuard()
	// A cycle by another process on the same database: a store and an
	// engine of their own.
	other, err := store.Open(context.Background(), filepath.Join(filepath.Dir(e.LDIF), "syncguard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := (&guard.Engine{Store: other}).RunCycle(context.Background(), e.ConfigID, guard.TriggerManual); err != nil {
		t.Fatal(err)
	}

	resp, body := scrape("Bearer " + token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the token: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no %s in\n%s", name, body)
		}
	metric:
		for _, m := range f.Metric {
			for i := 0; i+1 < len(labels); i += 2 {
				if label(m, labels[i]) != labels[i+1] {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"syncguard_cycles_total", []string{"configuration", "corp", "outcome", "succeeded"}, 1},
		{"syncguard_cycles_total", []string{"configuration", "corp", "outcome", "quarantined"}, 2}, // the trip, and the other process's
		{"syncguard_cycle_duration_seconds", []string{"configuration", "corp"}, 3},
		{"syncguard_quarantined", []string{"configuration", "corp"}, 1},
		{"syncguard_staged_deletes", []string{"configuration", "corp"}, usersPerOU},
		{"syncguard_exports_pending", []string{"configuration", "corp"}, 0}, // no target
		{"syncguard_exports_failed", []string{"configuration", "corp"}, 0},
		{"syncguard_target_unreachable", []string{"configuration", "corp"}, 0},
		{"syncguard_objects", []string{"configuration", "corp", "type", "user"}, testUsers},
		{"syncguard_objects", []string{"configuration", "corp", "type", "group"}, testGroups},
		{"syncguard_outbox_pending", nil, 1},
	} {
		if got := value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	h := fams["syncguard_cycle_duration_seconds"].Metric[0].Histogram
	var last uint64
	for _, b := range h.Bucket {
		if b.GetCumulativeCount() < last || b.GetCumulativeCount() > h.GetSampleCount() {
			t.Errorf("bucket le=%v: %d after %d of %d: not cumulative", b.GetUpperBound(), b.GetCumulativeCount(), last, h.GetSampleCount())
		}
		last = b.GetCumulativeCount()
	}
	if fams["syncguard_cycles_total"].GetType() != dto.MetricType_COUNTER || fams["syncguard_cycle_duration_seconds"].GetType() != dto.MetricType_HISTOGRAM {
		t.Error("wrong metric types")
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
