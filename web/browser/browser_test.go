package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// One Chromium process serves the whole test binary; each test gets its own
// tab in its own browser context (like an incognito window: no cookies,
// cache or storage shared with other tests).

// stepTimeout bounds every browser step (a navigation, a click, a wait).
const stepTimeout = 10 * time.Second

// waitTimeout bounds waiting for a cycle to show on the page.
const waitTimeout = 15 * time.Second

var chromium struct {
	mu      sync.Mutex
	ctx     context.Context // the browser's context; nil until started
	err     error
	cancel  []context.CancelFunc
	dataDir string
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}

// chromiumPath returns Debian's chromium, or chromium on PATH, or "".
func chromiumPath() string {
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// requireChromium skips the test when Chromium is not installed, or fails
// it when CI=true (where a skipped browser test would hide a broken portal).
func requireChromium(t *testing.T) string {
	t.Helper()
	p := chromiumPath()
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (/usr/bin/chromium, or chromium on PATH): install with apt-get install chromium")
		}
		t.Skip("chromium is not installed: install with apt-get install chromium (with CI=true this fails)")
	}
	return p
}

// browser returns the context of the test binary's Chromium, starting it on
// first use.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := requireChromium(t)
	chromium.mu.Lock()
	defer chromium.mu.Unlock()
	if chromium.ctx == nil && chromium.err == nil {
		chromium.err = startBrowser(path)
	}
	if chromium.err != nil {
		t.Fatalf("start chromium: %v", chromium.err)
	}
	return chromium.ctx
}

func startBrowser(path string) error {
	dir, err := os.MkdirTemp("", "syncguard-chromium-")
	if err != nil {
		return err
	}
	chromium.dataDir = dir
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // tests often run as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(dir),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	chromium.cancel = []context.CancelFunc{cancelBrowser, cancelAlloc}
	// The first Do starts the browser; its context has no deadline, so the
	// browser lives until stopBrowser.
	start := make(chan error, 1)
	go func() { start <- chromedp.Do(bctx) }()
	select {
	case err = <-start:
	case <-time.After(30 * time.Second):
		err = errors.New("chromium did not start within 30s")
	}
	if err != nil {
		stopBrowser()
		return err
	}
	chromium.ctx = bctx
	return nil
}

// stopBrowser closes Chromium and removes its profile.
func stopBrowser() {
	for _, c := range chromium.cancel {
		c()
	}
	chromium.cancel = nil
	if chromium.dataDir != "" {
		os.RemoveAll(chromium.dataDir)
		chromium.dataDir = ""
	}
}

// tab is one browser tab of a test, on one portal.
type tab struct {
	t   *testing.T
	ctx context.Context
	p   *portal
	js  bool
}

// openTab opens a tab in a fresh browser context, with JavaScript on or
// off, and closes it when the test ends.
func openTab(t *testing.T, p *portal, js bool) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("open a tab: %v", err)
	}
	b := &tab{t: t, ctx: ctx, p: p, js: js}
	// The page behaves as focused even when its window is not the active
	// one, so focus, autofocus and keyboard steps do not depend on which
	// tab of the browser was opened last.
	b.do("focus the page", chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tt, page.BringToFront, cdp.Empty{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tt, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	}))
	if !js {
		b.do("turn JavaScript off", chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
			_, err := cdp.Call(ctx, tt, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
	}
	return b
}

// modes runs a flow twice: with JavaScript on, and with it off (the portal
// must work without it).
func modes(t *testing.T, flow func(t *testing.T, js bool)) {
	for _, js := range []bool{true, false} {
		name := "js"
		if !js {
			name = "nojs"
		}
		t.Run(name, func(t *testing.T) { flow(t, js) })
	}
}

// step returns a context bounded by stepTimeout.
func (b *tab) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

// do runs browser steps, failing the test (with a screenshot and the page's
// text) when one fails.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page (through the DevTools
// protocol, so it works with the page's scripts off too).
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fatalf("evaluate %.80q: %v", expr, err)
	}
	return v
}

// fatalf fails the test, keeping what the browser shows for the post-mortem.
func (b *tab) fatalf(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		msg += "\npage: " + loc
	}
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`)); err == nil {
		if len(text) > 1500 {
			text = text[:1500] + " …"
		}
		msg += "\npage text:\n" + text
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		dir := filepath.Join(repoRoot(b.t), ".screenshots")
		name := "failed-" + strings.NewReplacer("/", "-", " ", "_").Replace(b.t.Name()) + ".png"
		if os.MkdirAll(dir, 0o755) == nil && os.WriteFile(filepath.Join(dir, name), png, 0o644) == nil {
			msg += "\nscreenshot: " + filepath.Join(dir, name)
		}
	}
	b.t.Fatal(msg)
}

// ---- Finding things as a person does: by role and accessible name ----

// findJS returns the first visible element of a kind whose accessible name
// (aria-label, else the text of its <label>, else its text) is name, or,
// with prefix, starts with name. Kinds: link, button (also <summary>),
// field (input, select, textarea).
const findJS = `((kind, name, prefix) => {
	const norm = s => (s || "").replace(/\s+/g, " ").trim();
	const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
	const accName = e => {
		const al = e.getAttribute("aria-label");
		if (al !== null) return norm(al);
		if (e.labels && e.labels.length) return norm([...e.labels].map(l => l.textContent).join(" "));
		if (e instanceof HTMLInputElement && ["submit", "button", "reset"].includes(e.type)) return norm(e.value);
		return norm(e.textContent);
	};
	const css = {
		link: "a[href]",
		button: "button, input[type=submit], input[type=button], summary",
		field: "input:not([type=hidden]), select, textarea",
	}[kind];
	const match = e => prefix ? accName(e).startsWith(name) : accName(e) === name;
	return [...document.querySelectorAll(css)].find(e => match(e) && shown(e)) || null;
})`

func find(kind, name string) chromedp.JSPath {
	return chromedp.JSPath(findJS + "(" + jsString(kind) + ", " + jsString(name) + ", false)")
}

func findPrefix(kind, name string) chromedp.JSPath {
	return chromedp.JSPath(findJS + "(" + jsString(kind) + ", " + jsString(name) + ", true)")
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ---- Navigating ----

// open loads a page and returns its HTTP status.
func (b *tab) open(u string) int64 {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		b.fatalf("open %s: %v", u, err)
	}
	return resp.Status
}

// follow clicks a link or button that loads a page, waits for that page and
// returns its HTTP status (after redirects).
func (b *tab) follow(sel chromedp.JSPath) int64 {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		b.fatalf("click %s and wait for the page: %v", describe(sel), err)
	}
	if resp == nil {
		b.fatalf("click %s: no page loaded", describe(sel))
	}
	return resp.Status
}

// click clicks something that changes the page without loading another.
func (b *tab) click(sel chromedp.JSPath) {
	b.t.Helper()
	b.do("click "+describe(sel), chromedp.Click(sel, chromedp.NodeVisible))
}

var findArgs = regexp.MustCompile(`\)\("(\w+)", (".*"), (true|false)\)$`)

// describe shortens a find selector for messages: `button "Save"`.
func describe(sel chromedp.JSPath) string {
	m := findArgs.FindStringSubmatch(string(sel))
	if m == nil {
		return string(sel)
	}
	return m[1] + " " + m[2]
}

// menu opens the ellipsis menu and picks an item that loads a page.
func (b *tab) menu(item string) int64 {
	b.t.Helper()
	b.click(find("button", "More actions"))
	kind := "link"
	if item == "Run sync now" {
		kind = "button"
	}
	return b.follow(find(kind, item))
}

// location returns the page's path and query.
func (b *tab) location() *url.URL {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.fatalf("location: %v", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.fatalf("location %q: %v", loc, err)
	}
	return u
}

// wantPath checks the page's path.
func (b *tab) wantPath(want string) {
	b.t.Helper()
	if got := b.location().Path; got != want {
		b.fatalf("path = %s, want %s", got, want)
	}
}

// ---- Reading the page ----

// text is what the page shows (rendered text: hidden elements excluded).
func (b *tab) text() string {
	b.t.Helper()
	return eval[string](b, `document.body.innerText`)
}

// wantText checks that the page shows each string.
func (b *tab) wantText(want ...string) {
	b.t.Helper()
	text := b.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			b.fatalf("the page does not show %q", w)
		}
	}
}

// noText checks that the page shows none of the strings.
func (b *tab) noText(unwanted ...string) {
	b.t.Helper()
	text := b.text()
	for _, w := range unwanted {
		if strings.Contains(text, w) {
			b.fatalf("the page shows %q", w)
		}
	}
}

// wantStatus checks the configuration's status badge as the page shows it.
func (b *tab) wantStatus(want string) {
	b.t.Helper()
	if got := eval[string](b, `(document.querySelector(".page-status .badge") || {}).innerText || ""`); got != want {
		b.fatalf("status = %q, want %q", got, want)
	}
}

// heading returns the page's <h1>.
func (b *tab) heading() string {
	b.t.Helper()
	return eval[string](b, `(document.querySelector("h1") || {}).innerText || ""`)
}

func (b *tab) wantHeading(want string) {
	b.t.Helper()
	if got := b.heading(); got != want {
		b.fatalf("heading = %q, want %q", got, want)
	}
}

// reloadUntil reloads the page until it shows want (a cycle runs in the
// background), for at most waitTimeout.
func (b *tab) reloadUntil(want string) {
	b.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if strings.Contains(b.text(), want) {
			return
		}
		if time.Now().After(deadline) {
			b.fatalf("the page did not show %q within %v", want, waitTimeout)
		}
		time.Sleep(50 * time.Millisecond)
		b.do("reload", chromedp.Reload())
	}
}

// prop returns the value (<dd>) of a term (<dt>) the page shows, or fails.
func (b *tab) prop(term string) string {
	b.t.Helper()
	v := eval[*string](b, `(() => {
		const dt = [...document.querySelectorAll("dt")].find(d => d.innerText.trim() === `+jsString(term)+` && d.getClientRects().length);
		const dd = dt && dt.nextElementSibling;
		return dd ? dd.innerText.trim() : null;
	})()`)
	if v == nil {
		b.fatalf("the page shows no %q", term)
	}
	return *v
}

func (b *tab) wantProp(term, want string) {
	b.t.Helper()
	if got := b.prop(term); got != want {
		b.fatalf("%s = %q, want %q", term, got, want)
	}
}

// table is a table as shown: its column headings and its body rows.
type table struct {
	Head []string   `json:"head"`
	Rows [][]string `json:"rows"`
}

// col returns the values of a column.
func (tb table) col(name string) []string {
	for i, h := range tb.Head {
		if h == name {
			var out []string
			for _, r := range tb.Rows {
				if i < len(r) {
					out = append(out, r[i])
				}
			}
			return out
		}
	}
	return nil
}

// table reads the table with an accessible name: its caption, or the
// heading its scrolling region is labelled by.
func (b *tab) table(name string) table {
	b.t.Helper()
	v := eval[*table](b, `(() => {
		const norm = s => (s || "").replace(/\s+/g, " ").trim();
		const nameOf = t => {
			if (t.caption) return norm(t.caption.textContent);
			const r = t.closest("[aria-labelledby]");
			const l = r && document.getElementById(r.getAttribute("aria-labelledby").split(" ")[0]);
			return l ? norm(l.textContent) : "";
		};
		const t = [...document.querySelectorAll("table")].find(t => nameOf(t) === `+jsString(name)+`);
		if (!t) return null;
		return {
			head: [...t.querySelectorAll("thead th")].map(th => norm(th.innerText)),
			rows: [...t.tBodies].flatMap(tb => [...tb.rows]).map(r => [...r.cells].map(c => norm(c.innerText))),
		};
	})()`)
	if v == nil {
		b.fatalf("the page has no table %q", name)
	}
	return *v
}

// value returns the current value of a field.
func (b *tab) value(label string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(find("field", label)))
	if err != nil {
		b.fatalf("value of %q: %v", label, err)
	}
	return v
}

// description returns the text of the elements a field's aria-describedby
// names: its hint and its error message.
func (b *tab) description(label string) string {
	b.t.Helper()
	return eval[string](b, `(() => {
		const f = `+string(find("field", label))+`;
		if (!f) return "";
		return (f.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean)
			.map(id => document.getElementById(id)).filter(Boolean).map(e => e.innerText.trim()).join("\n");
	})()`)
}

// focused returns the accessible name of the focused element ("" for none).
func (b *tab) focused() string {
	b.t.Helper()
	return eval[string](b, `(() => {
		const e = document.activeElement;
		if (!e || e === document.body) return "";
		const norm = s => (s || "").replace(/\s+/g, " ").trim();
		if (e.getAttribute("aria-label") !== null) return norm(e.getAttribute("aria-label"));
		if (e.labels && e.labels.length) return norm(e.labels[0].textContent);
		return norm(e.textContent);
	})()`)
}

// waitFocus waits, briefly, until the element named name has the focus:
// autofocus, and a script reacting to an event, move the focus a moment
// after the page loaded or the event fired.
func (b *tab) waitFocus(name string) {
	b.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := b.focused()
		if got == name {
			return
		}
		if time.Now().After(deadline) {
			b.fatalf("the focus is on %q, want %q", got, name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// menuOpen reports whether the ellipsis menu (the popover its button
// opens) is open.
func (b *tab) menuOpen() bool {
	b.t.Helper()
	return eval[bool](b, `(() => {
		const s = `+string(find("button", "More actions"))+`;
		const panel = s && document.getElementById(s.getAttribute("popovertarget"));
		return !!(panel && panel.matches(":popover-open"));
	})()`)
}

// ---- Acting on forms ----

// fill replaces the text of a field, typing the new value.
func (b *tab) fill(label, value string) {
	b.t.Helper()
	sel := find("field", label)
	b.do("fill "+label, chromedp.Clear(sel, chromedp.NodeVisible), chromedp.SendKeys(sel, value, chromedp.NodeVisible))
	if got := b.value(label); got != value {
		b.fatalf("%s holds %q after typing %q", label, got, value)
	}
}

// checked reports whether a checkbox is ticked.
func (b *tab) checked(label string) bool {
	b.t.Helper()
	return eval[bool](b, `!!(`+string(find("field", label))+` || {}).checked`)
}

// setChecked ticks or unticks a checkbox by clicking it.
func (b *tab) setChecked(label string, on bool) {
	b.t.Helper()
	if b.checked(label) != on {
		b.click(find("field", label))
	}
	if b.checked(label) != on {
		b.fatalf("%s: checked = %v after clicking, want %v", label, !on, on)
	}
}

// choose picks an option of a select by its text, and lets the page's
// script hear the change as it would a person's.
func (b *tab) choose(label, option string) {
	b.t.Helper()
	ok := eval[bool](b, `(() => {
		const s = `+string(find("field", label))+`;
		if (!s) return false;
		const o = [...s.options].find(o => o.text.trim() === `+jsString(option)+`);
		if (!o) return false;
		s.value = o.value;
		s.dispatchEvent(new Event("input", {bubbles: true}));
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return s.selectedOptions[0] === o;
	})()`)
	if !ok {
		b.fatalf("%s: no option %q", label, option)
	}
}

// signIn signs in on the sign-in page as a person would.
func (b *tab) signIn(name, password string) int64 {
	b.t.Helper()
	if b.location().Path != "/login" {
		b.open(b.p.URL + "/login")
	}
	b.fill("Username", name)
	b.fill("Password", password)
	return b.follow(find("button", "Sign in"))
}

// cookie returns the value of a cookie of the portal, and whether it is set.
func (b *tab) cookie(name string) (string, bool) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	res, err := chromedp.Run(ctx, func(ctx context.Context, tt *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tt, network.GetCookies, network.GetCookiesParams{URLs: []string{b.p.URL}})
	})
	if err != nil {
		b.fatalf("cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// ---- Keyboard ----

// press sends keys (kb.Tab, kb.Enter, kb.Escape …) to the focused element.
func (b *tab) press(keys string, opts ...chromedp.KeyOption) {
	b.t.Helper()
	b.do(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys, opts...))
}

// tabTo presses Tab until the element named name has the focus (at most 40
// times) and returns how many presses it took.
func (b *tab) tabTo(name string) int {
	b.t.Helper()
	for i := 1; i <= 40; i++ {
		b.press(kb.Tab)
		if b.focused() == name {
			return i
		}
	}
	b.fatalf("Tab never reached %q", name)
	return 0
}

// pressFollow presses a key that loads a page and waits for it.
func (b *tab) pressFollow(keys string) int64 {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(keys))
	if err != nil || resp == nil {
		b.fatalf("press %q and wait for the page: %v", keys, err)
	}
	return resp.Status
}

// ---- Screenshots ----

// screenshot saves a PNG of the whole page as name.png in the screenshot
// directory: .screenshots/ at the repository root, or $SYNCGUARD_SCREENSHOTS
// (relative to the root, e.g. static/screenshots, to commit them). Only the
// JavaScript-on runs take them: the pages look the same either way.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	if !b.js {
		return
	}
	ctx, cancel := b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fatalf("screenshot %s: %v", name, err)
	}
	dir := screenshotDir(b.t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SYNCGUARD_SCREENSHOTS")
	if dir == "" {
		dir = ".screenshots"
	}
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(repoRoot(t), dir)
}

// repoRoot is the directory of go.mod above the test's directory.
func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
