package web_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// What an admin found clumsy, each through the real router, as the page
// reads: the history tells the truth, the words are one, nothing leads
// nowhere.

// cycleRow returns the outcome cell of a cycle in the configuration page's
// table of recent cycles.
func cycleRow(p *page, id int64) string {
	for _, r := range p.rows("#cycles-caption ~ tbody, table:has(#cycles-caption)") {
		if len(r) > 2 && r[0] == strconv.FormatInt(id, 10) {
			return r[2]
		}
	}
	return ""
}

// TestHistoryTellsTheTruth: after Allow deletes the cycle that tripped
// reads as allowed, by whom, how many deleted (1), not as a quarantine
// restarted; its staged entries read allowed (2); a cycle run while
// stopped reads as held (5); the status info tells the last quarantine's
// story, with what started each cycle in words (6).
func TestHistoryTellsTheTruth(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	q := e.tripGuard()
	admin := e.signIn(store.RoleAdmin)
	held := e.runCycle() // Run sync now while stopped
	page := admin.get(e.path(""))
	if got := cycleRow(page, held.ID); !strings.HasPrefix(got, "Held: sync stopped") {
		t.Errorf("the cycle run while stopped reads %q, want Held: sync stopped", got)
	}
	if got := cycleRow(page, q.ID); got != "Delete threshold exceeded pending: 12 waiting" {
		t.Errorf("the quarantine reads %q", got)
	}
	if strings.Contains(page.text(), "Quarantined") {
		t.Errorf("the page says Quarantined: one state, one name for people")
	}
	confirm := admin.get(e.path("/allow-deletes"))
	admin.follow(admin.submit(confirm, "Yes", nil))
	e.waitCycles()
	page = admin.get(e.path(""))
	if got, want := cycleRow(page, q.ID), "Delete threshold exceeded allowed by alice: 12 deleted"; got != want {
		t.Errorf("after Allow deletes the quarantine reads %q, want %q", got, want)
	}
	for _, l := range e.logs(store.LogQuery{ConfigID: e.ConfigID, Action: store.ActionStagedDelete}) {
		if l.Fate != store.StagedApplied || !strings.Contains(l.Details, "allowed by alice at ") {
			t.Errorf("staged entry %s: fate %q, details %q", l.DN, l.Fate, l.Details)
		}
	}
	logPage := admin.get(e.path("/logs?action=StagedDelete"))
	for _, r := range logPage.rows("table:has(#log-caption)") {
		if r[3] != "Staged allowed" {
			t.Errorf("log row %q: status reads %q, want Staged allowed", r, r[3])
		}
	}
	info := admin.get(e.path("/status"))
	txt := info.text()
	for _, want := range []string{"The last time the guard stopped sync", "12 objects would have been deleted: 12 deletions reach the threshold of 10.",
		"Allow deletes by alice at ", "12 objects deleted."} {
		if !strings.Contains(txt, want) {
			t.Errorf("status info lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "has not stopped this configuration") || info.prop("main", "Started by") != "Allow deletes" {
		t.Errorf("status info: %q, started by %q", txt, info.prop("main", "Started by"))
	}
}

// TestThresholdThenAndNow: Basics edited while stopped; the banner and the
// status info say the threshold the guard tripped at and today's (3), and
// the save says it releases nothing.
func TestThresholdThenAndNow(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.tripGuard()
	admin := e.signIn(store.RoleAdmin)
	edit := admin.get(e.path("/basics/edit"))
	saved := admin.follow(admin.submit(edit, "Save", map[string]string{"Accidental deletion threshold": "100"}))
	if !strings.Contains(saved.flash(), "release none of the deletions already staged") {
		t.Errorf("flash = %q", saved.flash())
	}
	if txt := saved.text(); !strings.Contains(txt, "The threshold is now 100 (it was 10 when the guard stopped sync)") ||
		!strings.Contains(txt, "12 deletions reach the threshold of 10") {
		t.Errorf("banner:\n%s", txt)
	}
	info := admin.get(e.path("/status"))
	if txt := info.text(); !strings.Contains(txt, "12 deletions staged against a threshold of 10") ||
		!strings.Contains(txt, "The threshold is now 100") {
		t.Errorf("status info:\n%s", txt)
	}
	limits := info.rows("table:has(#tripped-limits-caption)")
	if len(limits) == 0 || !slices2(limits[0], "Accidental deletion threshold", "10", "12", "Reached") {
		t.Errorf("limits when it tripped: %q", limits)
	}
}

func slices2(row []string, want ...string) bool {
	return strings.Join(row, "|") == strings.Join(want, "|")
}

// TestWhetherTheAdminsWereTold: the banner says the notification waits in
// the Outbox and why (7).
func TestWhetherTheAdminsWereTold(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.tripGuard()
	if _, err := (&guard.Outbox{Store: e.Store}).DeliverDue(context.Background()); err == nil {
		t.Fatal("delivering without SMTP succeeded")
	}
	admin := e.signIn(store.RoleAdmin)
	want := "The notification to " + testEmail + " is not sent yet: SMTP is not configured (set --smtp-host). It waits in the Outbox."
	for _, path := range []string{"", "/status"} {
		if txt := admin.get(e.path(path)).text(); !strings.Contains(txt, want) {
			t.Errorf("%s does not say %q:\n%s", e.path(path), want, txt)
		}
	}
}

var zoned = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z][A-Za-z]*|[+-]\d+$`)

// TestTimesNameTheirZone: times on the pages say their zone (8).
func TestTimesNameTheirZone(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.tripGuard()
	admin := e.signIn(store.RoleAdmin)
	for _, r := range admin.get(e.path("/logs")).rows("table:has(#log-caption)") {
		if !zoned.MatchString(r[0]) {
			t.Errorf("log time %q has no zone", r[0])
		}
	}
	if got := admin.get(e.path("/status")).prop("main", "When"); !zoned.MatchString(got) {
		t.Errorf("When = %q, want a zone", got)
	}
}

// TestNothingLeadsNowhere: while sync runs, the menu offers neither Allow
// deletes nor Restart sync, and their addresses say so with a real heading
// (11, 12); Restart sync while healthy does not speak of staged deletions
// (13); a running cycle's page refreshes itself (9).
func TestNothingLeadsNowhere(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	allow := admin.get(e.path("/allow-deletes"))
	if h := squash(allow.Doc.Find("h1").Text()); h != "Nothing to allow" || allow.hasControl("Yes") {
		t.Errorf("Allow deletes while healthy: heading %q, Yes %v", h, allow.hasControl("Yes"))
	}
	restart := admin.get(e.path("/restart"))
	done := admin.follow(admin.submit(restart, "Yes", nil))
	e.waitCycles()
	if got := done.flash(); got != "Sync restarted. A full cycle is running." {
		t.Errorf("Restart while healthy says %q", got)
	}
	// A cycle running: the page asks to be shown again.
	if ok, err := e.Store.AcquireCycleLock(context.Background(), e.ConfigID, "other", 1, "elsewhere", e.Store.Now().Add(60e9)); !ok || err != nil {
		t.Fatalf("AcquireCycleLock = %v, %v", ok, err)
	}
	running := admin.get(e.path(""))
	// (The HTML parser reads <noscript> as text, as a browser running scripts does.)
	if !strings.Contains(running.Doc.Find("head noscript").Text(), `http-equiv="refresh"`) || running.Doc.Find("body[data-live]").Length() != 1 {
		t.Error("the page of a running cycle does not refresh itself")
	}
	if got := squash(running.Doc.Find(".page-status").Text()); !strings.HasPrefix(got, "Running read 0") {
		t.Errorf("status = %q", got)
	}
	e.Store.ReleaseCycleLock(context.Background(), e.ConfigID, "other")
	if idle := admin.get(e.path("")); idle.Doc.Find("head noscript").Length() != 0 || idle.Doc.Find("body[data-live]").Length() != 0 {
		t.Error("an idle page refreshes itself")
	}
}

// TestStoppedPageWatchesItsCycle: a cycle runs while sync is stopped (Run
// sync now releases what is back in scope): the headline stays the guard's
// stop, but the configuration page and the status info show themselves
// again until it ends, so its outcome appears without a reload (9).
func TestStoppedPageWatchesItsCycle(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.tripGuard()
	admin := e.signIn(store.RoleAdmin)
	ctx := context.Background()
	if ok, err := e.Store.AcquireCycleLock(ctx, e.ConfigID, "other", 1, "elsewhere", e.Store.Now().Add(60e9)); !ok || err != nil {
		t.Fatalf("AcquireCycleLock = %v, %v", ok, err)
	}
	for _, path := range []string{"", "/status"} {
		page := admin.get(e.path(path))
		if got := squash(page.Doc.Find(".page-status").Text()); !strings.Contains(got, "Delete threshold exceeded") {
			t.Errorf("%q: status = %q, want the guard's stop as the headline", path, got)
		}
		if !strings.Contains(page.Doc.Find("head noscript").Text(), `http-equiv="refresh"`) || page.Doc.Find("body[data-live]").Length() != 1 {
			t.Errorf("%q: a stopped configuration's running cycle does not refresh the page", path)
		}
	}
	e.Store.ReleaseCycleLock(ctx, e.ConfigID, "other")
	for _, path := range []string{"", "/status"} {
		if idle := admin.get(e.path(path)); idle.Doc.Find("head noscript").Length() != 0 || idle.Doc.Find("body[data-live]").Length() != 0 {
			t.Errorf("%q: a stopped configuration with no cycle running refreshes itself", path)
		}
	}
}

// TestRunNowWhileStoppedSaysWhatItMayDo: Run sync now while stopped says
// the cycle releases only the staged deletions back in scope, and that
// sync resumes only if all of them are: not that they all are (5).
func TestRunNowWhileStoppedSaysWhatItMayDo(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.tripGuard()
	admin := e.signIn(store.RoleAdmin)
	got := admin.follow(admin.submit(admin.get(e.path("")), "Run sync now", nil)).flash()
	e.waitCycles()
	want := "Sync is stopped: this cycle applies nothing and stages nothing new. " +
		"It releases the staged deletions of objects that are back in scope, and sync resumes only when all of them are."
	if !strings.HasSuffix(got, want) {
		t.Errorf("Run sync now while stopped says %q, want it to end %q", got, want)
	}
}

// TestWords: types read User and Group everywhere; a DN may break only
// after a comma (10, 13).
func TestWords(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.tripGuard()
	admin := e.signIn(store.RoleAdmin)
	logPage := admin.get(e.path("/logs"))
	for _, r := range logPage.rows("table:has(#log-caption)") {
		if r[4] != "User" && r[4] != "Group" {
			t.Errorf("log type %q", r[4])
		}
	}
	dn := logPage.Doc.Find("td.dn").First()
	if html, _ := dn.Html(); strings.Count(html, "<wbr/>") != strings.Count(dn.Text(), ",") {
		t.Errorf("DN cell %q: want a break opportunity after each comma", html)
	}
	if opts := logPage.byLabel("Type").Find("option").Text(); !strings.Contains(opts, "User") || strings.Contains(opts, "user") {
		t.Errorf("type options %q", opts)
	}
	// The filter of the staged objects words them as its table does, and
	// still sends the type's name.
	status := admin.get(e.path("/status"))
	typ := status.byLabel("Type")
	if opts := typ.Find("option").Text(); opts != "AnyUserGroup" {
		t.Errorf("status info type options %q, want Any, User, Group", opts)
	}
	if v := typ.Find("option").Eq(1).AttrOr("value", ""); v != "user" {
		t.Errorf("status info type option User sends %q, want user", v)
	}
}
