package browser

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// axe-core (npm), installed by make deps into .deps/ (never fetched by a
// test), checks each page the browser tests open for what a screen
// reader, a keyboard and low vision run into: every rule of axe's default
// set, WCAG A and AA and its best practices.

// axeScript returns axe.min.js, read once; the test skips (fails with
// CI=true) when make deps has not installed it.
var axeScript = sync.OnceValues(func() ([]byte, error) {
	p := os.Getenv("SYNCGUARD_AXE")
	if p == "" {
		dir, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		p = filepath.Join(dir, "..", "..", ".deps", "node_modules", "axe-core", "axe.min.js")
	}
	return os.ReadFile(p)
})

// axeViolation is one rule a page breaks, with where.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axe checks the page now shown with axe-core and fails the test on any
// violation. It runs through the DevTools protocol: the page's CSP and
// scripts (on or off) do not matter.
func (b *tab) axe(what string) {
	b.t.Helper()
	src, err := axeScript()
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.t.Fatalf("axe-core is not installed (%v): run make deps", err)
		}
		b.t.Skipf("axe-core is not installed (%v): run make deps (with CI=true this fails)", err)
	}
	ctx, cancel := b.step()
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](string(src))); err != nil {
		b.fatalf("%s: load axe-core: %v", what, err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help,
			nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " "))})))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf("%s: run axe-core: %v", what, err)
	}
	if len(got) == 0 {
		return
	}
	var msg strings.Builder
	for _, v := range got {
		fmt.Fprintf(&msg, "\n  %s (%s): %s", v.ID, v.Impact, v.Help)
		for _, n := range v.Nodes {
			fmt.Fprintf(&msg, "\n    %s", n)
		}
	}
	b.fatalf("%s (%s): axe-core finds %d violations:%s", what, b.location().RequestURI(), len(got), msg.String())
}

// TestAxeEveryPage opens every page of the portal as an admin (and the
// sign-in page signed out) in each of its states — healthy, a preview,
// stopped by the guard, a part allowed, the story after it — checks each
// with axe-core, and checks at 390 px that none is wider than the phone.
func TestAxeEveryPage(t *testing.T) {
	for _, width := range []string{"desktop", "phone"} {
		t.Run(width, func(t *testing.T) {
			p := startPortal(t)
			b := openTab(t, p, true)
			if width == "phone" {
				b.narrow()
			}
			check := func(what, path string) {
				t.Helper()
				if path != "" {
					b.open(p.URL + path)
				}
				if width == "phone" {
					b.fitsWidth() // what: in the failure, the page's address
				} else {
					b.axe(what)
				}
			}
			check("sign in", "/login")
			b.signIn(adminName, adminPassword)
			cfg := "/configurations/" + itoa(p.ConfigID)
			for _, pg := range [][2]string{{"configurations", "/configurations"}, {"healthy", cfg}, {"status info, never stopped", cfg + "/status"},
				{"edit basics", cfg + "/basics/edit"}, {"edit scope", cfg + "/scope/edit"}, {"nothing to allow", cfg + "/allow-deletes"},
				{"restart, nothing staged", cfg + "/restart"}, {"log", cfg + "/logs"}, {"agent", "/agents/" + itoa(p.AgentID)},
				{"audit", "/audit"}, {"outbox", "/outbox"}, {"account", "/account"}, {"not found", "/configurations/999"},
				{"users", "/users"}, {"add user", "/users/new"}, {"new configuration", "/configurations/new"},
				{"edit source", cfg + "/source/edit"}, {"edit target", cfg + "/target/edit"}, {"edit schedule", cfg + "/schedule/edit"},
				{"delete configuration", cfg + "/delete"}} {
				check(pg[0], pg[1])
			}
			b.open(p.configURL("/scope/edit"))
			b.setChecked(salesOU, false)
			b.follow(find("button", "Preview"))
			check("scope preview", "")
			p.trip(t)
			for _, pg := range [][2]string{{"stopped", cfg}, {"status info, stopped", cfg + "/status"}, {"allow all", cfg + "/allow-deletes"},
				{"allow a part", cfg + "/allow-deletes?type=user&ou=" + salesOU}, {"restart", cfg + "/restart"},
				{"configurations, stopped", "/configurations"}, {"staged entries", cfg + "/logs?action=StagedDelete"}} {
				check(pg[0], pg[1])
			}
			b.follow(findPrefix("link", "Details for "))
			check("log entry", "")
			b.open(p.configURL("/basics/edit"))
			b.fill("Accidental deletion threshold", "abc")
			b.follow(find("button", "Save"))
			check("basics with an error", "")
			b.open(p.configURL("/allow-deletes"))
			b.follow(find("button", "Yes"))
			b.reloadUntil("Healthy")
			check("after allow", "")
			check("status info, the story", cfg+"/status")
		})
	}
}
