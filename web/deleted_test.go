package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// The hold before deletions become final (SPEC section 10) in the portal:
// Hold deletions in the Basics, allowed deletions held, the Deleted
// objects page, and Restore of one, of the ticked, of an OU — each
// confirmed with Yes — after which the guard still counts what the source
// lacks.
func TestDeletedObjects(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)

	// Hold deletions, with the Basics pencil; a bad value is refused by
	// its field.
	form := admin.click(admin.get(e.path("")), "Edit Basics")
	if got := form.byLabel("Hold deletions").AttrOr("value", ""); got != "0" {
		t.Errorf("Hold deletions = %q, want 0 (deleted at once)", got)
	}
	bad := admin.submit(form, "Save", map[string]string{"Hold deletions": "forever"})
	bad.wantStatus(http.StatusUnprocessableEntity)
	if msg := bad.describedBy(bad.byLabel("Hold deletions")); len(msg) != 2 || !strings.Contains(msg[1].Text(), "not a length of time") {
		t.Errorf("Hold deletions forever: no message by the field:\n%s", excerpt(bad))
	}
	if got := e.config().Basics.Hold; got != 0 {
		t.Errorf("a refused form saved the hold %s", got)
	}
	saved := admin.follow(admin.submit(form, "Save", map[string]string{"Hold deletions": "3d"}))
	if got := saved.prop("section[aria-labelledby=basics-heading]", "Hold deletions"); got != "72h before a deletion is final" {
		t.Errorf("Basics pane: Hold deletions = %q", got)
	}
	if got := e.config().Basics.Hold; got != 72*time.Hour {
		t.Errorf("stored hold = %s, want 72h", got)
	}

	// Allowed deletions go to the hold.
	e.tripGuard()
	usersBefore, _ := e.objects()
	confirm := admin.click(admin.get(e.path("")), "Allow deletes")
	if got := confirm.text(); !strings.Contains(got, "held for 72h") || strings.Contains(got, "cannot be undone") {
		t.Errorf("the confirmation does not say the deletions are held:\n%s", got)
	}
	allowed := admin.follow(admin.submit(confirm, "Yes", nil))
	if got := allowed.flash(); !strings.Contains(got, "accepted") || !strings.Contains(got, "held until") {
		t.Errorf("flash after Allow deletes = %q, want accepted and held until", got)
	}
	e.waitCycles()
	if users, _ := e.objects(); users != usersBefore-usersPerOU {
		t.Errorf("%d users after Allow deletes, want %d", users, usersBefore-usersPerOU)
	}
	if got := admin.get(e.path("/status")).text(); !strings.Contains(got, "12 deleted objects are held") ||
		!strings.Contains(got, "held until") {
		t.Errorf("the status info does not say what is held until when:\n%s", got)
	}

	page := admin.click(admin.get(e.path("")), "Deleted objects")
	page.wantStatus(http.StatusOK)
	checkMarkup(t, page)
	rows := page.rows("table")
	if len(rows) != usersPerOU {
		t.Fatalf("Deleted objects lists %d rows, want %d", len(rows), usersPerOU)
	}
	for _, r := range rows { // select, name, type, DN, why, deleted, held until, allowed by, restore
		if len(r) != 9 || r[2] != "User" || !strings.HasSuffix(r[3], ","+salesOU) || r[4] != string(store.CauseDeleted) ||
			r[7] != "alice" || r[5] == "" || r[6] == "" {
			t.Errorf("row %q: want a Sales user deleted at the source, allowed by alice, with when and until when", r)
		}
	}
	name := rows[0][1]

	// A viewer sees the page, and nothing to restore with.
	viewer := e.signIn(store.RoleViewer)
	vp := viewer.get(e.path("/deleted"))
	if len(vp.rows("table")) != usersPerOU || vp.hasControl("Restore") || vp.hasControl("Restore "+name) {
		t.Errorf("a viewer's Deleted objects page: %d rows, Restore offered: %v", len(vp.rows("table")), vp.hasControl("Restore"))
	}
	before := e.snapshot()
	viewer.get(e.path("/deleted/restore?all=1")).wantStatus(http.StatusForbidden)
	viewer.post(e.path("/deleted/restore"), url.Values{"all": {"1"}, "_csrf": {viewer.token()}}).wantStatus(http.StatusForbidden)
	e.assertUnchanged(before, "a viewer's restore")

	// Restore one; No first changes nothing.
	one := admin.click(page, "Restore "+name)
	if got, want := squash(one.Doc.Find("h1").Text()), "Restore "+name+" to corp?"; got != want {
		t.Errorf("question = %q, want %q", got, want)
	}
	// corp has no target: the confirmation speaks of the copy alone.
	if text := squash(one.Doc.Find("main").Text()); !strings.Contains(text, "Yes puts them back in the target directory as they were") ||
		strings.Contains(text, "and in the target") {
		t.Errorf("the confirmation of a configuration without a target says:\n%s", text)
	}
	back := admin.submit(one, "No", nil)
	if back.URL.Path != e.path("/deleted") {
		t.Errorf("No goes to %s", back.URL.Path)
	}
	e.assertUnchanged(before, "No")
	done := admin.follow(admin.submit(one, "Yes", nil))
	if got := done.flash(); !strings.Contains(got, "1 deleted object restored to corp") {
		t.Errorf("flash after restoring one = %q", got)
	}
	if len(done.rows("table")) != usersPerOU-1 {
		t.Errorf("Deleted objects lists %d after restoring one, want %d", len(done.rows("table")), usersPerOU-1)
	}
	if users, _ := e.objects(); users != usersBefore-usersPerOU+1 {
		t.Errorf("%d users after restoring one, want %d", users, usersBefore-usersPerOU+1)
	}
	restores := e.logs(store.LogQuery{Action: store.ActionRestore})
	if len(restores) != 1 || restores[0].Name != name || !strings.Contains(restores[0].Details, "restored by alice") {
		t.Errorf("Restore entries %+v, want one for %s by alice", restores, name)
	}
	if ev := e.audit()[0]; ev.Action != "Restored deleted objects" || ev.Actor != "alice" {
		t.Errorf("newest audit event = %+v, want alice Restored deleted objects", ev)
	}
	if again := admin.follow(admin.submit(one, "Yes", nil)); !strings.Contains(again.flash(), "Nothing was restored") {
		t.Errorf("a second Yes: flash %q, want Nothing was restored", again.flash())
	}

	// Restore the ticked ones.
	rows = done.rows("table")
	ticked := admin.submit(done, "Restore", map[string]string{"Select " + rows[0][1]: "on", "Select " + rows[1][1]: "on"})
	if got := squash(ticked.Doc.Find("h1").Text()); got != "Restore 2 deleted objects to corp?" {
		t.Errorf("question for two ticked = %q", got)
	}
	admin.follow(admin.submit(ticked, "Yes", nil))

	// Restore an OU: those that were in Sales.
	ou := admin.get(e.path("/deleted?ou=" + url.QueryEscape(salesOU)))
	if n := len(ou.rows("table")); n != usersPerOU-3 {
		t.Errorf("%d held in Sales, want %d", n, usersPerOU-3)
	}
	all := admin.click(ou, "Restore all in this OU")
	if got := squash(all.Doc.Find("h1").Text()); got != "Restore 9 deleted objects to corp?" {
		t.Errorf("question for the OU = %q", got)
	}
	empty := admin.follow(admin.submit(all, "Yes", nil))
	if !strings.Contains(empty.text(), "No deleted object is held") {
		t.Errorf("after restoring all:\n%s", empty.text())
	}
	if users, _ := e.objects(); users != usersBefore {
		t.Errorf("%d users after restoring all, want %d", users, usersBefore)
	}

	// The source still lacks them: the next cycle counts them against the
	// threshold, and stops sync.
	if cy := e.runCycle(); cy.Outcome != store.OutcomeQuarantined || cy.StagedDeletes != usersPerOU {
		t.Errorf("the cycle after the restore: %s with %d staged, want Quarantined with %d", cy.Outcome, cy.StagedDeletes, usersPerOU)
	}
}

// Restore all restores what the admin saw: an object held after the
// confirmation was shown is left held.
func TestRestoreAllIsWhatWasShown(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	if _, err := e.Store.EditConfiguration(context.Background(), e.ConfigID, "setup", func(c *store.Configuration) error {
		c.Basics.Hold, c.Basics.Threshold = time.Hour, 1000
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	admin := e.signIn(store.RoleAdmin)
	full := generate(t, testDirectoryOptions)
	e.writeLDIF(withoutBelow(full, salesOU))
	e.runCycle()
	confirm := admin.click(admin.get(e.path("/deleted")), "Restore all")
	if got := squash(confirm.Doc.Find("h1").Text()); got != "Restore 12 deleted objects to corp?" {
		t.Fatalf("question = %q", got)
	}
	e.writeLDIF(withoutBelow(withoutBelow(full, salesOU), "ou=Finance,dc=corp,dc=example"))
	e.runCycle()
	admin.follow(admin.submit(confirm, "Yes", nil))
	if got := admin.get(e.path("/deleted")).rows("table"); len(got) != usersPerOU {
		t.Errorf("%d held after restoring what was shown, want the %d held since", len(got), usersPerOU)
	}
}
