package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/web"
)

// testPassword is every test user's password.
const testPassword = "correct horse battery staple"

// The test directory: 60 users over the five default OUs (12 each) and two
// groups, with entryUUIDs as anchors.
var testDirectoryOptions = demo.Options{Users: 60, Groups: 2, MembersPerGroup: 6, Seed: 42, UUIDs: true}

const (
	salesOU        = "ou=Sales,dc=corp,dc=example"
	usersPerOU     = 12
	testUsers      = 60
	testGroups     = 2
	testThreshold  = 10
	testEmail      = "admin@corp.example"
	testConfigName = "corp"
	testVersion    = "9.9.9-test"
)

var (
	hashOnce     sync.Once
	passwordHash string
	hashErr      error
)

// hashedPassword is testPassword hashed once for the whole package: bcrypt
// is slow on purpose.
func hashedPassword(t *testing.T) string {
	t.Helper()
	hashOnce.Do(func() { passwordHash, hashErr = guard.HashPassword(testPassword) })
	if hashErr != nil {
		t.Fatalf("hash password: %v", hashErr)
	}
	return passwordHash
}

// generate returns a demo directory as LDIF.
func generate(t *testing.T, opts demo.Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := demo.Generate(&buf, opts); err != nil {
		t.Fatalf("generate LDIF: %v", err)
	}
	return buf.Bytes()
}

// ldifRecords splits LDIF into its records, unfolded (continuation lines
// joined), without comments.
func ldifRecords(b []byte) []string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n ", "")
	var out []string
	for _, rec := range strings.Split(s, "\n\n") {
		var lines []string
		for _, l := range strings.Split(rec, "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 0 {
			out = append(out, strings.Join(lines, "\n"))
		}
	}
	return out
}

func recordDN(rec string) string {
	first, _, _ := strings.Cut(rec, "\n")
	if v, ok := strings.CutPrefix(first, "dn:: "); ok {
		b, _ := base64.StdEncoding.DecodeString(v)
		return string(b)
	}
	return strings.TrimPrefix(first, "dn: ")
}

// withoutBelow drops the entries below parentDN (the parent itself stays):
// an OU whose users vanished from the source.
func withoutBelow(b []byte, parentDN string) []byte {
	var keep []string
	suffix := "," + strings.ToLower(parentDN)
	for _, rec := range ldifRecords(b) {
		if !strings.HasSuffix(strings.ToLower(recordDN(rec)), suffix) {
			keep = append(keep, rec)
		}
	}
	return []byte(strings.Join(keep, "\n\n") + "\n\n")
}

// ldifEntry is one LDIF record; every value is written base64, so any text
// (markup, leading '<' or ':') is valid.
func ldifEntry(dn string, attrs ...string) string {
	var b strings.Builder
	b.WriteString("dn: " + dn + "\n")
	for i := 0; i+1 < len(attrs); i += 2 {
		b.WriteString(attrs[i] + ":: " + base64.StdEncoding.EncodeToString([]byte(attrs[i+1])) + "\n")
	}
	return b.String()
}

// testClock is the store's clock: real time flowing from noon today, moved by
// offset. Noon keeps "two days ago" on the calendar day two days ago.
type testClock struct {
	start, base time.Time
	offset      atomic.Int64
}

func newTestClock() *testClock {
	now := time.Now()
	return &testClock{start: now, base: time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, time.Local)}
}

func (c *testClock) now() time.Time {
	return c.base.Add(time.Since(c.start) + time.Duration(c.offset.Load()))
}

func (c *testClock) set(offset time.Duration) { c.offset.Store(int64(offset)) }

// env is one portal over its own database, engine and scheduler.
type env struct {
	t        *testing.T
	URL      string
	Store    *store.Store
	Engine   *guard.Engine
	Sched    *guard.Scheduler
	Server   *web.Server
	ConfigID int64
	AgentID  int64
	LDIF     string // path of the source LDIF file
	Clock    *testClock
	// drafter is the admin client whose session holds the drafts that
	// tests of New configuration's later steps open.
	drafter   *client
	spares    int    // names made so far by spareConfig and the like
	lastSpare string // the name of the last spareConfig
}

// spareConfig creates a configuration of its own over the test LDIF and
// returns its path.
func (e *env) spareConfig() string {
	e.t.Helper()
	e.spares++
	e.lastSpare = fmt.Sprintf("spare%d", e.spares)
	cfg := &store.Configuration{Name: e.lastSpare, Source: "ldif:" + e.LDIF, BaseDN: demo.BaseDN, Interval: time.Hour,
		Basics: store.Basics{Prevent: true, Threshold: testThreshold}}
	if err := e.Store.CreateConfiguration(context.Background(), cfg, "setup"); err != nil {
		e.t.Fatalf("create a spare configuration: %v", err)
	}
	return fmt.Sprintf("/configurations/%d", cfg.ID)
}

// setup tunes newTestServerWith; zero fields take the defaults.
type setup struct {
	Name         string // configuration name; default "corp"
	LDIF         []byte // source directory; default the test directory
	Threshold    int    // default testThreshold
	Source       string // default "ldif:" + the LDIF path
	BindPassword string
	Secure       bool // web.Options.Secure
	// TrustedProxies is web.Options.TrustedProxies.
	TrustedProxies []netip.Prefix
	NoFirstCycle   bool // leave the configuration "Not run yet"
	MetricsToken   string
}

// newTestServer serves the portal over a temporary SQLite database with one
// configuration ("corp", on an LDIF file of 60 users and 2 groups, threshold
// 10) whose first cycle ran two days ago (store clock).
func newTestServer(t *testing.T) *env {
	t.Helper()
	return newTestServerWith(t, setup{})
}

func newTestServerWith(t *testing.T, s setup) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "syncguard.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	clock := newTestClock()
	st.SetClock(clock.now)

	e := &env{t: t, Store: st, Clock: clock, LDIF: filepath.Join(dir, "directory.ldif")}
	if s.LDIF == nil {
		s.LDIF = generate(t, testDirectoryOptions)
	}
	e.writeLDIF(s.LDIF)
	if s.Name == "" {
		s.Name = testConfigName
	}
	if s.Threshold == 0 {
		s.Threshold = testThreshold
	}
	if s.Source == "" {
		s.Source = "ldif:" + e.LDIF
	}
	if e.AgentID, err = st.RegisterAgent(ctx, "agent@test-host", "test-host", testVersion); err != nil {
		t.Fatalf("register agent: %v", err)
	}
	e.Engine = &guard.Engine{Store: st, AgentID: e.AgentID, PublicURL: "http://portal.example",
		Source: guard.SourceOptions{Timeout: 5 * time.Second}}
	e.Sched = &guard.Scheduler{Engine: e.Engine}
	cfg := &store.Configuration{Name: s.Name, Source: s.Source, BaseDN: demo.BaseDN, Interval: 2 * time.Minute,
		BindDN: "", BindPassword: s.BindPassword,
		Basics: store.Basics{Email: testEmail, Prevent: true, Threshold: s.Threshold}}
	if s.BindPassword != "" {
		cfg.BindDN = "cn=sync,dc=corp,dc=example"
	}
	if err := st.CreateConfiguration(ctx, cfg, "setup"); err != nil {
		t.Fatalf("create configuration: %v", err)
	}
	e.ConfigID = cfg.ID
	if err := st.SetAgent(ctx, cfg.ID, e.AgentID); err != nil {
		t.Fatalf("set agent: %v", err)
	}
	if !s.NoFirstCycle {
		clock.set(-48 * time.Hour)
		e.runCycle()
		clock.set(0)
		if err := st.Heartbeat(ctx, e.AgentID); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
	}

	e.Server, err = web.New(ctx, web.Options{Store: st, Engine: e.Engine, Scheduler: e.Sched, Secure: s.Secure,
		TrustedProxies: s.TrustedProxies, MetricsToken: s.MetricsToken})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	ts := httptest.NewServer(e.Server)
	e.URL = ts.URL
	t.Cleanup(ts.Close)
	t.Cleanup(e.Sched.Wait) // runs first: no cycle outlives the test
	return e
}

func (e *env) writeLDIF(b []byte) {
	e.t.Helper()
	if err := os.WriteFile(e.LDIF, b, 0o600); err != nil {
		e.t.Fatalf("write LDIF: %v", err)
	}
}

// runCycle runs one cycle of the configuration with the engine, as the scheduler would.
func (e *env) runCycle() *store.Cycle {
	e.t.Helper()
	cy, err := e.Engine.RunCycle(context.Background(), e.ConfigID, guard.TriggerManual)
	if err != nil {
		e.t.Fatalf("run cycle: %v", err)
	}
	return cy
}

// waitCycles waits for the cycles the portal started (Run sync now, Allow
// deletes, Restart sync).
func (e *env) waitCycles() { e.Sched.Wait() }

// tripGuard removes the Sales users from the source and runs a cycle: 12
// deletions against the threshold of 10 are staged.
func (e *env) tripGuard() *store.Cycle {
	e.t.Helper()
	e.writeLDIF(withoutBelow(generate(e.t, testDirectoryOptions), salesOU))
	cy := e.runCycle()
	if cy.Outcome != store.OutcomeQuarantined {
		e.t.Fatalf("cycle outcome = %s (%s), want Quarantined", cy.Outcome, cy.Error)
	}
	return cy
}

func (e *env) config() *store.Configuration {
	e.t.Helper()
	cfg, err := e.Store.Configuration(context.Background(), e.ConfigID)
	if err != nil {
		e.t.Fatalf("configuration: %v", err)
	}
	return cfg
}

func (e *env) path(suffix string) string {
	return fmt.Sprintf("/configurations/%d%s", e.ConfigID, suffix)
}

func (e *env) audit() []store.AuditEvent {
	e.t.Helper()
	ev, err := e.Store.AuditEvents(context.Background(), 0, 100000)
	if err != nil {
		e.t.Fatalf("audit events: %v", err)
	}
	return ev
}

func (e *env) logs(q store.LogQuery) []store.LogEntry {
	e.t.Helper()
	q.ConfigID = e.ConfigID
	if q.Limit == 0 {
		q.Limit = 100000
	}
	entries, err := e.Store.Logs(context.Background(), q)
	if err != nil {
		e.t.Fatalf("logs: %v", err)
	}
	return entries
}

func (e *env) objects() (users, groups int) {
	e.t.Helper()
	users, groups, err := e.Store.ObjectCounts(context.Background(), e.ConfigID)
	if err != nil {
		e.t.Fatalf("object counts: %v", err)
	}
	return users, groups
}

func (e *env) pending() int {
	e.t.Helper()
	n, err := e.Store.PendingStaged(context.Background(), e.ConfigID)
	if err != nil {
		e.t.Fatalf("pending staged: %v", err)
	}
	return n
}

func (e *env) cycles() []*store.Cycle {
	e.t.Helper()
	cs, err := e.Store.Cycles(context.Background(), e.ConfigID, 1000)
	if err != nil {
		e.t.Fatalf("cycles: %v", err)
	}
	return cs
}

// snapshot is what a change would move; equal snapshots mean nothing changed.
type snapshot struct {
	Basics        store.Basics
	Scope         string
	Status        string
	QuarantineID  int64
	Generation    int64
	UpdatedAt     time.Time
	Audit         int
	Logs          int
	Cycles        int
	Pending       int
	Users, Groups int
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	cfg := e.config()
	s := snapshot{Basics: cfg.Basics, Scope: strings.Join(cfg.Scope, "|"), Status: cfg.Status, QuarantineID: cfg.QuarantineID,
		Generation: cfg.Generation, UpdatedAt: cfg.UpdatedAt, Audit: len(e.audit()), Logs: len(e.logs(store.LogQuery{})),
		Cycles: len(e.cycles()), Pending: e.pending()}
	s.Users, s.Groups = e.objects()
	return s
}

func (e *env) assertUnchanged(before snapshot, what string) {
	e.t.Helper()
	if after := e.snapshot(); after != before {
		e.t.Errorf("%s changed the store:\n before %+v\n after  %+v", what, before, after)
	}
}

// ensureUser creates a portal user with testPassword unless it exists.
func (e *env) ensureUser(name, role string) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.Store.UserByName(ctx, name); err == nil {
		return
	} else if !errors.Is(err, store.ErrNotFound) {
		e.t.Fatalf("user %s: %v", name, err)
	}
	if err := e.Store.CreateUser(ctx, &store.User{Name: name, PasswordHash: hashedPassword(e.t), Role: role}); err != nil {
		e.t.Fatalf("create user %s: %v", name, err)
	}
}

// client is a browser without JavaScript: a cookie jar, redirects not
// followed (tests look at each 303), and no Sec-Fetch-Site header, so every
// form goes through the CSRF token check.
type client struct {
	t   *testing.T
	env *env
	hc  *http.Client
}

func (e *env) newClient() *client {
	e.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{t: e.t, env: e, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn signs in through the sign-in form as the user named after the
// role ("alice" the admin, "victor" the viewer).
func (e *env) signIn(role string) *client {
	e.t.Helper()
	name := map[string]string{store.RoleAdmin: "alice", store.RoleViewer: "victor"}[role]
	if name == "" {
		e.t.Fatalf("unknown role %q", role)
	}
	return e.signInAs(name, role)
}

// signInAs signs in as name (created with role if needed).
func (e *env) signInAs(name, role string) *client {
	e.t.Helper()
	e.ensureUser(name, role)
	c := e.newClient()
	p := c.get("/login")
	p.wantStatus(http.StatusOK)
	res := c.submit(p, "Sign in", map[string]string{"Username": name, "Password": testPassword})
	res.wantRedirect("/configurations")
	return c
}

// page is one response, its body read and, for HTML, parsed.
type page struct {
	t      *testing.T
	URL    *url.URL
	Status int
	Header http.Header
	Resp   *http.Response
	Body   string
	Doc    *goquery.Document
}

func (c *client) abs(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return c.env.URL + path
}

// send does a request without failing the test (safe in goroutines).
func (c *client) send(req *http.Request) (*page, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	p := &page{t: c.t, URL: req.URL, Status: resp.StatusCode, Header: resp.Header, Resp: resp, Body: string(body)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if p.Doc, err = goquery.NewDocumentFromReader(bytes.NewReader(body)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (c *client) do(req *http.Request) *page {
	c.t.Helper()
	p, err := c.send(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	if p.Doc != nil {
		checkMarkup(c.t, p)
	}
	return p
}

func (c *client) get(path string) *page {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.abs(path), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form as is: nothing added (tests of missing tokens use it).
func (c *client) post(path string, form url.Values) *page {
	c.t.Helper()
	return c.do(c.postRequest(path, form))
}

func (c *client) postRequest(path string, form url.Values) *http.Request {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.abs(path), strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// token is the CSRF token of this client's forms, read from the sign-in or
// configurations page as a browser would.
func (c *client) token() string {
	c.t.Helper()
	p := c.get("/login")
	if p.Status == http.StatusSeeOther {
		p = c.get("/configurations")
	}
	tok, ok := p.Doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		c.t.Fatalf("no _csrf field on %s", p.URL)
	}
	return tok
}

// postForm opens the page at from, fills the form that posts to action
// (keeping its hidden fields, _csrf among them, like a browser) with vals
// (by input name) and submits it.
func (c *client) postForm(from, action string, vals url.Values) *page {
	c.t.Helper()
	p := c.get(from)
	p.wantStatus(http.StatusOK)
	var form *goquery.Selection
	p.Doc.Find("form").EachWithBreak(func(_ int, f *goquery.Selection) bool {
		if a, _ := f.Attr("action"); a == action {
			form = f
			return false
		}
		return true
	})
	if form == nil {
		c.t.Fatalf("%s: no form posting to %s", from, action)
	}
	return c.do(c.formRequest(p, form, vals))
}

// submit fills the form holding the button named button, by label: each key
// is a <label>'s text and the value what a person types ("" unticks a
// checkbox, anything else ticks it). Then it presses the button.
func (c *client) submit(p *page, button string, byLabel map[string]string) *page {
	c.t.Helper()
	return c.do(c.submitRequest(p, button, byLabel))
}

func (c *client) submitRequest(p *page, button string, byLabel map[string]string) *http.Request {
	c.t.Helper()
	form := p.formWithButton(button)
	vals := url.Values{}
	// A browser sends the name and value of the button pressed.
	if btn := p.byName("button", button).First(); btn.AttrOr("name", "") != "" {
		vals.Set(btn.AttrOr("name", ""), btn.AttrOr("value", ""))
	}
	for label, v := range byLabel {
		ctl := p.byLabel(label)
		name, _ := ctl.Attr("name")
		if typ, _ := ctl.Attr("type"); typ == "checkbox" {
			value := ctl.AttrOr("value", "on")
			cur := vals[name]
			if cur == nil {
				cur = formValues(form)[name]
			}
			cur = slices.DeleteFunc(slices.Clone(cur), func(s string) bool { return s == value })
			if v != "" {
				cur = append(cur, value)
			}
			vals[name] = cur
			continue
		}
		vals[name] = []string{v}
	}
	return c.formRequest(p, form, vals)
}

// formValues is what a browser sends for a form as it stands.
func formValues(form *goquery.Selection) url.Values {
	vals := url.Values{}
	form.Find("input, select, textarea").Each(func(_ int, s *goquery.Selection) {
		name, ok := s.Attr("name")
		if !ok || name == "" {
			return
		}
		if _, disabled := s.Attr("disabled"); disabled {
			return
		}
		switch goquery.NodeName(s) {
		case "select":
			opt := s.Find("option[selected]").First()
			if opt.Length() == 0 {
				opt = s.Find("option").First()
			}
			vals.Add(name, opt.AttrOr("value", opt.Text()))
		case "textarea":
			vals.Add(name, s.Text())
		default:
			switch s.AttrOr("type", "text") {
			case "checkbox", "radio":
				if _, checked := s.Attr("checked"); checked {
					vals.Add(name, s.AttrOr("value", "on"))
				}
			case "submit", "button", "reset", "image", "file":
			default:
				vals.Add(name, s.AttrOr("value", ""))
			}
		}
	})
	return vals
}

// formRequest builds the request a browser makes for form, with vals
// replacing the fields they name.
func (c *client) formRequest(p *page, form *goquery.Selection, vals url.Values) *http.Request {
	c.t.Helper()
	all := formValues(form)
	for k, v := range vals {
		all[k] = v
	}
	action, err := p.URL.Parse(form.AttrOr("action", p.URL.String()))
	if err != nil {
		c.t.Fatalf("form action: %v", err)
	}
	if strings.EqualFold(form.AttrOr("method", "get"), "post") {
		req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(all.Encode()))
		if err != nil {
			c.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	action.RawQuery = all.Encode()
	req, err := http.NewRequest(http.MethodGet, action.String(), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return req
}

// follow GETs where a 303 points.
func (c *client) follow(p *page) *page {
	c.t.Helper()
	p.wantStatus(http.StatusSeeOther)
	loc, err := p.URL.Parse(p.Header.Get("Location"))
	if err != nil {
		c.t.Fatalf("Location %q: %v", p.Header.Get("Location"), err)
	}
	return c.get(loc.String())
}

// click follows the link whose accessible name is name.
func (c *client) click(p *page, name string) *page {
	c.t.Helper()
	href, ok := p.link(name).Attr("href")
	if !ok {
		c.t.Fatalf("%s: link %q has no href", p.URL, name)
	}
	u, err := p.URL.Parse(href)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.get(u.String())
}

func (p *page) wantStatus(want int) {
	p.t.Helper()
	if p.Status != want {
		p.t.Fatalf("%s %s: status %d, want %d; body:\n%s", p.Resp.Request.Method, p.URL.RequestURI(), p.Status, want, excerpt(p))
	}
}

// wantRedirect checks a 303 to want (a path with its query).
func (p *page) wantRedirect(want string) {
	p.t.Helper()
	p.wantStatus(http.StatusSeeOther)
	if got := p.Header.Get("Location"); got != want {
		p.t.Fatalf("%s: Location = %q, want %q", p.URL.RequestURI(), got, want)
	}
}

func excerpt(p *page) string {
	if p.Doc != nil {
		txt := squash(p.Doc.Find("main").Text())
		if txt == "" {
			txt = squash(p.Doc.Text())
		}
		return txt
	}
	if len(p.Body) > 2000 {
		return p.Body[:2000]
	}
	return p.Body
}

// squash collapses white space, as a reader sees text.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// text is the visible text of the page's main part.
func (p *page) text() string {
	p.t.Helper()
	if p.Doc == nil {
		p.t.Fatalf("%s is not HTML", p.URL)
	}
	return squash(p.Doc.Find("main").Text())
}

// flash is the one-time message at the top of the page.
func (p *page) flash() string {
	p.t.Helper()
	return squash(p.Doc.Find("main .flash").Text())
}

// accessibleName is an element's aria-label, else its text.
func accessibleName(s *goquery.Selection) string {
	if l, ok := s.Attr("aria-label"); ok {
		return squash(l)
	}
	return squash(s.Text())
}

// byName returns the elements matching sel whose accessible name is name.
func (p *page) byName(sel, name string) *goquery.Selection {
	return p.Doc.Find(sel).FilterFunction(func(_ int, s *goquery.Selection) bool { return accessibleName(s) == name })
}

// link is the first link named name; the test fails when there is none.
func (p *page) link(name string) *goquery.Selection {
	p.t.Helper()
	l := p.byName("a", name)
	if l.Length() == 0 {
		p.t.Fatalf("%s: no link named %q; page:\n%s", p.URL.RequestURI(), name, excerpt(p))
	}
	return l.First()
}

// hasControl reports whether the page has a link, button or summary named name.
func (p *page) hasControl(name string) bool {
	return p.byName("a, button, summary", name).Length() > 0
}

// byLabel is the control bound to the <label> whose text is label.
func (p *page) byLabel(label string) *goquery.Selection {
	p.t.Helper()
	var forID string
	p.Doc.Find("label").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		if squash(s.Text()) == label {
			forID = s.AttrOr("for", "")
			return false
		}
		return true
	})
	if forID == "" {
		p.t.Fatalf("%s: no <label for> with text %q", p.URL.RequestURI(), label)
	}
	ctl := p.Doc.FindMatcher(goquery.Single("#" + cssEscape(forID)))
	if ctl.Length() != 1 {
		p.t.Fatalf("%s: label %q points to %q: no such control", p.URL.RequestURI(), label, forID)
	}
	return ctl
}

func cssEscape(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r < 128 && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// formWithButton is the form holding the submit button named name.
func (p *page) formWithButton(name string) *goquery.Selection {
	p.t.Helper()
	btn := p.byName("button", name)
	if btn.Length() == 0 {
		p.t.Fatalf("%s: no button named %q; page:\n%s", p.URL.RequestURI(), name, excerpt(p))
	}
	form := btn.First().Closest("form")
	if form.Length() == 0 {
		p.t.Fatalf("%s: button %q is not in a form", p.URL.RequestURI(), name)
	}
	return form
}

// describedBy returns the texts of the elements an input's aria-describedby names.
func (p *page) describedBy(ctl *goquery.Selection) []*goquery.Selection {
	var out []*goquery.Selection
	for _, id := range strings.Fields(ctl.AttrOr("aria-describedby", "")) {
		if s := p.Doc.FindMatcher(goquery.Single("#" + cssEscape(id))); s.Length() > 0 {
			out = append(out, s)
		}
	}
	return out
}

// checkMarkup fails on what the Content-Security-Policy would block or what
// only injected markup would bring: inline script or style, event-handler
// attributes, scripts not served by the portal.
func checkMarkup(t *testing.T, p *page) {
	t.Helper()
	where := p.Resp.Request.Method + " " + p.URL.RequestURI()
	p.Doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		src, ok := s.Attr("src")
		if !ok || !strings.HasPrefix(src, "/static/") || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("%s: script element not from /static/ (src=%q, text=%q)", where, src, s.Text())
		}
	})
	if n := p.Doc.Find("style").Length(); n > 0 {
		t.Errorf("%s: %d inline <style> elements (blocked by the CSP)", where, n)
	}
	p.Doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") || strings.EqualFold(a.Key, "style") {
				t.Errorf("%s: <%s %s=%q>: inline handler or style", where, goquery.NodeName(s), a.Key, a.Val)
			}
			if (a.Key == "href" || a.Key == "src" || a.Key == "action") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				t.Errorf("%s: <%s %s=%q>", where, goquery.NodeName(s), a.Key, a.Val)
			}
		}
	})
}

// rows returns, for each body row of the first table matching sel, its cells' texts.
func (p *page) rows(sel string) [][]string {
	var out [][]string
	p.Doc.Find(sel).First().Find("tbody tr").Each(func(_ int, tr *goquery.Selection) {
		var cells []string
		tr.Find("th, td").Each(func(_ int, td *goquery.Selection) { cells = append(cells, squash(td.Text())) })
		out = append(out, cells)
	})
	return out
}

// prop is the <dd> next to the <dt> whose text is name, within sel.
func (p *page) prop(sel, name string) string {
	p.t.Helper()
	var val string
	found := false
	p.Doc.Find(sel).Find("dt").EachWithBreak(func(_ int, dt *goquery.Selection) bool {
		if squash(dt.Text()) == name {
			val, found = squash(dt.NextFiltered("dd").Text()), true
			return false
		}
		return true
	})
	if !found {
		p.t.Fatalf("%s: no %q under %s; page:\n%s", p.URL.RequestURI(), name, sel, excerpt(p))
	}
	return val
}

// section is the <section> labelled by a heading with text heading.
func (p *page) section(heading string) *goquery.Selection {
	p.t.Helper()
	var sec *goquery.Selection
	p.Doc.Find("section").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		id := s.AttrOr("aria-labelledby", "")
		if id != "" && squash(p.Doc.FindMatcher(goquery.Single("#"+cssEscape(id))).Text()) == heading {
			sec = s
			return false
		}
		return true
	})
	if sec == nil {
		p.t.Fatalf("%s: no section %q; page:\n%s", p.URL.RequestURI(), heading, excerpt(p))
	}
	return sec
}
