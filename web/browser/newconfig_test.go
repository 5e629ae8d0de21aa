package browser

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
	"github.com/syncguard/syncguard/store"
)

// 9. From nothing to Healthy without the command line, on a phone-wide
// screen: delete the only configuration, then New configuration over an
// LDIF export with a deep and a wide tree (Test connection, Browse OUs three
// levels down and back, a SCIM service as the target with its own Test
// connection, the Basics), Create configuration, and the first cycle makes
// it Healthy with its users in the service.
func TestNewConfigurationFromNothing(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		scim := scimtest.Start(t, scimtest.Options{Token: "browser-scim-token-77"})
		tree := filepath.Join(t.TempDir(), "tree.ldif")
		if err := os.WriteFile(tree, demo.Tree(), 0o600); err != nil {
			t.Fatal(err)
		}
		b.narrow()

		// Nothing: the demo configuration goes.
		b.menu("Delete configuration")
		b.wantHeading("Delete configuration corp?")
		b.fitsWidth()
		b.fill("Type the configuration's name to confirm", "corp")
		b.follow(find("button", "Delete configuration"))
		b.wantPath("/configurations")
		b.wantText("Configuration corp deleted.", "No configurations yet.")

		b.follow(find("link", "New configuration"))
		b.wantHeading("New configuration")
		b.fill("Name", "tree")
		b.fill("Source URL", "ldif:"+tree)
		if hidden := eval[bool](b, `document.querySelector("[data-ldap-only]").hidden`); hidden != js {
			b.fatalf("the LDAP settings of an LDIF source: hidden = %v, want %v (with JavaScript only)", hidden, js)
		}
		b.fitsWidth()
		b.follow(find("button", "Test connection"))
		b.wantText("Read "+tree, "Top entries: dc=corp,dc=example.", "is the source's own, and is filled in")
		if got := b.value("Base DN"); got != demo.BaseDN {
			b.fatalf("Base DN = %q, want the file's top entry", got)
		}
		b.fitsWidth()
		b.screenshot("new-configuration-source")
		b.follow(find("button", "Browse OUs"))
		b.wantText("In scope", "No OU ticked yet")
		b.fitsWidth()

		sales, paris := "ou=Sales,"+demo.BaseDN, "ou=Paris,ou=EMEA,ou=Regions,"+demo.BaseDN
		b.setChecked(sales, true)
		b.tabTo("Open ou=Regions," + demo.BaseDN) // by keyboard
		b.moveBy(func() { b.press(kb.Enter) }, func() { b.pressFollow(kb.Enter) }, "ou=EMEA,ou=Regions,"+demo.BaseDN)
		b.move(find("button", "Open ou=EMEA,ou=Regions,"+demo.BaseDN), paris)
		b.setChecked(paris, true)
		eval[bool](b, `window.stayed = true`) // gone if a page loads
		b.move(find("button", "Up to "+demo.BaseDN), "20 users and 0 groups in 2 OUs.")
		if js && !eval[bool](b, `!!window.stayed`) {
			b.fatalf("with JavaScript, the picker loaded a page instead of moving in place")
		}
		if !b.checked(sales) {
			b.fatalf("%s lost its tick on the way back", sales)
		}
		if js && b.focused() != "Browse OUs" {
			b.fatalf("after moving in place, the focus is on %q, want the list's heading", b.focused())
		}
		b.screenshot("new-configuration-scope")
		b.move(find("button", "Open ou=Branches,"+demo.BaseDN), "Page 1 of 6 (600 OUs)")
		b.fitsWidth()
		b.move(find("button", "Next page"), "Page 2 of 6 (600 OUs)")
		b.follow(find("button", "Next"))
		b.targetStep(scim)
		b.wantText("Basics and schedule", "20 users and 0 groups", scim.URL)
		b.screenshot("new-configuration-basics")

		b.fill("Notification email", "ops@corp.example")
		b.fill("Accidental deletion threshold", "5")
		b.fill("Interval", "1h")
		b.fitsWidth()
		b.follow(find("button", "Create configuration"))
		b.wantText("Configuration tree created.")
		b.wantHeading("tree")
		b.reloadUntil("Healthy")
		b.fitsWidth()
		cfg, err := p.Store.ConfigurationByName(context.Background(), "tree")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(cfg.Scope, "|") != paris+"|"+sales || cfg.Basics.Threshold != 5 || cfg.Interval != time.Hour {
			t.Errorf("created %+v", cfg)
		}
		if users, _, _ := p.Store.ObjectCounts(context.Background(), cfg.ID); users != 20 {
			t.Errorf("%d users synced, want 20", users)
		}
		waitUntil(t, "the 20 users in the SCIM service", func() bool { return len(scim.Users()) == 20 })
		waitUntil(t, "no export pending on the page", func() bool {
			b.do("reload", chromedp.Reload())
			return b.prop("Pending exports") == "0"
		})
		b.wantProp("Kind", "SCIM 2.0 service")
		b.noText("Running")
		b.screenshot("new-configuration-healthy")
	})
}

// targetStep takes New configuration's Target step: a SCIM service, its
// own Test connection (the token stays on the server), Next. With
// JavaScript, only the fields of the kind chosen show.
func (b *tab) targetStep(scim *scimtest.Server) {
	b.t.Helper()
	b.wantText("Kind of target")
	shown := func(kind string) bool {
		return eval[bool](b, `!document.querySelector("[data-target-kinds=`+kind+`]").hidden`)
	}
	if shown("scim") == b.js {
		b.fatalf("the SCIM settings of the target None: shown = %v, want %v (hidden with JavaScript only)", !b.js, !b.js)
	}
	b.choose("Kind of target", "SCIM 2.0 service")
	if !shown("scim") || shown("ldap") == b.js {
		b.fatalf("the settings shown for a SCIM target: SCIM %v, LDAP %v", shown("scim"), shown("ldap"))
	}
	b.fill("Target URL", scim.HTTPURL)
	b.fill("Bearer token", scim.Token)
	b.fitsWidth()
	b.follow(find("button", "Test connection"))
	b.wantText("Connected to "+scim.URL, "PATCH supported, 0 users, 0 groups")
	if got := b.value("Bearer token"); got != "" || !strings.Contains(b.description("Bearer token"), "A token is kept") {
		b.fatalf("the token field after Test connection: %q, %q", got, b.description("Bearer token"))
	}
	b.fitsWidth()
	b.screenshot("new-configuration-target")
	b.follow(find("button", "Next"))
}

// waitUntil waits for cond, at most waitTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", waitTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// 10. The Users page and Change password, by keyboard-sized steps: add a
// viewer, who signs in; the admin changes her own password and signs in
// again with it.
func TestUsersAndPasswords(t *testing.T) {
	modes(t, func(t *testing.T, js bool) {
		p, b := signedIn(t, js)
		b.narrow()
		b.follow(find("link", "Users"))
		b.wantHeading("Users")
		b.wantText("the last admin: cannot be demoted or removed")
		b.fitsWidth()
		b.screenshot("users-narrow")
		b.follow(find("link", "Add user"))
		b.fill("Username", "vera")
		b.choose("Role", "viewer: may only look")
		b.fill("New password", "vera's long passphrase")
		b.fill("Repeat new password", "vera's long passphrase")
		b.follow(find("button", "Add user"))
		b.wantText("Added viewer vera.")

		b.follow(find("link", "Change password"))
		b.fill("Current password", adminPassword)
		b.fill("New password", "a new admin passphrase")
		b.fill("Repeat new password", "a new admin passphrase")
		b.follow(find("button", "Change password"))
		b.wantText("Your password was changed.")
		b.follow(find("button", "Sign out"))
		if code := b.signIn(adminName, "a new admin passphrase"); code != http.StatusOK {
			b.fatalf("sign in with the new password: %d", code)
		}
		b.wantPath("/configurations")

		v := openTab(t, p, js)
		if code := v.signIn("vera", "vera's long passphrase"); code != http.StatusOK {
			v.fatalf("vera signs in: %d", code)
		}
		if u, err := p.Store.UserByName(context.Background(), "vera"); err != nil || u.Role != store.RoleViewer || u.LastSignInAt.IsZero() {
			t.Errorf("vera: %+v, %v", u, err)
		}
	})
}

// narrow makes the page 390 pixels wide, as a phone.
func (b *tab) narrow() {
	b.t.Helper()
	b.do("a 390 px wide screen", chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tt, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true})
		return err
	}))
}

// fitsWidth fails when the page is wider than the screen: a reader would
// have to scroll sideways (tables scroll in their own region).
func (b *tab) fitsWidth() {
	b.t.Helper()
	if w := eval[int](b, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		b.fatalf("the page is %d px wider than the screen", w)
	}
}

// move clicks a button of the scope picker and waits until the page
// shows want: in place with JavaScript, as a new page without.
func (b *tab) move(sel chromedp.JSPath, want string) {
	b.t.Helper()
	b.moveBy(func() { b.click(sel) }, func() { b.follow(sel) }, want)
}

// moveBy moves the scope picker with inPlace (JavaScript on) or load (off)
// and waits until the page shows want.
func (b *tab) moveBy(inPlace, load func(), want string) {
	b.t.Helper()
	if !b.js {
		load()
		b.wantText(want)
		return
	}
	inPlace()
	deadline := time.Now().Add(stepTimeout)
	for !strings.Contains(b.text(), want) {
		if time.Now().After(deadline) {
			b.fatalf("the picker did not show %q", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
