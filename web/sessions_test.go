package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

func (e *env) user(name string) *store.User {
	e.t.Helper()
	u, err := e.Store.UserByName(context.Background(), name)
	if err != nil {
		e.t.Fatalf("user %s: %v", name, err)
	}
	return u
}

// signedOut checks that c is sent to sign in.
func (c *client) signedOut(what string) {
	c.t.Helper()
	if res := c.get("/configurations"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		c.t.Errorf("%s: the old session still reads pages (status %d)", what, res.Status)
	}
}

// Change password checks the current one, ends every other session of the
// user and keeps this browser signed in with a new session.
func TestChangePasswordEndsOtherSessions(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	here := e.signIn(store.RoleAdmin)
	there := e.signIn(store.RoleAdmin)
	other := e.signIn(store.RoleViewer)
	const newPassword = "a brand new passphrase"
	account := here.click(here.get("/configurations"), "Change password")
	account.wantStatus(http.StatusOK)
	hash := e.user("alice").PasswordHash
	for _, tt := range []struct {
		name             string
		current, new, re string
		field, msg       string
	}{
		{"wrong current password", "not my password!", newPassword, newPassword, "Current password", "This is not your current password."},
		{"too short", testPassword, "short", "short", "New password", "The password must have at least 12 characters."},
		{"repeated wrong", testPassword, newPassword, newPassword + "!", "Repeat new password", "The two new passwords are not the same."},
		{"the same", testPassword, testPassword, testPassword, "New password", "Choose a password other than the current one."},
	} {
		res := here.submit(account, "Change password", map[string]string{"Current password": tt.current, "New password": tt.new, "Repeat new password": tt.re})
		res.wantStatus(http.StatusUnprocessableEntity)
		msgs := res.describedBy(res.byLabel(tt.field))
		if len(msgs) == 0 || squash(msgs[len(msgs)-1].Text()) != tt.msg {
			t.Errorf("%s: no message %q by %s", tt.name, tt.msg, tt.field)
		}
		if e.user("alice").PasswordHash != hash {
			t.Fatalf("%s: the password changed", tt.name)
		}
	}
	res := here.submit(account, "Change password", map[string]string{"Current password": testPassword, "New password": newPassword, "Repeat new password": newPassword})
	res.wantRedirect("/account")
	if got := here.follow(res).flash(); !strings.Contains(got, "Your password was changed") {
		t.Errorf("flash after Change password = %q", got)
	}
	here.get(e.path("/basics/edit")).wantStatus(http.StatusOK)
	there.signedOut("another browser of alice after the password change")
	other.get("/configurations").wantStatus(http.StatusOK) // another user's session stays
	if !guard.CheckPassword(e.user("alice").PasswordHash, newPassword) {
		t.Error("the new password does not work")
	}
	e.newClient().signInWith("alice", testPassword).wantStatus(http.StatusUnauthorized)
	e.newClient().signInWith("alice", newPassword).wantRedirect("/configurations")
}

// Sign out everywhere ends every session of the user, this one too.
func TestSignOutEverywhere(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	here := e.signIn(store.RoleViewer)
	there := e.signIn(store.RoleViewer)
	admin := e.signIn(store.RoleAdmin)
	account := here.get("/account")
	if n := len(account.rows("table")); n != 2 {
		t.Errorf("account page lists %d sessions, want 2", n)
	}
	if !strings.Contains(account.text(), "this browser") {
		t.Error("the account page does not say which session is this browser")
	}
	here.submit(account, "Sign out everywhere", nil).wantRedirect("/login")
	here.signedOut("this browser after Sign out everywhere")
	there.signedOut("another browser after Sign out everywhere")
	admin.get("/configurations").wantStatus(http.StatusOK)
}

// A role change and a removal end the user's sessions at once; a user
// removed and added again under the same name is someone else.
func TestRoleChangeAndRemovalEndSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestServer(t)
	e.ensureUser("alice", store.RoleAdmin)
	vera := e.signInAs("vera", store.RoleViewer)
	if err := e.Store.SetRole(ctx, e.user("vera").ID, store.RoleAdmin, "alice"); err != nil {
		t.Fatal(err)
	}
	vera.signedOut("vera's viewer session after she became an admin")

	vera = e.signInAs("vera", store.RoleViewer) // an admin now
	vera.get(e.path("/basics/edit")).wantStatus(http.StatusOK)
	if err := e.Store.SetRole(ctx, e.user("vera").ID, store.RoleViewer, "alice"); err != nil {
		t.Fatal(err)
	}
	vera.signedOut("vera's admin session after she became a viewer")

	vera = e.signInAs("vera", store.RoleViewer)
	if err := e.Store.RemoveUser(ctx, e.user("vera").ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := e.Store.CreateUser(ctx, &store.User{Name: "vera", PasswordHash: hashedPassword(t), Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if res := vera.get(e.path("/basics/edit")); res.Status != http.StatusSeeOther {
		t.Errorf("vera removed and added again as admin: her old viewer cookie opens Edit Basics (status %d)", res.Status)
	}
}

// The waits grow: 30 s after the free failures, then 60 s, then 120 s; one
// attempt is checked after each wait.
func TestSignInWaitsGrow(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	e.ensureUser("alice", store.RoleAdmin)
	c := e.newClientFrom("127.0.0.6")
	for i := range 5 {
		c.signInWith("alice", wrongPassword(i)).wantStatus(http.StatusUnauthorized)
	}
	offset := time.Duration(0)
	for _, wait := range []int{30, 60, 120, 240} {
		res := c.signInWith("alice", testPassword)
		res.wantStatus(http.StatusTooManyRequests)
		ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		// Less than the wait by the time the last check took, no more.
		if ra > wait || ra <= wait-15 {
			t.Errorf("Retry-After %d, want about %d", ra, wait)
		}
		offset += time.Duration(wait) * time.Second
		e.Clock.set(offset)
		c.signInWith("alice", "still not the password").wantStatus(http.StatusUnauthorized)
	}
	// The right password from another address, any time.
	e.newClientFrom("127.0.0.7").signInWith("alice", testPassword).wantRedirect("/configurations")
}

// Behind a trusted reverse proxy the address is the one the proxy puts in
// X-Forwarded-For; from anyone else the header counts for nothing.
func TestTrustedProxy(t *testing.T) {
	t.Parallel()
	e := newTestServerWith(t, setup{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	e.ensureUser("alice", store.RoleAdmin)
	viaProxy := func(attempts []attempt, xff string) []attempt {
		for _, a := range attempts {
			a.req.Header.Set("X-Forwarded-For", xff)
		}
		return attempts
	}
	proxy := e.newClient()
	counts := burst(t, viaProxy(proxy.signInAttempts(100, "alice", wrongPassword), "198.51.100.23, 203.0.113.9"))
	if counts[http.StatusUnauthorized] > 5 {
		t.Errorf("100 attempts of one client through the proxy: %v", counts)
	}
	var sawAddr bool
	for _, ev := range e.audit() {
		if ev.Action == "Sign-in failed" || ev.Action == "Sign-in throttled" {
			if strings.Contains(ev.Details, "127.0.0.1") || strings.Contains(ev.Details, "198.51.100.23") {
				t.Errorf("audit names the proxy or the client's own header: %+v", ev)
			}
			sawAddr = sawAddr || strings.Contains(ev.Details, "203.0.113.9")
		}
	}
	if !sawAddr {
		t.Error("the audit does not name the client's address")
	}
	admin := e.newClient()
	login := admin.get("/login")
	req := admin.submitRequest(login, "Sign in", map[string]string{"Username": "alice", "Password": testPassword})
	req.Header.Set("X-Forwarded-For", "192.0.2.44")
	admin.do(req).wantRedirect("/configurations")

	// Not through a trusted proxy: changing the header each time is no way out.
	direct := e.newClientFrom("127.0.0.8")
	var attempts []attempt
	for i, a := range direct.signInAttempts(20, "alice", wrongPassword) {
		a.req.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1))
		attempts = append(attempts, a)
	}
	counts = burst(t, attempts)
	if counts[http.StatusUnauthorized] > 5 {
		t.Errorf("20 attempts with a made-up X-Forwarded-For each, from an untrusted peer: %v", counts)
	}
}
