package web_test

import (
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/syncguard/syncguard/store"
)

// newClientFrom is a client whose connections come from ip, a loopback
// address other than 127.0.0.1 (Linux answers on all of 127.0.0.0/8): the
// portal sees each such client as another address, as it would see
// people on other machines.
func (e *env) newClientFrom(ip string) *client {
	e.t.Helper()
	c := e.newClient()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 200}
	c.hc.Transport = tr
	// A burst of bcrypt checks on a small machine takes its time.
	c.hc.Timeout = 3 * time.Minute
	e.t.Cleanup(tr.CloseIdleConnections)
	return c
}

// attempt is one request and the client (cookies, address) that sends it.
type attempt struct {
	c   *client
	req *http.Request
}

// burst sends the attempts all at once (each on its own goroutine,
// released together) and counts the answers by status.
func burst(t *testing.T, attempts []attempt) map[int]int {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	var errs []error
	for _, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p, err := a.c.send(a.req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			counts[p.Status]++
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d requests failed, first: %v", len(errs), len(attempts), errs[0])
	}
	return counts
}

// signInAttempts are n sign-in form posts for name from c, each with its
// own password, carrying the token of c's sign-in page.
func (c *client) signInAttempts(n int, name string, password func(i int) string) []attempt {
	c.t.Helper()
	tok := c.token()
	var out []attempt
	for i := range n {
		out = append(out, attempt{c, c.postRequest("/login", url.Values{"_csrf": {tok}, "username": {name}, "password": {password(i)}})})
	}
	return out
}

// signInWith signs in as name with password through the form and returns the answer.
func (c *client) signInWith(name, password string) *page {
	c.t.Helper()
	login := c.get("/login")
	if login.Status == http.StatusSeeOther {
		c.t.Fatalf("already signed in")
	}
	return c.submit(login, "Sign in", map[string]string{"Username": name, "Password": password})
}

func wrongPassword(i int) string { return fmt.Sprintf("wrong password number %d", i) }

// 100 sign-in attempts at once for one account from one address: each is
// counted before its password is checked, so only the first few are
// checked (401) and the rest are refused at once (429).
func TestSignInBurstFromOneAddress(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.ensureUser("alice", store.RoleAdmin)
	attacker := e.newClientFrom("127.0.0.2")
	counts := burst(t, attacker.signInAttempts(100, "alice", wrongPassword))
	checked, refused := counts[http.StatusUnauthorized], counts[http.StatusTooManyRequests]
	t.Logf("100 at once from one address: %d checked (401), %d refused (429)", checked, refused)
	if checked+refused != 100 || checked > 5 || refused < 95 {
		t.Errorf("answers %v: want at most 5 passwords checked (401) and the rest 429", counts)
	}
	// Guessing on is refused too, and says when to come back.
	res := attacker.signInWith("alice", "one more guess!")
	res.wantStatus(http.StatusTooManyRequests)
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra <= 0 {
		t.Errorf("Retry-After = %q, want a number of seconds", res.Header.Get("Retry-After"))
	}
	if got := squash(res.Doc.Find(`[role="alert"]`).Text()); !strings.Contains(got, "Too many failed sign-in attempts") {
		t.Errorf("429 message = %q", got)
	}
}

// An attacker's failures never lock the right password out from another
// address: 100 wrong passwords at once from one address, then three
// wrong ones from each of 30 other addresses; the admin, at an address of
// her own, signs in at the first try.
func TestAttackerCannotLockAdminOut(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.ensureUser("alice", store.RoleAdmin)
	attacker := e.newClientFrom("127.0.0.2")
	counts := burst(t, attacker.signInAttempts(100, "alice", wrongPassword))
	if counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 100 {
		t.Fatalf("attack answers %v", counts)
	}
	admin := e.newClientFrom("127.0.0.3")
	admin.signInWith("alice", testPassword).wantRedirect("/configurations")
	admin.get("/configurations").wantStatus(http.StatusOK)

	// A distributed attack: 30 addresses, three guesses each, at once.
	var attempts []attempt
	for i := range 30 {
		c := e.newClientFrom(fmt.Sprintf("127.0.1.%d", i+1))
		attempts = append(attempts, c.signInAttempts(3, "alice", func(k int) string { return wrongPassword(i*10 + k) })...)
	}
	counts = burst(t, attempts)
	t.Logf("30 addresses × 3 guesses at once: %v", counts)
	if counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 90 {
		t.Fatalf("answers %v: want 401 or 429 for each", counts)
	}
	other := e.newClientFrom("127.0.0.4")
	other.signInWith("alice", testPassword).wantRedirect("/configurations")
}

// Failed sign-ins and throttled attempts are in the audit log, and a
// flood of them adds only a bounded number of events.
func TestSignInFailuresAudited(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.ensureUser("alice", store.RoleAdmin)
	c := e.newClientFrom("127.0.0.5")
	c.signInWith("alice", "not the password").wantStatus(http.StatusUnauthorized)
	c.signInWith("nobody-here", "not the password").wantStatus(http.StatusUnauthorized)
	var failed []store.AuditEvent
	for _, ev := range e.audit() {
		if ev.Action == "Sign-in failed" {
			failed = append(failed, ev)
		}
	}
	if len(failed) != 2 {
		t.Fatalf("audit: %d Sign-in failed events, want 2: %+v", len(failed), e.audit())
	}
	for _, ev := range failed {
		if !strings.Contains(ev.Details, "127.0.0.5") || (ev.Actor != "alice" && ev.Actor != "nobody-here") {
			t.Errorf("event %+v: want the name tried as actor and the address in the details", ev)
		}
	}

	before := len(e.audit())
	counts := burst(t, c.signInAttempts(100, "alice", wrongPassword))
	if counts[http.StatusTooManyRequests] == 0 {
		t.Fatalf("no attempt throttled: %v", counts)
	}
	evs := e.audit()
	added := evs[:len(evs)-before]
	var throttled, failures int
	for _, ev := range added {
		switch ev.Action {
		case "Sign-in throttled":
			throttled++
		case "Sign-in failed":
			failures++
		}
	}
	t.Logf("100 attempts (%v) added %d audit events: %d failed, %d throttled", counts, len(added), failures, throttled)
	if throttled == 0 {
		t.Errorf("no Sign-in throttled event after %d throttled attempts", counts[http.StatusTooManyRequests])
	}
	if len(added) > 10 {
		t.Errorf("100 attempts added %d audit events, want a few (coalesced)", len(added))
	}
}

// After Sign out, the old cookie signs nobody in: replaying it neither
// reads nor saves anything.
func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	cookies := admin.cookies()
	tok := admin.token()
	admin.submit(admin.get("/configurations"), "Sign out", nil).wantRedirect("/login")

	replay := e.newClient()
	replay.setCookies(cookies)
	replay.get("/configurations").wantRedirect("/login?next=%2Fconfigurations")
	before := e.snapshot()
	res := replay.post(e.path("/basics"), url.Values{"_csrf": {tok}, "email": {"ops@corp.example"}, "prevent": {"on"}, "threshold": {"99"}})
	if res.Status != http.StatusUnauthorized && res.Status != http.StatusForbidden {
		t.Errorf("saving Basics with the signed-out cookie: status %d, want 401 or 403", res.Status)
	}
	e.assertUnchanged(before, "a signed-out cookie")
}

// A session ends after 12 hours without use, and after 7 days whatever its use.
func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	t.Run("idle", func(t *testing.T) {
		e := newTestServer(t)
		admin := e.signIn(store.RoleAdmin)
		e.Clock.set(11 * time.Hour)
		admin.get("/configurations").wantStatus(http.StatusOK)
		e.Clock.set(22 * time.Hour) // 11 hours after its last use
		admin.get("/configurations").wantStatus(http.StatusOK)
		e.Clock.set(34*time.Hour + time.Minute) // 12 hours and a minute after
		admin.get("/configurations").wantRedirect("/login?next=%2Fconfigurations")
	})
	t.Run("absolute", func(t *testing.T) {
		e := newTestServer(t)
		admin := e.signIn(store.RoleAdmin)
		for h := 10 * time.Hour; h < 7*24*time.Hour; h += 10 * time.Hour {
			e.Clock.set(h)
			if res := admin.get("/configurations"); res.Status != http.StatusOK {
				t.Fatalf("used every 10 hours, signed out after %s: status %d", h, res.Status)
			}
		}
		e.Clock.set(7*24*time.Hour + time.Minute)
		admin.get("/configurations").wantRedirect("/login?next=%2Fconfigurations")
	})
}

// Nothing the database holds signs anyone in: the session keys of a
// signed cookie are not in it (an attacker who reads the file cannot
// forge one), and the session table holds no cookie value.
func TestDatabaseHoldsNoUsableSession(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	admin.get("/configurations").wantStatus(http.StatusOK)
	db, err := sql.Open("sqlite", "file:"+e.dbPath()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var candidates []string
	// What a signed cookie would be forged with.
	var keys []byte
	switch err := db.QueryRow(`SELECT value FROM settings WHERE key = 'session_keys'`).Scan(&keys); {
	case err == nil && len(keys) == 96:
		codec := securecookie.New(keys[:64], keys[64:])
		for _, v := range []map[any]any{{"user": "alice", "sid": "x", "at": time.Now().Unix()}, {"user": "alice"}} {
			if enc, err := codec.Encode("syncguard_session", v); err == nil {
				candidates = append(candidates, enc)
			}
		}
	case err != nil && err != sql.ErrNoRows && !strings.Contains(err.Error(), "no such table"):
		t.Fatal(err)
	}
	// Every text value of the session table, if there is one.
	rows, err := db.Query(`SELECT * FROM sessions`)
	if err == nil {
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch v := v.(type) {
				case string:
					candidates = append(candidates, v)
				case []byte:
					candidates = append(candidates, string(v))
				}
			}
		}
		rows.Close()
	}
	for _, v := range candidates {
		c := e.newClient()
		for _, name := range []string{"syncguard_session", "__Host-syncguard_session"} {
			c.setCookies([]*http.Cookie{{Name: name, Value: v, Path: "/"}})
		}
		if res := c.get(e.path("/basics/edit")); res.Status != http.StatusSeeOther {
			t.Errorf("a cookie made from the database (%.20s…) opens Edit Basics: status %d", v, res.Status)
		}
	}
}

// The CSRF token is the session's: a cookie the attacker planted (a
// sibling subdomain can set one) does not make its value a token, a token
// in the query string counts for nothing, and a request from another
// origin or another site is refused even with the right token.
func TestCSRFBoundToSession(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	good := admin.token()
	form := func() url.Values {
		return url.Values{"email": {"attacker@evil.example"}, "prevent": {"on"}, "threshold": {"10000000"}}
	}
	u, _ := url.Parse(e.URL)
	tests := []struct {
		name    string
		prepare func(req *http.Request)
		form    url.Values
	}{
		{"planted cookie and its value as the token", func(req *http.Request) {
			req.AddCookie(&http.Cookie{Name: "syncguard_csrf", Value: "planted-by-a-sibling-0123456789ab"})
		}, url.Values{"_csrf": {"planted-by-a-sibling-0123456789ab"}}},
		{"token in the query string only", func(req *http.Request) {
			req.URL.RawQuery = url.Values{"_csrf": {good}}.Encode()
		}, url.Values{}},
		{"same-site (a sibling subdomain) with the right token", func(req *http.Request) {
			req.Header.Set("Sec-Fetch-Site", "same-site")
			req.Header.Set("Origin", "http://evil.corp.example")
		}, url.Values{"_csrf": {good}}},
		{"another origin with the right token", func(req *http.Request) {
			req.Header.Set("Origin", "http://evil.example")
		}, url.Values{"_csrf": {good}}},
		{"origin null with the right token", func(req *http.Request) {
			req.Header.Set("Origin", "null")
		}, url.Values{"_csrf": {good}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin.t = t
			f := form()
			for k, v := range tt.form {
				f[k] = v
			}
			req := admin.postRequest(e.path("/basics"), f)
			// The browser's cookies; a planted one replaces its namesake.
			for _, c := range admin.hc.Jar.Cookies(u) {
				if c.Name != "syncguard_csrf" || tt.form.Get("_csrf") == good {
					req.AddCookie(c)
				}
			}
			jar := admin.hc.Jar
			admin.hc.Jar = nil
			tt.prepare(req)
			before := e.snapshot()
			res := admin.do(req)
			admin.hc.Jar = jar
			if res.Status != http.StatusForbidden {
				t.Errorf("status %d, want 403", res.Status)
			}
			e.assertUnchanged(before, tt.name)
		})
	}
	admin.t = t
	// The same form from this origin goes through.
	req := admin.postRequest(e.path("/basics"), url.Values{"_csrf": {good}, "email": {"ops@corp.example"}, "prevent": {"on"}, "threshold": {"12"}})
	req.Header.Set("Origin", e.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	admin.do(req).wantRedirect(e.path(""))
	if got := e.config().Basics.Threshold; got != 12 {
		t.Errorf("threshold = %d after a same-origin save, want 12", got)
	}
}

// Under TLS the cookies are __Host- prefixed (no subdomain can set or
// shadow them) and every answer carries Strict-Transport-Security; over
// plain HTTP neither.
func TestTLSCookiesAndHSTS(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			e := newTestServerWith(t, setup{Secure: secure})
			e.ensureUser("alice", store.RoleAdmin)
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			var all []*http.Cookie
			get := func(path string, cookies []*http.Cookie) *http.Response {
				req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
				for _, c := range cookies {
					req.AddCookie(c)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				all = append(all, resp.Cookies()...)
				return resp
			}
			for _, path := range []string{"/login", "/configurations", "/static/style.css", "/nowhere", "/healthz"} {
				hsts := get(path, nil).Header.Get("Strict-Transport-Security")
				switch {
				case secure && !strings.Contains(hsts, "max-age="):
					t.Errorf("%s: Strict-Transport-Security = %q, want max-age", path, hsts)
				case !secure && hsts != "":
					t.Errorf("%s over plain HTTP: Strict-Transport-Security = %q", path, hsts)
				}
			}
			c := e.newClient()
			c.signInWith("alice", testPassword).wantRedirect("/configurations")
			if !secure {
				return
			}
			// The jar keeps no Secure cookie over http: read what was set.
			login := c.get("/login")
			all = append(all, login.Resp.Cookies()...)
			for _, ck := range all {
				if ck.Name == "" {
					continue
				}
				if !strings.HasPrefix(ck.Name, "__Host-") || !ck.Secure || ck.Path != "/" || ck.Domain != "" {
					t.Errorf("cookie %q under TLS: Secure %v, Path %q, Domain %q; want __Host-, Secure, Path /, no Domain",
						ck.Name, ck.Secure, ck.Path, ck.Domain)
				}
			}
		})
	}
}

// /static/ serves files, never a listing of its directory.
func TestStaticHasNoListing(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	c := e.newClient()
	for _, path := range []string{"/static/", "/static", "/static/.", "/static/screenshots/"} {
		res := c.get(path)
		if res.Status == http.StatusOK || strings.Contains(res.Body, ">app.js<") {
			t.Errorf("%s: status %d, lists the directory", path, res.Status)
		}
	}
	c.get("/static/style.css").wantStatus(http.StatusOK)
}

func (c *client) cookies() []*http.Cookie {
	u, _ := url.Parse(c.env.URL)
	return c.hc.Jar.Cookies(u)
}

func (c *client) setCookies(cs []*http.Cookie) {
	u, _ := url.Parse(c.env.URL)
	c.hc.Jar.SetCookies(u, slices.Clone(cs))
}

func (e *env) dbPath() string {
	return filepath.Join(filepath.Dir(e.LDIF), "syncguard.db")
}
