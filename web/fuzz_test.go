package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/store"
)

// fuzzPortal is a portal over a small database with a synced configuration
// (so the log has entries) and an admin signed in.
type fuzzPortal struct {
	srv     *Server
	st      *store.Store
	eng     *guard.Engine
	cookies []*http.Cookie
	cfgID   int64
	ldif    string
}

func newFuzzPortal(tb testing.TB) *fuzzPortal {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "syncguard.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	var b bytes.Buffer
	if err := demo.Generate(&b, demo.Options{Users: 30, Groups: 2, MembersPerGroup: 5, Seed: 5, UUIDs: true}); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "directory.ldif")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg := &store.Configuration{Name: "corp", Source: "ldif:" + path, BaseDN: demo.BaseDN, Interval: time.Hour,
		Basics: store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 5}}
	if err := st.CreateConfiguration(ctx, cfg, "test"); err != nil {
		tb.Fatal(err)
	}
	eng := &guard.Engine{Store: st}
	if c, err := eng.RunCycle(ctx, cfg.ID, guard.TriggerManual); err != nil || c.Outcome != store.OutcomeSucceeded {
		tb.Fatalf("first cycle = %+v, %v", c, err)
	}
	const password = "fuzzing-password-123"
	hash, err := guard.HashPassword(password)
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateUser(ctx, &store.User{Name: "admin", PasswordHash: hash, Role: store.RoleAdmin}); err != nil {
		tb.Fatal(err)
	}
	srv, err := New(ctx, Options{Store: st, Engine: eng, Scheduler: &guard.Scheduler{Engine: eng}})
	if err != nil {
		tb.Fatal(err)
	}
	p := &fuzzPortal{srv: srv, st: st, eng: eng, cfgID: cfg.ID, ldif: path}
	p.signIn(tb, "admin", password)
	return p
}

// do sends a request with the portal's cookies and keeps the cookies it sets.
func (p *fuzzPortal) do(method, target, rawQuery string, form url.Values) *httptest.ResponseRecorder {
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, target, body)
	req.URL.RawQuery = rawQuery
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range p.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	p.srv.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		p.setCookie(c)
	}
	return rec
}

func (p *fuzzPortal) setCookie(c *http.Cookie) {
	for i := range p.cookies {
		if p.cookies[i].Name == c.Name {
			p.cookies[i] = c
			return
		}
	}
	p.cookies = append(p.cookies, c)
}

// csrf returns the CSRF token of the form on the page at target.
func (p *fuzzPortal) csrf(tb testing.TB, target string) string {
	tb.Helper()
	rec := p.do(http.MethodGet, target, "", nil)
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		tb.Fatal(err)
	}
	tok, ok := doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		tb.Fatalf("no CSRF token on %s (status %d)", target, rec.Code)
	}
	return tok
}

func (p *fuzzPortal) signIn(tb testing.TB, name, password string) {
	tb.Helper()
	tok := p.csrf(tb, "/login")
	rec := p.do(http.MethodPost, "/login", "", url.Values{"username": {name}, "password": {password}, "_csrf": {tok}})
	if rec.Code != http.StatusSeeOther {
		tb.Fatalf("sign in: status %d, want 303", rec.Code)
	}
}

// FuzzLogQuery drives the real provisioning log page (and its CSV export)
// through the Echo router, signed in, with any query string: it never
// answers 500 nor panics; it answers 200, or 422 with a message the person
// can see; and what parseLogFilter accepts, store.Logs runs.
func FuzzLogQuery(f *testing.F) {
	for _, q := range []string{"", "action=Create", "action=StagedDelete&cycle=1", "status=success&type=USER", "cycle=0",
		"cycle=99999999999999999999", "from=2026-01-31&to=2026-01-01", "from=31/01/2026", "q=%25_%5C", "before=abc",
		"before=1", "action=Drop&status=x&type=computer", "q=%3Cscript%3E", "%zz", "from=%00", "q=%FF%FE",
		"q=%00abc", "q=abc%00", "q=%22Sal%22%20OR%20x", "q=NEAR(a%20b)"} {
		f.Add(q)
	}
	p := newFuzzPortal(f)
	logs := fmt.Sprintf("/configurations/%d/logs", p.cfgID)
	f.Fuzz(func(t *testing.T, raw string) {
		rec := p.do(http.MethodGet, logs, raw, nil)
		switch rec.Code {
		case http.StatusOK, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("GET %s?%s: status %d, want 200 or 422", logs, raw, rec.Code)
		}
		doc, err := goquery.NewDocumentFromReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		msgs := strings.TrimSpace(doc.Find(".field-error, .flash-error").Text())
		if rec.Code == http.StatusUnprocessableEntity && msgs == "" {
			t.Fatalf("GET %s?%s: 422 without a message on the page", logs, raw)
		}
		if rec.Code == http.StatusOK && msgs != "" {
			t.Fatalf("GET %s?%s: 200 with an error message %q", logs, raw, msgs)
		}
		if doc.Find("h1").Text() != "Provisioning log" {
			t.Fatalf("GET %s?%s: not the provisioning log page", logs, raw)
		}

		csv := p.do(http.MethodGet, logs+".csv", raw, nil)
		if csv.Code != http.StatusOK && csv.Code != http.StatusUnprocessableEntity {
			t.Fatalf("GET %s.csv?%s: status %d, want 200 or 422", logs, raw, csv.Code)
		}
		if (csv.Code == http.StatusOK) != (rec.Code == http.StatusOK) {
			t.Fatalf("query %q: the page answers %d, the CSV export %d", raw, rec.Code, csv.Code)
		}

		q, _ := url.ParseQuery(raw)
		lq, _, ok := parseLogFilter(q, p.cfgID)
		if ok {
			if _, err := p.st.Logs(context.Background(), lq); err != nil {
				t.Fatalf("store.Logs(%+v) for query %q: %v", lq, raw, err)
			}
		}
	})
}
