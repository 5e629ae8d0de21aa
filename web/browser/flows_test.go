package browser

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// The admin flows of SPEC section 1, clicked through the real portal. Each
// runs with JavaScript on and off unless it is about JavaScript itself.

// signedIn starts a portal and a tab signed in as the admin, on the
// configuration's page.
func signedIn(t *testing.T, js bool) (*portal, *tab) {
	t.Helper()
	p := startPortal(t)
	b := openTab(t, p, js)
	b.open(p.URL + "/login")
	if code := b.signIn(adminName, adminPassword); code != http.StatusOK {
		b.fatalf("sign in: status %d", code)
	}
	b.wantPath("/configurations")
	if code := b.open(p.configURL("")); code != http.StatusOK {
		b.fatalf("configuration page: status %d", code)
	}
	b.wantHeading(configName)
	return p, b
}

// trip makes the guard stop the configuration without the browser: the
// Sales OU disappears from the source and a cycle runs.
func (p *portal) trip(t *testing.T) *store.Cycle {
	t.Helper()
	p.removeOU(t, salesOU)
	cy, err := p.Engine.RunCycle(context.Background(), p.ConfigID, guard.TriggerManual)
	if err != nil {
		t.Fatalf("RunCycle: %v", err)
	}
	if cy.Outcome != store.OutcomeQuarantined || cy.StagedDeletes != salesUsers {
		t.Fatalf("cycle %d: outcome %s, %d staged, want Quarantined with %d", cy.ID, cy.Outcome, cy.StagedDeletes, salesUsers)
	}
	return cy
}

// 1. Sign in; a wrong password shows a message and leaves no session.
func TestSignIn(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p := startPortal(t)
		b := openTab(t, p, js)

		b.open(p.URL + "/configurations")
		b.wantPath("/login")
		b.wantHeading("Sign in")

		if code := b.signIn(adminName, "not the password"); code != http.StatusUnauthorized {
			b.fatalf("wrong password: status %d, want %d", code, http.StatusUnauthorized)
		}
		b.wantText("The username or password is not right.")
		if got := b.value("Username"); got != adminName {
			b.fatalf("Username after a failed sign-in = %q, want it kept (%q)", got, adminName)
		}
		if got := b.value("Password"); got != "" {
			b.fatalf("Password after a failed sign-in = %q, want it empty", got)
		}
		if _, ok := b.cookie("syncguard_session"); ok {
			b.fatalf("a failed sign-in set a session cookie")
		}
		b.open(p.URL + "/configurations")
		b.wantPath("/login")

		if code := b.signIn(adminName, adminPassword); code != http.StatusOK {
			b.fatalf("sign in: status %d", code)
		}
		b.wantPath("/configurations")
		b.wantHeading("Configurations")
		b.wantText(configName, "Healthy", adminName)

		b.follow(find("button", "Sign out"))
		b.wantPath("/login")
		b.open(p.URL + "/configurations")
		b.wantPath("/login")
	})
}

// 2. Edit Basics: a bad threshold is shown again with a message by the
// field; good values are saved and shown at once.
func TestEditBasics(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		b.screenshot("configuration-healthy")
		b.wantProp("Accidental deletion threshold", strconv.Itoa(threshold))

		b.follow(find("link", "Edit Basics"))
		b.fill("Accidental deletion threshold", "abc")
		if code := b.follow(find("button", "Save")); code != http.StatusUnprocessableEntity {
			b.fatalf("saving threshold abc: status %d, want %d", code, http.StatusUnprocessableEntity)
		}
		if got := b.value("Accidental deletion threshold"); got != "abc" {
			b.fatalf("threshold after the failed save = %q, want the typed value kept", got)
		}
		if d := b.description("Accidental deletion threshold"); !strings.Contains(d, `"abc" is not a whole number`) {
			b.fatalf("the threshold field is described by %q, want the message about abc", d)
		}
		if got := p.config(t).Basics.Threshold; got != threshold {
			t.Fatalf("stored threshold = %d after a bad save, want %d", got, threshold)
		}

		// Good values, prevention off.
		b.fill("Accidental deletion threshold", "40")
		b.fill("Notification email", "ops@corp.example")
		b.setChecked("Prevent accidental deletions", false)
		if code := b.follow(find("button", "Save")); code != http.StatusOK {
			b.fatalf("save: status %d", code)
		}
		b.wantPath("/configurations/" + itoa(p.ConfigID))
		b.wantText("Basics saved.")
		b.wantProp("Notification email", "ops@corp.example")
		b.wantProp("Prevent accidental deletions", "Off")
		b.wantProp("Accidental deletion threshold", "40")

		// And on again.
		b.follow(find("link", "Edit Basics"))
		if b.checked("Prevent accidental deletions") {
			b.fatalf("the form shows Prevent accidental deletions ticked; it was saved off")
		}
		b.setChecked("Prevent accidental deletions", true)
		b.follow(find("button", "Save"))
		b.wantText("Basics saved.")
		b.wantProp("Prevent accidental deletions", "On")
		b.wantProp("Accidental deletion threshold", "40")

		got := p.config(t).Basics
		if want := (store.Basics{Email: "ops@corp.example", Prevent: true, Threshold: 40}); got != want {
			t.Errorf("stored Basics = %+v, want %+v", got, want)
		}
	})
}

// 3. The guard trips: the status reads Delete threshold exceeded and links
// to the sync status info with the counts, the threshold and the OUs. The
// notification email links there too (8).
func TestGuardTrips(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		p.removeOU(t, salesOU)

		b.menu("Run sync now")
		b.wantText("A cycle of corp has started.")
		b.reloadUntil("Delete threshold exceeded")
		b.wantText("Sync stopped since", "60 deletions staged by cycle "+itoa(p.config(t).QuarantineID)+" wait for an admin.",
			"The guard stopped it because 60 deletions reach the threshold of 50.", "The notification")
		b.screenshot("configuration-quarantined")

		b.follow(find("link", "Delete threshold exceeded"))
		b.wantPath("/configurations/" + itoa(p.ConfigID) + "/status")
		b.wantHeading("Sync status info")
		cy := p.config(t).QuarantineID
		b.wantText("60 deletions staged against a threshold of 50")
		b.wantProp("Cycle", "#"+itoa(cy))
		b.wantProp("Still pending", "60")
		byType := b.table("Staged deletions by object type, table")
		if got, want := strings.Join(byType.col("Object type"), ","), "Users"; got != want {
			b.fatalf("object types = %s, want %s", got, want)
		}
		if got, want := strings.Join(byType.col("Deletions"), ","), "60"; got != want {
			b.fatalf("deletions by type = %s, want %s", got, want)
		}
		byOU := b.table("Staged deletions by OU, table")
		if got, want := strings.Join(byOU.col("OU"), ","), salesOU; got != want {
			b.fatalf("OUs = %s, want %s", got, want)
		}
		if got, want := strings.Join(byOU.col("Deletions"), ","), "60"; got != want {
			b.fatalf("deletions by OU = %s, want %s", got, want)
		}
		sample := b.table("Staged objects by name")
		if len(sample.Rows) != 50 {
			b.fatalf("the first page of staged objects has %d rows, want 50", len(sample.Rows))
		}
		for _, dn := range sample.col("DN") {
			if !strings.HasSuffix(dn, ","+salesOU) {
				b.fatalf("sample DN %s is not under %s", dn, salesOU)
			}
		}
		if names := sample.col("Name"); !slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }) {
			b.fatalf("the staged objects are not sorted by name: %v", names)
		}
		b.wantText("Showing 1–50 of 60", "All 60 in the provisioning log")
		b.screenshot("sync-status-info")

		// 8. The notification.
		msgs := p.SMTP.WaitMessages(t, 1, 10*time.Second)
		checkNotification(t, p, msgs[0].To, msgs[0].Subject, msgs[0].Body)
	})
}

var linkRE = regexp.MustCompile(`https?://\S+`)

// checkNotification checks the email of a quarantine and returns its link.
func checkNotification(t *testing.T, p *portal, to []string, subject, body string) string {
	t.Helper()
	if len(to) != 1 || to[0] != notifyTo {
		t.Errorf("notification to %v, want %s", to, notifyTo)
	}
	if want := "[syncguard] Delete threshold exceeded: " + configName; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}
	for _, want := range []string{"60 objects", "threshold of 50", salesOU} {
		if !strings.Contains(body, want) {
			t.Errorf("the body does not say %q:\n%s", want, body)
		}
	}
	link := linkRE.FindString(body)
	if want := p.configURL("/status"); link != want {
		t.Fatalf("link in the email = %q, want %q:\n%s", link, want, body)
	}
	return link
}

// 4. The provisioning log, filtered on StagedDelete, paged, with details.
func TestProvisioningLog(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		cy := p.trip(t)
		b.open(p.configURL(""))

		b.menu("View provisioning log")
		b.wantPath("/configurations/" + itoa(p.ConfigID) + "/logs")
		b.wantHeading("Provisioning log")
		all := b.table("Provisioning log entries, newest first")
		if len(all.Rows) == 0 {
			b.fatalf("the provisioning log is empty")
		}

		b.choose("Action", "StagedDelete")
		b.follow(find("button", "Filter"))
		if got := b.location().Query().Get("action"); got != "StagedDelete" {
			b.fatalf("filter address has action=%q, want StagedDelete", got)
		}
		if got := b.value("Action"); got != "StagedDelete" {
			b.fatalf("the Action filter shows %q after filtering", got)
		}
		page1 := b.table("Provisioning log entries, newest first")
		for i, a := range page1.col("Action") {
			if a != "StagedDelete" || page1.col("Status")[i] != "Staged pending" || page1.col("Cycle")[i] != itoa(cy.ID) {
				b.fatalf("row %d: %v, want StagedDelete / Staged of cycle %d", i, page1.Rows[i], cy.ID)
			}
		}
		b.screenshot("provisioning-log")
		b.follow(find("link", "Next page"))
		page2 := b.table("Provisioning log entries, newest first")
		if got := len(page1.Rows) + len(page2.Rows); got != salesUsers {
			b.fatalf("%d + %d StagedDelete entries over two pages, want %d", len(page1.Rows), len(page2.Rows), salesUsers)
		}
		b.follow(find("link", "Newest"))

		name := page1.col("Name")[0]
		b.follow(findPrefix("link", "Details for "))
		b.wantText("Log entry ")
		b.wantProp("Action", "StagedDelete")
		b.wantProp("Status", "Staged pending")
		b.wantProp("Name", name)
		b.wantProp("Cycle", itoa(cy.ID))
		if dn := b.prop("DN"); !strings.HasSuffix(dn, ","+salesOU) {
			b.fatalf("DN = %s, want one under %s", dn, salesOU)
		}
		if d := b.prop("Details"); !strings.Contains(d, "no longer in scope") {
			b.fatalf("Details = %q, want the reason", d)
		}
		b.follow(find("link", "Back to the provisioning log"))
		b.wantHeading("Provisioning log")
		if got := b.location().Query().Get("action"); got != "StagedDelete" {
			b.fatalf("Back to the provisioning log lost the filter: action=%q", got)
		}
		// From the second page, Back returns to the second page.
		b.follow(find("link", "Next page"))
		second := b.location().Query().Get("before")
		b.follow(findPrefix("link", "Details for "))
		b.follow(find("link", "Back to the provisioning log"))
		if q := b.location().Query(); q.Get("before") != second || q.Get("action") != "StagedDelete" {
			b.fatalf("Back to the provisioning log from page 2 leads to %v, want before=%s action=StagedDelete", q, second)
		}
	})
}

// 5. View agent.
func TestViewAgent(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		b.menu("View agent")
		b.wantPath("/agents/" + itoa(p.AgentID))
		b.wantHeading("Agent agent@browser-test")
		b.wantText("Active")
		b.wantProp("Host", "browser-test.local")
		b.wantProp("Version", "test")
		b.follow(find("link", configName))
		b.wantPath("/configurations/" + itoa(p.ConfigID))
	})
}

// 6. Allow deletes: No changes nothing; Yes deletes the staged objects, says
// they were accepted, and the next cycle makes the status Healthy.
func TestAllowDeletes(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		p.trip(t)
		b.open(p.configURL(""))
		b.wantText("Delete threshold exceeded")

		b.menu("Allow deletes")
		b.wantHeading("Allow 60 deletions from corp?")
		b.waitFocus("No") // autofocus: the safe answer
		b.screenshot("allow-confirmation")
		b.follow(find("button", "No"))
		b.wantPath("/configurations/" + itoa(p.ConfigID))
		b.wantText("Delete threshold exceeded")
		if users, _ := p.objectCounts(t); users != allUsers {
			t.Fatalf("No deleted something: %d users, want %d", users, allUsers)
		}

		b.menu("Allow deletes")
		b.follow(find("button", "Yes"))
		b.wantPath("/configurations/" + itoa(p.ConfigID))
		b.wantText("accepted", "60 objects deleted")
		b.reloadUntil("Healthy")
		b.noText("Sync stopped since")
		b.wantStatus("Healthy")

		checkAllowed(t, p)
	})
}

// Two admins confirm Allow deletes at the same time: the objects are deleted
// once, and the second admin is told there was nothing left to allow.
func TestAllowDeletesFromTwoTabs(t *testing.T) {
	p := startPortal(t)
	p.trip(t)
	var admins [2]*tab
	for i := range admins {
		b := openTab(t, p, true)
		b.open(p.configURL("/allow-deletes"))
		b.signIn(adminName, adminPassword)
		b.wantHeading("Allow 60 deletions from corp?")
		admins[i] = b
	}
	admins[0].follow(find("button", "Yes"))
	admins[0].wantText("accepted")
	admins[1].follow(find("button", "Yes"))
	admins[1].wantText("Nothing was deleted: there are no staged deletions left to allow for corp.")
	admins[1].noText("accepted")
	admins[1].reloadUntil("Healthy")
	checkAllowed(t, p)
}

// checkAllowed checks the store after Allow deletes.
func checkAllowed(t *testing.T, p *portal) {
	t.Helper()
	if users, groups := p.objectCounts(t); users != allUsers-salesUsers || groups != allGroups {
		t.Errorf("target directory: %d users, %d groups; want %d, %d", users, groups, allUsers-salesUsers, allGroups)
	}
	if n := p.logCount(t, store.ActionDelete); n != salesUsers {
		t.Errorf("%d Delete log entries, want %d", n, salesUsers)
	}
	cfg := p.config(t)
	if cfg.QuarantineID != 0 || cfg.Status != store.StatusHealthy {
		t.Errorf("configuration: quarantine %d, status %s; want none, healthy", cfg.QuarantineID, cfg.Status)
	}
}

// 7. Reject the deletions: the scope lost an OU by mistake; tick it back in
// Edit Scope and Restart sync: nothing is deleted and the status is Healthy.
func TestRestartSync(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)

		// The mistake: Sales leaves the scope.
		b.follow(find("link", "Edit Scope"))
		b.setChecked(salesOU, false)
		b.follow(find("button", "Save"))
		b.wantText("Scope saved: 5 OU(s) in scope.")
		b.menu("Run sync now")
		b.reloadUntil("Delete threshold exceeded")
		cy := p.config(t).QuarantineID

		// The fix, then Restart sync.
		b.follow(find("link", "Edit Scope"))
		if b.checked(salesOU) {
			b.fatalf("%s is ticked in the scope form; it was saved unticked", salesOU)
		}
		b.setChecked(salesOU, true)
		b.follow(find("button", "Save"))
		b.wantText("Scope saved: 6 OU(s) in scope.")
		b.wantText("Delete threshold exceeded") // saving the scope releases nothing by itself

		b.menu("Restart sync")
		b.wantHeading("Restart sync for corp?")
		b.waitFocus("No") // autofocus: the safe answer
		b.follow(find("button", "Yes"))
		b.wantText("Sync restarted: 60 staged deletions discarded, nothing deleted.")
		b.reloadUntil("Healthy")
		b.noText("Sync stopped since")
		b.wantStatus("Healthy")

		if users, groups := p.objectCounts(t); users != allUsers || groups != allGroups {
			t.Errorf("target directory: %d users, %d groups; want %d, %d", users, groups, allUsers, allGroups)
		}
		if n := p.logCount(t, store.ActionDelete); n != 0 {
			t.Errorf("%d Delete log entries, want none", n)
		}
		discarded, err := p.Store.StagedDeletes(context.Background(), p.ConfigID, cy, store.StagedDiscarded, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(discarded) != salesUsers {
			t.Errorf("%d staged deletes discarded, want %d", len(discarded), salesUsers)
		}
		if cfg := p.config(t); cfg.QuarantineID != 0 || cfg.Status != store.StatusHealthy {
			t.Errorf("configuration: quarantine %d, status %s; want none, healthy", cfg.QuarantineID, cfg.Status)
		}
	})
}

// 8. The link in the notification email opens the sync status info, after
// signing in when needed.
func TestNotificationLink(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p := startPortal(t)
		p.trip(t)
		msgs := p.SMTP.WaitMessages(t, 1, 10*time.Second)
		link := checkNotification(t, p, msgs[0].To, msgs[0].Subject, msgs[0].Body)

		b := openTab(t, p, js)
		b.open(link)
		b.wantPath("/login")
		if code := b.signIn(adminName, adminPassword); code != http.StatusOK {
			b.fatalf("sign in: status %d", code)
		}
		b.wantPath("/configurations/" + itoa(p.ConfigID) + "/status")
		b.wantHeading("Sync status info")
		b.wantText("60 deletions staged against a threshold of 50")

		b.open(p.URL + "/configurations")
		b.open(link)
		b.wantHeading("Sync status info")
	})
}

// A viewer sees everything and can change nothing.
func TestViewer(t *testing.T) {
	p := startPortal(t)
	p.trip(t)
	b := openTab(t, p, true)
	b.open(p.configURL(""))
	b.signIn(viewerName, viewerPassword)
	b.wantPath("/configurations/" + itoa(p.ConfigID))
	b.wantText("Delete threshold exceeded")
	b.click(find("button", "More actions"))
	b.wantText("View provisioning log", "View agent")
	b.noText("Allow deletes", "Restart sync", "Run sync now")
	if n := eval[int](b, `document.querySelectorAll('a[aria-label="Edit Basics"], a[aria-label="Edit Scope"]').length`); n != 0 {
		b.fatalf("a viewer sees %d pencils", n)
	}
	if code := b.open(p.configURL("/allow-deletes")); code != http.StatusForbidden {
		b.fatalf("a viewer opening Allow deletes: status %d, want 403", code)
	}
	b.wantText("Only an admin can do this.")
}
