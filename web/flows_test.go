package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// Flow 1 of SPEC section 1: the pencil next to Basics, the form, Save; the
// new values show at once, are stored, audited, and hold for the next cycle.
func TestEditBasics(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)

	cfgPage := admin.get(e.path(""))
	cfgPage.wantStatus(http.StatusOK)
	form := admin.click(cfgPage, "Edit Basics")
	form.wantStatus(http.StatusOK)
	if got, want := form.URL.Path, e.path("/basics/edit"); got != want {
		t.Errorf("Edit Basics goes to %s, want %s", got, want)
	}
	if got, want := form.byLabel("Notification email").AttrOr("value", ""), testEmail; got != want {
		t.Errorf("Notification email = %q, want %q", got, want)
	}
	prevent := form.byLabel("Prevent accidental deletions")
	if got := prevent.AttrOr("type", ""); got != "checkbox" {
		t.Errorf("Prevent accidental deletions is a %q input, want a checkbox", got)
	}
	if _, checked := prevent.Attr("checked"); !checked {
		t.Error("Prevent accidental deletions is not ticked, want ticked (stored: on)")
	}
	if got, want := form.byLabel("Accidental deletion threshold").AttrOr("value", ""), strconv.Itoa(testThreshold); got != want {
		t.Errorf("Accidental deletion threshold = %q, want %q", got, want)
	}

	before := e.Clock.now().Add(-time.Second) // the store's clock
	res := admin.submit(form, "Save", map[string]string{
		"Notification email":            "ops@corp.example",
		"Prevent accidental deletions":  "",
		"Accidental deletion threshold": "25",
	})
	res.wantRedirect(e.path(""))
	shown := admin.follow(res)
	if got := shown.flash(); !strings.Contains(got, "Basics saved") {
		t.Errorf("flash = %q, want it to say the Basics were saved", got)
	}
	basics := shown.section("Basics")
	for name, want := range map[string]string{
		"Notification email":            "ops@corp.example",
		"Prevent accidental deletions":  "Off",
		"Accidental deletion threshold": "25",
	} {
		if got := shown.prop("section[aria-labelledby=basics-heading]", name); got != want {
			t.Errorf("Basics pane: %s = %q, want %q", name, got, want)
		}
	}
	if basics.Find("form").Length() != 0 {
		t.Error("the Basics pane still shows the form after saving")
	}

	if got, want := e.config().Basics, (store.Basics{Email: "ops@corp.example", Prevent: false, Threshold: 25}); got != want {
		t.Errorf("stored Basics = %+v, want %+v", got, want)
	}
	ev := e.audit()[0]
	if ev.Actor != "alice" || ev.Action != "Edited Basics" || ev.ConfigID != e.ConfigID || ev.Time.Before(before) {
		t.Errorf("audit event = %+v, want alice Edited Basics of %d, now", ev, e.ConfigID)
	}
	for _, change := range []string{
		"notification email: admin@corp.example → ops@corp.example",
		"prevent accidental deletions: on → off",
		"threshold: 10 → 25",
	} {
		if !strings.Contains(ev.Details, change) {
			t.Errorf("audit details %q lack %q", ev.Details, change)
		}
	}

	// The audit page shows who, when, what and old → new.
	audit := admin.get("/audit")
	audit.wantStatus(http.StatusOK)
	rows := audit.rows("table")
	if len(rows) == 0 {
		t.Fatal("audit page: no rows")
	}
	row := rows[0] // newest first
	if row[0] == "" || row[1] != "alice" || row[2] != "Edited Basics" || row[3] != testConfigName ||
		!strings.Contains(row[4], "threshold: 10 → 25") || !strings.Contains(row[4], "ops@corp.example") {
		t.Errorf("audit row = %q, want [time alice Edited Basics corp …threshold: 10 → 25…]", row)
	}

	// The values hold for the next cycle.
	admin.submit(admin.get(e.path("")), "Run sync now", nil).wantRedirect(e.path(""))
	e.waitCycles()
	if got := e.cycles()[0]; got.Threshold != 25 || got.Trigger != "manual" {
		t.Errorf("next cycle: threshold %d trigger %s, want 25 manual", got.Threshold, got.Trigger)
	}
}

// Flow 2: the guard trips; the status link leads to the sync status info.
func TestTrippedGuardStatusInfo(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	cfgPage := admin.get(e.path(""))
	if got := squash(cfgPage.Doc.Find(".page-status").Text()); got != "Healthy" {
		t.Errorf("status before = %q, want Healthy", got)
	}

	// The Sales users vanish from the source; an admin runs a cycle.
	e.writeLDIF(withoutBelow(generate(t, testDirectoryOptions), salesOU))
	res := admin.submit(cfgPage, "Run sync now", nil)
	res.wantRedirect(e.path(""))
	e.waitCycles()
	cfg := e.config()
	if cfg.QuarantineID == 0 || cfg.Status != store.StatusQuarantined {
		t.Fatalf("after the cycle: quarantine %d status %s, want quarantined", cfg.QuarantineID, cfg.Status)
	}

	cfgPage = admin.get(e.path(""))
	link := cfgPage.link("Delete threshold exceeded")
	if got, want := link.AttrOr("href", ""), e.path("/status"); got != want {
		t.Errorf("status link href = %q, want %q", got, want)
	}
	if link.Closest(".page-status").Length() == 0 {
		t.Error("the status itself (next to the name) is not the link")
	}
	list := admin.get("/configurations")
	if got := list.link("Delete threshold exceeded").AttrOr("href", ""); got != e.path("/status") {
		t.Errorf("configurations list: status link href = %q, want %q", got, e.path("/status"))
	}

	info := admin.click(cfgPage, "Delete threshold exceeded")
	info.wantStatus(http.StatusOK)
	txt := info.text()
	for _, want := range []string{
		fmt.Sprintf("%d deletions staged against a threshold of %d", usersPerOU, testThreshold),
		"Sync status info",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("status info lacks %q:\n%s", want, txt)
		}
	}
	if got, want := info.prop("main", "Cycle"), fmt.Sprintf("#%d", cfg.QuarantineID); got != want {
		t.Errorf("Cycle = %q, want %q", got, want)
	}
	if got := info.prop("main", "When"); got == "" {
		t.Error("When is empty")
	}
	if got, want := info.rows("#by-type-heading ~ .table-wrap table"), [][]string{{"Users", strconv.Itoa(usersPerOU)}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("by type = %q, want %q", got, want)
	}
	if got, want := info.rows("#by-ou-heading ~ .table-wrap table"), [][]string{{salesOU, strconv.Itoa(usersPerOU)}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("by OU = %q, want %q", got, want)
	}
	staged, err := e.Store.StagedChanges(context.Background(), store.StagedQuery{ConfigID: e.ConfigID, CycleID: cfg.QuarantineID,
		State: store.StagedPending, ByName: true, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	sample := info.rows("#sample-heading ~ form .table-wrap table")
	if len(sample) != len(staged) || len(sample) != usersPerOU {
		t.Fatalf("sample has %d rows, want %d (staged %d)", len(sample), usersPerOU, len(staged))
	}
	for i, d := range staged { // by name: the names read sorted
		typ := map[string]string{"user": "User", "group": "Group"}[d.Type]
		if want := []string{"", d.Name, typ, "Enabled", d.DN, "deleted at the source"}; !slices.Equal(sample[i], want) {
			t.Errorf("sample row %d = %q, want %q", i, sample[i], want)
		}
	}
	if txt := squash(info.Doc.Find("#sample-heading").Parent().Find("nav.pager").Text()); !strings.Contains(txt,
		fmt.Sprintf("Showing 1–%d of %d", usersPerOU, usersPerOU)) || !strings.Contains(txt, fmt.Sprintf("All %d in the provisioning log", usersPerOU)) {
		t.Errorf("sample pager = %q, want how many and a link to all of them", txt)
	}
	if got, want := info.rows("#by-cause-heading ~ .table-wrap table"), [][]string{{"deleted at the source", strconv.Itoa(usersPerOU)}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("by cause = %q, want %q", got, want)
	}

	// The link to the StagedDelete log of that cycle.
	logPage := admin.click(info, "View the staged deletions in the provisioning log")
	logPage.wantStatus(http.StatusOK)
	if got := logPage.URL.Query(); got.Get("action") != "StagedDelete" || got.Get("cycle") != strconv.FormatInt(cfg.QuarantineID, 10) {
		t.Errorf("log link query = %v, want action=StagedDelete cycle=%d", got, cfg.QuarantineID)
	}
	rows := logPage.rows("table")
	if len(rows) != usersPerOU {
		t.Fatalf("StagedDelete log has %d rows, want %d", len(rows), usersPerOU)
	}
	for _, r := range rows {
		if r[1] != strconv.FormatInt(cfg.QuarantineID, 10) || r[2] != "StagedDelete" || r[3] != "Staged pending" {
			t.Errorf("log row %q: want cycle %d StagedDelete Staged", r, cfg.QuarantineID)
		}
	}

	// The notification went to the outbox.
	outbox := admin.get("/outbox")
	if !strings.Contains(outbox.text(), "[syncguard] Delete threshold exceeded: corp") {
		t.Errorf("outbox lacks the notification:\n%s", outbox.text())
	}
}

// Flow 3: the ellipsis menu and the agent page.
func TestMoreActionsMenu(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	// While sync runs, the decisions on a quarantine are not offered: they
	// would lead nowhere.
	healthy := admin.get(e.path(""))
	for _, name := range []string{"Allow deletes", "Restart sync"} {
		if healthy.byName("a", name).Length() != 0 {
			t.Errorf("the menu of a healthy configuration offers %q", name)
		}
	}
	e.tripGuard()
	p := admin.get(e.path(""))
	button := p.byName("button", "More actions")
	if button.Length() != 1 {
		t.Fatalf("%d buttons named More actions, want 1", button.Length())
	}
	menu := p.Doc.Find("#" + button.AttrOr("popovertarget", "") + "[popover]")
	if menu.Length() == 0 {
		t.Fatal("More actions opens no popover menu")
	}
	want := map[string]string{
		"View provisioning log": e.path("/logs"),
		"View agent":            fmt.Sprintf("/agents/%d", e.AgentID),
		"Allow deletes":         e.path("/allow-deletes"),
		"Restart sync":          e.path("/restart"),
	}
	var names []string
	menu.Find("a").Each(func(_ int, a *goquery.Selection) {
		names = append(names, accessibleName(a))
		if href, ok := want[accessibleName(a)]; ok && a.AttrOr("href", "") != href {
			t.Errorf("menu item %q href = %q, want %q", accessibleName(a), a.AttrOr("href", ""), href)
		}
	})
	for name := range want {
		if !slices.Contains(names, name) {
			t.Errorf("menu lacks %q (has %q)", name, names)
		}
	}
	for name, path := range want {
		if got := admin.get(path); got.Status != http.StatusOK {
			t.Errorf("menu item %q (%s): status %d", name, path, got.Status)
		}
	}

	agent := admin.get(want["View agent"])
	txt := agent.text()
	for _, w := range []string{"Agent agent@test-host", "Active", "test-host", testVersion} {
		if !strings.Contains(txt, w) {
			t.Errorf("agent page lacks %q:\n%s", w, txt)
		}
	}
	if got := agent.link(testConfigName).AttrOr("href", ""); got != e.path("") {
		t.Errorf("agent page: link to corp = %q, want %q", got, e.path(""))
	}
}

// Flow 4: Allow deletes, with its confirmation; No changes nothing.
func TestAllowDeletes(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	cy := e.tripGuard()
	admin := e.signIn(store.RoleAdmin)
	usersBefore, groupsBefore := e.objects()

	cfgPage := admin.get(e.path(""))
	confirm := admin.click(cfgPage, "Allow deletes")
	confirm.wantStatus(http.StatusOK)
	if got, want := squash(confirm.Doc.Find("h1").Text()), fmt.Sprintf("Allow %d deletions from corp?", usersPerOU); got != want {
		t.Errorf("question = %q, want %q", got, want)
	}
	for _, b := range []string{"Yes", "No"} {
		if !confirm.hasControl(b) {
			t.Errorf("confirmation has no %q button", b)
		}
	}
	if got := confirm.formWithButton("Yes").Find(`input[name="quarantine"]`).AttrOr("value", ""); got != strconv.FormatInt(cy.ID, 10) {
		t.Errorf("Yes carries quarantine %q, want %d", got, cy.ID)
	}

	t.Run("No", func(t *testing.T) {
		before := e.snapshot()
		back := admin.submit(confirm, "No", nil)
		back.wantStatus(http.StatusOK)
		if back.URL.Path != e.path("") {
			t.Errorf("No goes to %s, want %s", back.URL.Path, e.path(""))
		}
		if !back.hasControl("Delete threshold exceeded") {
			t.Error("after No the status is not Delete threshold exceeded")
		}
		e.assertUnchanged(before, "No")
	})

	res := admin.submit(confirm, "Yes", nil)
	res.wantRedirect(e.path(""))
	after := admin.follow(res)
	if got := after.flash(); !strings.Contains(got, "accepted") || !strings.Contains(got, strconv.Itoa(usersPerOU)) {
		t.Errorf("flash = %q, want the deletions accepted, with their count", got)
	}
	if users, groups := e.objects(); users != usersBefore-usersPerOU || groups != groupsBefore {
		t.Errorf("objects after Yes: %d users %d groups, want %d and %d", users, groups, usersBefore-usersPerOU, groupsBefore)
	}
	dels := e.logs(store.LogQuery{Action: store.ActionDelete})
	if len(dels) != usersPerOU {
		t.Errorf("%d Delete log entries, want %d", len(dels), usersPerOU)
	}
	for _, d := range dels {
		if !strings.HasSuffix(d.DN, ","+salesOU) || d.Status != store.LogSuccess {
			t.Errorf("Delete entry %s %s: want a Sales user, Success", d.DN, d.Status)
		}
	}
	e.waitCycles()
	healthy := admin.get(e.path(""))
	if got := squash(healthy.Doc.Find(".page-status").Text()); got != "Healthy" {
		t.Errorf("status after the next cycle = %q, want Healthy", got)
	}
	if last := e.cycles()[0]; last.Trigger != "allow" || last.Outcome != store.OutcomeSucceeded {
		t.Errorf("next cycle: trigger %s outcome %s, want allow Succeeded", last.Trigger, last.Outcome)
	}
	if ev := e.audit()[0]; ev.Action != "Allowed deletes" || ev.Actor != "alice" {
		// The cycle after adds no audit event, so this is the newest.
		t.Errorf("newest audit event = %+v, want alice Allowed deletes", ev)
	}

	// The old confirmation's Yes, once more: nothing is left; nothing changes.
	before := e.snapshot()
	again := admin.submit(confirm, "Yes", nil)
	again.wantRedirect(e.path(""))
	if got := admin.follow(again).flash(); !strings.Contains(got, "Nothing was deleted") {
		t.Errorf("second Yes: flash = %q, want Nothing was deleted", got)
	}
	e.assertUnchanged(before, "a second Yes")

	// With nothing staged the confirmation says so and offers no Yes.
	nothing := admin.get(e.path("/allow-deletes"))
	if nothing.hasControl("Yes") || !strings.Contains(nothing.text(), "no staged deletions") {
		t.Errorf("confirmation without quarantine:\n%s", nothing.text())
	}
}

// Two admins press Yes for the same quarantine at once: one deletes, the
// other is told nothing was left, and each object is deleted once.
func TestAllowDeletesTwoAdminsAtOnce(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.tripGuard()
	alice := e.signInAs("alice", store.RoleAdmin)
	bob := e.signInAs("bob", store.RoleAdmin)
	clients := []*client{alice, bob}
	reqs := make([]*http.Request, len(clients))
	for i, c := range clients {
		reqs[i] = c.submitRequest(c.get(e.path("/allow-deletes")), "Yes", nil)
	}

	results := make([]*page, len(clients))
	errs := make([]error, len(clients))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = c.send(reqs[i])
		}()
	}
	close(start)
	wg.Wait()

	var accepted, refused int
	for i, c := range clients {
		if errs[i] != nil {
			t.Fatalf("POST: %v", errs[i])
		}
		results[i].wantRedirect(e.path(""))
		flash := c.follow(results[i]).flash()
		switch {
		case strings.Contains(flash, "accepted"):
			accepted++
		case strings.Contains(flash, "Nothing was deleted") && strings.Contains(flash, "no staged deletions left"):
			refused++
		default:
			t.Errorf("flash = %q", flash)
		}
	}
	if accepted != 1 || refused != 1 {
		t.Errorf("accepted %d, refused %d; want 1 and 1", accepted, refused)
	}
	e.waitCycles()
	if got := len(e.logs(store.LogQuery{Action: store.ActionDelete})); got != usersPerOU {
		t.Errorf("%d Delete log entries, want %d", got, usersPerOU)
	}
	var allowed int
	for _, ev := range e.audit() {
		if ev.Action == "Allowed deletes" {
			allowed++
		}
	}
	if allowed != 1 {
		t.Errorf("%d Allowed deletes audit events, want 1", allowed)
	}
	if users, _ := e.objects(); users != testUsers-usersPerOU {
		t.Errorf("%d users left, want %d", users, testUsers-usersPerOU)
	}
}

// Flow 5: the provisioning log: filters, newest first, keyset paging,
// details, CSV.
func TestProvisioningLog(t *testing.T) {
	t.Parallel()
	e := newTestServer(t) // first cycle two days ago: 60 user and 2 group creates
	cy := e.tripGuard()   // today: 12 StagedDelete
	admin := e.signIn(store.RoleAdmin)
	all := e.logs(store.LogQuery{})
	if len(all) != testUsers+testGroups+usersPerOU {
		t.Fatalf("%d log entries, want %d", len(all), testUsers+testGroups+usersPerOU)
	}
	day := func(d int) string { return e.Clock.now().AddDate(0, 0, d).Format("2006-01-02") }
	someone := all[len(all)-1].Name // the first user created

	logPage := admin.click(admin.get(e.path("")), "View provisioning log")
	logPage.wantStatus(http.StatusOK)
	for _, l := range []string{"Action", "Status", "Type", "Cycle", "From", "To", "Search name or DN"} {
		logPage.byLabel(l)
	}

	tests := []struct {
		name    string
		filters map[string]string // by label
		want    func(store.LogEntry) bool
	}{
		{"action StagedDelete", map[string]string{"Action": "StagedDelete"}, func(l store.LogEntry) bool { return l.Action == "StagedDelete" }},
		{"status Staged", map[string]string{"Status": "Staged"}, func(l store.LogEntry) bool { return l.Status == "Staged" }},
		{"status Success", map[string]string{"Status": "Success"}, func(l store.LogEntry) bool { return l.Status == "Success" }},
		{"type group", map[string]string{"Type": "group"}, func(l store.LogEntry) bool { return l.Type == "group" }},
		{"cycle", map[string]string{"Cycle": strconv.FormatInt(cy.ID, 10)}, func(l store.LogEntry) bool { return l.CycleID == cy.ID }},
		{"from today", map[string]string{"From": day(0)}, func(l store.LogEntry) bool { return l.Action == "StagedDelete" }},
		{"to two days ago", map[string]string{"To": day(-2)}, func(l store.LogEntry) bool { return l.Action == "Create" }},
		{"yesterday only", map[string]string{"From": day(-1), "To": day(-1)}, func(store.LogEntry) bool { return false }},
		{"text in DN", map[string]string{"Search name or DN": "OU=SALES"}, func(l store.LogEntry) bool { return strings.Contains(l.DN, "ou=Sales") }},
		{"text in name", map[string]string{"Search name or DN": someone}, func(l store.LogEntry) bool { return strings.Contains(l.Name, someone) }},
		{"action and type", map[string]string{"Action": "Create", "Type": "user", "Search name or DN": "sales"},
			func(l store.LogEntry) bool {
				return l.Action == "Create" && l.Type == "user" && strings.Contains(l.DN, "ou=Sales")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, l := range all {
				if tt.want(l) {
					want = append(want, strconv.FormatInt(l.ID, 10))
				}
			}
			if len(want) > 50 {
				want = want[:50]
			}
			filtered := admin.submit(logPage, "Filter", tt.filters)
			filtered.wantStatus(http.StatusOK)
			if got := entryIDs(filtered); !slices.Equal(got, want) {
				t.Errorf("entries = %v\nwant %v", got, want)
			}
			for label, v := range tt.filters { // the filter form keeps what was chosen
				if got := filterValue(filtered, label); got != v {
					t.Errorf("filter %s shows %q, want %q", label, got, v)
				}
			}
		})
	}

	t.Run("bad filter", func(t *testing.T) {
		bad := admin.submit(logPage, "Filter", map[string]string{"Cycle": "abc"})
		bad.wantStatus(http.StatusUnprocessableEntity)
		ctl := bad.byLabel("Cycle")
		if ctl.AttrOr("aria-invalid", "") != "true" || len(bad.describedBy(ctl)) == 0 {
			t.Error("the bad cycle field is not marked invalid with a message")
		}
	})

	t.Run("paging", func(t *testing.T) {
		first := admin.get(e.path("/logs"))
		ids := entryIDs(first)
		if len(ids) != 50 {
			t.Fatalf("first page has %d entries, want 50", len(ids))
		}
		if first.hasControl("Newest") {
			t.Error("the first page links to Newest")
		}
		second := admin.click(first, "Next page")
		second.wantStatus(http.StatusOK)
		more := entryIDs(second)
		if len(more) != len(all)-50 {
			t.Errorf("second page has %d entries, want %d", len(more), len(all)-50)
		}
		if second.hasControl("Next page") {
			t.Error("the last page links to a next page")
		}
		if !second.hasControl("Newest") {
			t.Error("the second page has no link back to the newest entries")
		}
		got := append(ids, more...)
		var want []string
		for _, l := range all {
			want = append(want, strconv.FormatInt(l.ID, 10))
		}
		if !slices.Equal(got, want) { // all of them, newest first, once each
			t.Errorf("pages = %v\nwant %v", got, want)
		}
		// Paging keeps the filters.
		firstCreates := admin.get(e.path("/logs?action=Create"))
		next := admin.click(firstCreates, "Next page")
		for _, r := range next.rows("table") {
			if r[2] != "Create" {
				t.Errorf("page 2 of Creates has a %s entry", r[2])
			}
		}
		if n := len(entryIDs(firstCreates)) + len(entryIDs(next)); n != testUsers+testGroups {
			t.Errorf("Creates over two pages: %d, want %d", n, testUsers+testGroups)
		}
	})

	t.Run("details", func(t *testing.T) {
		entry := all[0] // newest: a StagedDelete
		list := admin.get(e.path("/logs?action=StagedDelete"))
		details := admin.click(list, "Details for "+entry.Name)
		details.wantStatus(http.StatusOK)
		if got, want := squash(details.Doc.Find("h1").Text()), fmt.Sprintf("Log entry %d", entry.ID); got != want {
			t.Errorf("heading = %q, want %q", got, want)
		}
		for name, want := range map[string]string{
			"Cycle": strconv.FormatInt(entry.CycleID, 10), "Action": "StagedDelete", "Status": "Staged pending", "Type": "User",
			"Name": entry.Name, "DN": entry.DN, "Anchor": entry.Anchor, "Details": entry.Details,
		} {
			if got, want := details.prop("main", name), squash(want); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if !strings.Contains(entry.Details, "no longer in scope") {
			t.Errorf("details %q do not give the reason", entry.Details)
		}
		if admin.get(e.path("/logs/999999")).Status != http.StatusNotFound {
			t.Error("a missing entry is not 404")
		}
	})

	t.Run("CSV", func(t *testing.T) {
		list := admin.get(e.path("/logs?action=StagedDelete"))
		res := admin.click(list, "Download CSV")
		res.wantStatus(http.StatusOK)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type = %q, want text/csv", ct)
		}
		if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") {
			t.Errorf("Content-Disposition = %q, want an attachment", cd)
		}
		recs, err := csv.NewReader(strings.NewReader(res.Body)).ReadAll()
		if err != nil {
			t.Fatalf("CSV: %v", err)
		}
		if want := []string{"id", "time", "cycle", "action", "status", "type", "name", "dn", "anchor", "details", "cause", "fate"}; !slices.Equal(recs[0], want) {
			t.Errorf("header = %q, want %q", recs[0], want)
		}
		if len(recs)-1 != usersPerOU {
			t.Fatalf("%d rows, want %d", len(recs)-1, usersPerOU)
		}
		for i, r := range recs[1:] {
			l := all[i]
			if r[0] != strconv.FormatInt(l.ID, 10) || r[3] != "StagedDelete" || r[4] != "Staged" || r[6] != l.Name || r[7] != l.DN {
				t.Errorf("row %d = %q, want entry %d %s", i, r, l.ID, l.DN)
			}
		}
		whole := admin.get(e.path("/logs.csv"))
		recs, err = csv.NewReader(strings.NewReader(whole.Body)).ReadAll()
		if err != nil || len(recs)-1 != len(all) {
			t.Errorf("whole CSV: %d rows (%v), want %d", len(recs)-1, err, len(all))
		}
	})
}

// entryIDs are the IDs of the log entries a page lists, from their details links.
func entryIDs(p *page) []string {
	var ids []string
	p.Doc.Find("table tbody tr").Each(func(_ int, tr *goquery.Selection) {
		href, _, _ := strings.Cut(tr.Find("a").Last().AttrOr("href", ""), "?") // the list's filters ride along
		ids = append(ids, href[strings.LastIndex(href, "/")+1:])
	})
	return ids
}

// filterValue is the value a filter control shows.
func filterValue(p *page, label string) string {
	ctl := p.byLabel(label)
	if goquery.NodeName(ctl) == "select" {
		return ctl.Find("option[selected]").AttrOr("value", "")
	}
	return ctl.AttrOr("value", "")
}

// Flow 6: reject the deletions: fix the cause (in the source or in the
// scope), then Restart sync: the staged deletions are discarded, a fresh
// cycle runs, nothing is deleted.
func TestRestartSync(t *testing.T) {
	t.Parallel()
	t.Run("source fixed", func(t *testing.T) {
		e := newTestServer(t)
		cy := e.tripGuard()
		admin := e.signIn(store.RoleAdmin)
		e.writeLDIF(generate(t, testDirectoryOptions)) // the Sales users are back
		restartAndCheck(t, e, admin, cy.ID)
	})

	t.Run("scope fixed", func(t *testing.T) {
		e := newTestServer(t)
		admin := e.signIn(store.RoleAdmin)
		// An admin narrows the scope and leaves Sales out by mistake.
		scopePage := admin.click(admin.get(e.path("")), "Edit Scope")
		scopePage.wantStatus(http.StatusOK)
		ous := map[string]string{}
		scopePage.Doc.Find(`input[type="checkbox"][name="ou"]`).Each(func(_ int, s *goquery.Selection) {
			ous[s.AttrOr("value", "")] = ""
		})
		for _, ou := range []string{"dc=corp,dc=example", salesOU, "ou=Engineering,dc=corp,dc=example", "ou=Finance,dc=corp,dc=example",
			"ou=Marketing,dc=corp,dc=example", "ou=Support,dc=corp,dc=example", "ou=Groups,dc=corp,dc=example"} {
			if _, ok := ous[ou]; !ok {
				t.Errorf("scope form lacks a checkbox for %s (has %v)", ou, ous)
			}
		}
		if _, checked := scopePage.byLabel("dc=corp,dc=example").Attr("checked"); !checked {
			t.Error("the base DN (the current scope) is not ticked")
		}
		pick := map[string]string{"dc=corp,dc=example": ""}
		for _, ou := range []string{"ou=Engineering,dc=corp,dc=example", "ou=Finance,dc=corp,dc=example",
			"ou=Marketing,dc=corp,dc=example", "ou=Support,dc=corp,dc=example", "ou=Groups,dc=corp,dc=example"} {
			pick[ou] = "x"
		}
		res := admin.submit(scopePage, "Save", pick)
		res.wantRedirect(e.path(""))
		if got := admin.follow(res).flash(); !strings.Contains(got, "Scope saved: 5 OU(s)") {
			t.Errorf("flash = %q", got)
		}
		admin.submit(admin.get(e.path("")), "Run sync now", nil).wantRedirect(e.path(""))
		e.waitCycles()
		cfg := e.config()
		if cfg.QuarantineID == 0 || e.pending() != usersPerOU {
			t.Fatalf("after narrowing the scope: quarantine %d, %d pending; want the guard tripped with %d", cfg.QuarantineID, e.pending(), usersPerOU)
		}

		// The admin finds the cause and puts Sales back in scope.
		scopePage = admin.click(admin.get(e.path("")), "Edit Scope")
		res = admin.submit(scopePage, "Save", map[string]string{salesOU: "x"})
		res.wantRedirect(e.path(""))
		if got := e.config().Scope; !slices.Contains(got, salesOU) || len(got) != 6 {
			t.Errorf("scope = %q, want Sales and the 5 others", got)
		}
		restartAndCheck(t, e, admin, cfg.QuarantineID)
	})

	t.Run("not fixed: the guard trips again", func(t *testing.T) {
		e := newTestServer(t)
		cy := e.tripGuard()
		admin := e.signIn(store.RoleAdmin)
		confirm := admin.click(admin.get(e.path("")), "Restart sync")
		res := admin.submit(confirm, "Yes", nil)
		res.wantRedirect(e.path(""))
		admin.follow(res)
		e.waitCycles()
		cfg := e.config()
		if cfg.QuarantineID == 0 || cfg.QuarantineID == cy.ID || e.pending() != usersPerOU {
			t.Errorf("quarantine %d (was %d), %d pending: want a new quarantine of %d", cfg.QuarantineID, cy.ID, e.pending(), usersPerOU)
		}
		if users, _ := e.objects(); users != testUsers {
			t.Errorf("%d users, want %d: nothing deleted", users, testUsers)
		}
		// The old confirmation's Yes no longer matches: it changes nothing and says so.
		before := e.snapshot()
		stale := admin.submit(confirm, "Yes", nil)
		stale.wantRedirect(e.path(""))
		if got := admin.follow(stale).flash(); !strings.Contains(got, "not restarted") {
			t.Errorf("stale Yes: flash = %q", got)
		}
		e.assertUnchanged(before, "a stale Restart Yes")
		staleAllow := admin.postForm(e.path("/allow-deletes"), e.path("/allow-deletes"),
			url.Values{"quarantine": {strconv.FormatInt(cy.ID, 10)}})
		staleAllow.wantRedirect(e.path(""))
		if got := admin.follow(staleAllow).flash(); !strings.Contains(got, "Nothing was deleted") || !strings.Contains(got, "no longer current") {
			t.Errorf("stale Allow Yes: flash = %q", got)
		}
		e.assertUnchanged(before, "a stale Allow Yes")
	})
}

// restartAndCheck presses Restart sync → Yes and checks the staged deletions
// are discarded, a fresh cycle runs to Healthy and nothing is deleted.
func restartAndCheck(t *testing.T, e *env, admin *client, quarantine int64) {
	t.Helper()
	usersBefore, groupsBefore := e.objects()
	confirm := admin.click(admin.get(e.path("")), "Restart sync")
	confirm.wantStatus(http.StatusOK)
	if got, want := squash(confirm.Doc.Find("h1").Text()), "Restart sync for corp?"; got != want {
		t.Errorf("question = %q, want %q", got, want)
	}
	if !strings.Contains(confirm.text(), fmt.Sprintf("discards the %d staged deletions staged by cycle %d", usersPerOU, quarantine)) {
		t.Errorf("confirmation does not say what Yes does:\n%s", confirm.text())
	}
	res := admin.submit(confirm, "Yes", nil)
	res.wantRedirect(e.path(""))
	if got := admin.follow(res).flash(); !strings.Contains(got, fmt.Sprintf("%d staged deletions discarded, nothing deleted", usersPerOU)) {
		t.Errorf("flash = %q", got)
	}
	e.waitCycles()
	cfg := e.config()
	if cfg.QuarantineID != 0 || cfg.Status != store.StatusHealthy {
		t.Errorf("after restart: quarantine %d status %s, want none, healthy", cfg.QuarantineID, cfg.Status)
	}
	if got := squash(admin.get(e.path("")).Doc.Find(".page-status").Text()); got != "Healthy" {
		t.Errorf("status shown = %q, want Healthy", got)
	}
	if last := e.cycles()[0]; last.Trigger != "restart" || last.Outcome != store.OutcomeSucceeded || last.Deletes != 0 {
		t.Errorf("fresh cycle: %+v, want restart Succeeded without deletes", last)
	}
	staged, err := e.Store.StagedDeletes(context.Background(), e.ConfigID, quarantine, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range staged {
		if d.State != store.StagedDiscarded || d.DecidedBy != "alice" {
			t.Errorf("staged delete %s: %s by %q, want discarded by alice", d.DN, d.State, d.DecidedBy)
		}
	}
	if users, groups := e.objects(); users != usersBefore || groups != groupsBefore {
		t.Errorf("objects %d/%d, want %d/%d: nothing deleted", users, groups, usersBefore, groupsBefore)
	}
	if n := len(e.logs(store.LogQuery{Action: store.ActionDelete})); n != 0 {
		t.Errorf("%d Delete log entries, want none", n)
	}
}

// TestStatusInfoAccountsAndCauses: the sample of staged objects says which
// accounts are disabled at the source, and each staged delete's cause; the
// log entry of a staged delete names its cause.
func TestStatusInfoAccountsAndCauses(t *testing.T) {
	t.Parallel()
	full := generate(t, testDirectoryOptions)
	recs := ldifRecords(full)
	var disabled string
	for i, rec := range recs {
		if dn := recordDN(rec); strings.HasSuffix(strings.ToLower(dn), ","+strings.ToLower(salesOU)) && disabled == "" {
			recs[i], disabled = rec+"\nuserAccountControl: 514", dn
		}
	}
	e := newTestServerWith(t, setup{LDIF: []byte(strings.Join(recs, "\n\n") + "\n\n")})
	ctx := context.Background()
	if c, err := e.Engine.RunCycle(ctx, e.ConfigID, guard.TriggerManual); err != nil || c.Outcome != store.OutcomeSucceeded {
		t.Fatalf("first cycle: %+v, %v", c, err)
	}
	e.writeLDIF(withoutBelow(full, salesOU))
	if c, err := e.Engine.RunCycle(ctx, e.ConfigID, guard.TriggerManual); err != nil || c.Outcome != store.OutcomeQuarantined {
		t.Fatalf("cycle without Sales: %+v, %v", c, err)
	}
	admin := e.signIn(store.RoleAdmin)
	info := admin.get(e.path("/status"))
	found := 0
	for _, row := range info.rows("#sample-heading ~ form .table-wrap table") {
		want := "Enabled"
		if row[4] == disabled {
			want, found = "Disabled", found+1
		}
		if row[3] != want || row[5] != "deleted at the source" {
			t.Errorf("sample row %q: want account %s, cause deleted at the source", row, want)
		}
	}
	if found != 1 {
		t.Errorf("the disabled user %s is not in the sample", disabled)
	}
	entries, err := e.Store.Logs(ctx, store.LogQuery{ConfigID: e.ConfigID, Action: store.ActionStagedDelete, Limit: 1})
	if err != nil || len(entries) != 1 {
		t.Fatalf("Logs = %v, %v", entries, err)
	}
	entry := admin.get(e.path("/logs/" + strconv.FormatInt(entries[0].ID, 10)))
	if got := entry.prop("main", "Cause"); got != "deleted at the source" {
		t.Errorf("log entry page: Cause = %q", got)
	}
}
