package browser

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// The hold before deletions become final (SPEC section 10): Hold
// deletions set with the Basics pencil, allowed deletions held until a
// time the portal says, and a deleted object restored from the Deleted
// objects page — one, then two ticked — each confirmed with Yes.
func TestRestoreDeletedObjects(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		b.follow(find("link", "Edit Basics"))
		b.fill("Hold deletions", "72h")
		if code := b.follow(find("button", "Save")); code != http.StatusOK {
			b.fatalf("save the hold: status %d", code)
		}
		b.wantProp("Hold deletions", "72h before a deletion is final")
		if got := p.config(t).Basics.Hold; got != 72*time.Hour {
			t.Fatalf("stored hold = %s, want 72h", got)
		}

		p.trip(t)
		b.open(p.configURL(""))
		b.menu("Allow deletes")
		b.wantText("held for 72h")
		b.follow(find("button", "Yes"))
		b.wantText("accepted", "held until")
		b.reloadUntil("Healthy")

		b.menu("Deleted objects")
		b.wantHeading("Deleted objects")
		held := b.table("Deleted objects held, newest first")
		if len(held.Rows) != salesUsers {
			b.fatalf("Deleted objects lists %d, want %d", len(held.Rows), salesUsers)
		}
		if got := held.col("Allowed by")[0]; got != adminName {
			b.fatalf("Allowed by = %q, want %s", got, adminName)
		}
		b.screenshot("deleted-objects")
		names := held.col("Name")

		// One.
		b.follow(find("link", "Restore "+names[0]))
		b.wantHeading("Restore " + names[0] + " to corp?")
		b.waitFocus("No")
		b.follow(find("button", "Yes"))
		b.wantPath("/configurations/" + itoa(p.ConfigID) + "/deleted")
		b.wantText("1 deleted object restored to corp")
		if users, _ := p.objectCounts(t); users != allUsers-salesUsers+1 {
			t.Errorf("%d users after restoring one, want %d", users, allUsers-salesUsers+1)
		}

		// Two, ticked.
		b.setChecked("Select "+names[1], true)
		b.setChecked("Select "+names[2], true)
		b.follow(find("button", "Restore"))
		b.wantHeading("Restore 2 deleted objects to corp?")
		b.follow(find("button", "Yes"))
		b.wantText("2 deleted objects restored to corp")
		left := b.table("Deleted objects held, newest first").col("Name")
		if len(left) != salesUsers-3 {
			t.Errorf("%d still held, want %d", len(left), salesUsers-3)
		}
		for _, n := range names[:3] {
			if slices.Contains(left, n) {
				t.Errorf("%s is still listed as held after its restore", n)
			}
		}
		if users, _ := p.objectCounts(t); users != allUsers-salesUsers+3 {
			t.Errorf("%d users after restoring three, want %d", users, allUsers-salesUsers+3)
		}
		if n := p.logCount(t, store.ActionRestore); n != 3 {
			t.Errorf("%d Restore entries, want 3", n)
		}
	})
}
