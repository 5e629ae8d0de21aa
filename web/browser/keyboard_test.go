package browser

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/syncguard/syncguard/guard/demo"
)

// Allow deletes with the keyboard alone: Tab to More actions, Enter, Tab to
// Allow deletes, Enter; on the confirmation No has the focus, Shift+Tab
// reaches Yes, Enter. With JavaScript on, Escape closes the open menu and
// gives the focus back to it (static/app.js).
func TestKeyboardAllowDeletes(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		p.trip(t)
		b.open(p.configURL(""))

		b.tabTo("More actions")
		b.press(kb.Enter)
		if !b.menuOpen() {
			b.fatalf("Enter on More actions did not open the menu")
		}
		if js {
			b.waitFocus("View provisioning log") // app.js focuses the first item
			b.press(kb.Escape)
			if b.menuOpen() {
				b.fatalf("Escape did not close the menu")
			}
			if got := b.focused(); got != "More actions" {
				b.fatalf("after Escape the focus is on %q, want More actions", got)
			}
			b.press(kb.Enter)
			if !b.menuOpen() {
				b.fatalf("Enter did not open the menu again")
			}
			// Wait for app.js to move the focus, or it could move it
			// away from where the Tab presses below lead.
			b.waitFocus("View provisioning log")
		} else {
			// Proof that the page's script is really off: app.js would
			// move the focus into the menu.
			time.Sleep(100 * time.Millisecond)
			if got := b.focused(); got != "More actions" {
				b.fatalf("with JavaScript off, opening the menu moved the focus to %q", got)
			}
		}
		b.tabTo("Allow deletes")
		if code := b.pressFollow(kb.Enter); code != http.StatusOK {
			b.fatalf("Enter on Allow deletes: status %d", code)
		}
		b.wantHeading("Allow 60 deletions from corp?")
		b.waitFocus("No") // autofocus: the safe answer
		b.press(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))
		if got := b.focused(); got != "Yes" {
			b.fatalf("Shift+Tab from No reached %q, want Yes", got)
		}
		b.pressFollow(kb.Enter)
		b.wantText("accepted")
		b.reloadUntil("Healthy")
		checkAllowed(t, p)
	})
}

// The ⋯ menu closes on Escape with JavaScript off too (a popover), and the
// focus goes back to its button.
func TestMenuEscapeWithoutJavaScript(t *testing.T) {
	_, b := signedIn(t, false)
	b.tabTo("More actions")
	b.press(kb.Enter)
	if !b.menuOpen() {
		b.fatalf("Enter on More actions did not open the menu")
	}
	b.press(kb.Escape)
	if b.menuOpen() {
		b.fatalf("Escape did not close the menu with JavaScript off")
	}
	if got := b.focused(); got != "More actions" {
		b.fatalf("after Escape the focus is on %q, want More actions", got)
	}
}

// Next page of the provisioning log is a few Tab stops from the top (the
// pager stands above the entries too), and the Scope pencil puts the
// focus in the form it opens.
func TestKeyboardShortWays(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		p.trip(t)
		b.open(p.configURL("/logs"))
		if n := b.tabTo("Next page"); n > 30 {
			b.fatalf("Next page is %d Tab stops from the top of the log, want at most 30 (the header, then the filters)", n)
		}
		b.open(p.configURL(""))
		b.follow(find("link", "Edit Scope"))
		b.waitFocus(demo.BaseDN) // the first OU of the picker: the base DN
	})
}
