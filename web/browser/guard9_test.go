package browser

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/demo"
)

// The guard of SPEC section 9 clicked through: partial approval and
// Preview, each with JavaScript on and off, and on a 390 px phone.

// phoneModes runs a flow with JavaScript on, off, and on a 390 px phone
// (JavaScript on), where every page it opens must fit the width.
func phoneModes(t *testing.T, flow func(t *testing.T, b *tab, p *portal)) {
	for _, mode := range []string{"js", "nojs", "phone"} {
		t.Run(mode, func(t *testing.T) {
			p, b := signedIn(t, mode != "nojs")
			if mode == "phone" {
				b.narrow()
				b.open(p.configURL(""))
				b.fitsWidth()
			}
			flow(t, b, p)
			if mode == "phone" {
				b.fitsWidth()
			}
		})
	}
}

// TestPartialApprovalChosen: on the sync status info an admin ticks two of
// the staged objects and allows just them; the confirmation names them and
// says the rest stays pending; sync stays stopped until Allow deletes of
// the rest.
func TestPartialApprovalChosen(t *testing.T) {
	phoneModes(t, func(t *testing.T, b *tab, p *portal) {
		p.trip(t)
		b.open(p.configURL("/status"))
		staged := b.table("Staged objects by name")
		names := staged.col("Name")[:2]
		for _, n := range names {
			b.setChecked("Choose "+n, true)
		}
		b.follow(find("button", "Allow the chosen deletions"))
		b.wantHeading("Allow 2 deletions from corp?")
		b.wantText("The part chosen: objects, 2 chosen objects.", "The other 58 staged changes stay pending")
		if got := b.table("What goes").col("Name"); strings.Join(got, "|") != strings.Join(names, "|") {
			b.fatalf("what goes: %v, want %v", got, names)
		}
		b.follow(find("button", "Yes"))
		b.wantText("Deletions accepted: 2 objects deleted from corp.", "58 staged changes are still pending")
		b.wantStatus("Delete threshold exceeded")
		if users, _ := p.objectCounts(t); users != allUsers-2 {
			t.Fatalf("%d users after allowing 2, want %d", users, allUsers-2)
		}
		if p.config(t).QuarantineID == 0 {
			t.Fatal("the quarantine ended with 58 pending")
		}
		b.menu("Allow deletes")
		b.wantHeading("Allow 58 deletions from corp?")
		b.follow(find("button", "Yes"))
		b.wantText("accepted", "58 objects deleted")
		b.reloadUntil("Healthy")
		if users, _ := p.objectCounts(t); users != allUsers-salesUsers {
			t.Errorf("%d users at the end, want %d", users, allUsers-salesUsers)
		}
	})
}

// TestPartialApprovalInScopeAgain: Sales and Marketing leave the scope
// and the guard stops sync; Sales comes back into the scope. The
// confirmation says 60 of the staged objects are in scope again and
// leaves them out on request: Marketing's 60 are deleted, Sales' stay
// pending, and Run sync now releases them (back in scope): sync resumes
// without deleting or creating a Sales user.
func TestPartialApprovalInScopeAgain(t *testing.T) {
	phoneModes(t, func(t *testing.T, b *tab, p *portal) {
		marketing := "ou=Marketing," + demo.BaseDN
		b.follow(find("link", "Edit Scope"))
		b.setChecked(salesOU, false)
		b.setChecked(marketing, false)
		b.follow(find("button", "Save"))
		b.menu("Run sync now")
		b.reloadUntil("Sync stopped since")
		b.follow(find("link", "Edit Scope"))
		b.setChecked(salesOU, true)
		b.follow(find("button", "Save"))
		b.wantText("Sync is stopped: the scope applies from the first cycle after Allow deletes or Restart sync.",
			"60 objects of the staged deletions are in scope again")

		b.menu("Allow deletes")
		b.wantHeading("Allow 120 deletions from corp?")
		b.wantText("60 of these objects are in scope again")
		b.follow(find("link", "Leave the 60 objects in scope again out"))
		b.wantHeading("Allow 60 deletions from corp?")
		b.wantText("Left out: the objects in scope again")
		for _, dn := range b.table("What goes (the first 20 of 60, by name)").col("DN") {
			if !strings.HasSuffix(dn, ","+marketing) {
				b.fatalf("%s goes, but only Marketing should", dn)
			}
		}
		if code := b.follow(find("button", "Yes")); code != http.StatusOK {
			b.fatalf("Yes: status %d", code)
		}
		b.wantText("60 objects deleted", "60 staged changes are still pending")
		b.wantStatus("Delete threshold exceeded")

		b.menu("Run sync now")
		b.reloadUntil("Healthy")
		if users, _ := p.objectCounts(t); users != allUsers-60 {
			t.Errorf("%d users at the end, want %d (Marketing deleted, Sales kept)", users, allUsers-60)
		}
		if n := p.logCount(t, "Create"); n != allUsers+allGroups {
			t.Errorf("%d Create entries, want the first cycle's %d: no Sales user created again", n, allUsers+allGroups)
		}
		b.open(p.configURL("/status"))
		b.wantText("The last time the guard stopped sync", "Allow deletes by admin")
	})
}

// TestPreview: Preview beside Save, on Scope and Basics, says what the
// next cycle would do and whether the guard would stop it, and saves
// nothing.
func TestPreview(t *testing.T) {
	phoneModes(t, func(t *testing.T, b *tab, p *portal) {
		b.follow(find("link", "Edit Scope"))
		b.setChecked(salesOU, false)
		b.follow(find("button", "Preview"))
		b.wantText("Preview of the next cycle (nothing saved)", "It would create 0, update 10 and delete 60",
			"The guard would stop it: 60 deletions reach the threshold of 50.", "60 scope changed")
		if b.checked(salesOU) {
			b.fatalf("the form lost what was unticked")
		}
		if len(p.config(t).Scope) != len(scopeOUs) {
			t.Fatal("Preview saved the scope")
		}
		b.open(p.configURL(""))
		b.noText("Preview of the next cycle")

		// Basics: the source lost Sales; at 100 the guard would let it through.
		p.removeOU(t, salesOU)
		b.follow(find("link", "Edit Basics"))
		b.fill("Accidental deletion threshold", "100")
		b.follow(find("button", "Preview"))
		b.wantText("It would create 0, update 10 and delete 60", "The guard would let it through: 60 deletions are below the threshold of 100.")
		if got := b.value("Accidental deletion threshold"); got != "100" {
			b.fatalf("threshold after Preview = %q, want 100 kept", got)
		}
		b.fill("Deleted percentage limit", "10")
		b.follow(find("button", "Preview"))
		b.wantText("The guard would stop it: deletions of 19% of the target directory reach the limit of 10%.")
		if got := p.config(t).Basics; got.Threshold != threshold || got.ThresholdPercent != 0 {
			t.Fatalf("Preview saved the Basics: %+v", got)
		}
		if c, err := p.Store.LastCycle(t.Context(), p.ConfigID); err != nil || c.ID != 1 {
			t.Fatalf("a preview ran a cycle: %+v, %v", c, err)
		}
	})
}

// TestProgressRefreshes: while a cycle runs the page shows its progress
// and shows itself again on its own — a refresh without JavaScript, a
// fetch with it — until the cycle is over, without anyone reloading.
func TestProgressRefreshes(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		host, _ := os.Hostname()
		ok, err := p.Store.AcquireCycleLock(t.Context(), p.ConfigID, "test-holder", os.Getpid(), host, time.Now().Add(time.Minute))
		if err != nil || !ok {
			t.Fatalf("AcquireCycleLock = %v, %v", ok, err)
		}
		b.open(p.configURL(""))
		b.wantStatus("Running")
		if err := p.Store.ReleaseCycleLock(t.Context(), p.ConfigID, "test-holder"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(waitTimeout)
		for !strings.Contains(b.text(), "Healthy") {
			if time.Now().After(deadline) {
				b.fatalf("the page still shows %q after the cycle ended", eval[string](b, `document.querySelector(".page-status").innerText`))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
