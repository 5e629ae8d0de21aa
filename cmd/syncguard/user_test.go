package main

import (
	"context"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

func TestUserAdd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const password = "correct horse battery staple"

	r := h.runIn(password+"\n", "user", "add", "alice", "--role", "admin")
	if r.code != 0 || !strings.Contains(r.stdout, `added admin "alice"`) {
		t.Fatalf("user add alice: %s", r)
	}
	if strings.Contains(h.transcript.String(), password) {
		t.Errorf("user add echoes the password:\n%s", h.transcript.String())
	}
	// No trailing newline, and a viewer.
	if r := h.runIn("another long passphrase", "user", "add", "bob", "--role", "viewer"); r.code != 0 {
		t.Errorf("user add bob: %s", r)
	}

	// The users are stored with a hash of the password read from stdin.
	st, err := store.Open(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]struct{ role, password string }{
		"alice": {store.RoleAdmin, password},
		"bob":   {store.RoleViewer, "another long passphrase"},
	} {
		u, err := st.UserByName(context.Background(), name)
		if err != nil {
			t.Errorf("user %s: %v", name, err)
			continue
		}
		if u.Role != want.role || !guard.CheckPassword(u.PasswordHash, want.password) || strings.Contains(u.PasswordHash, want.password) {
			t.Errorf("user %s: role %q, password matches %v; want role %s and a hash of the password", name, u.Role,
				guard.CheckPassword(u.PasswordHash, want.password), want.role)
		}
	}
	st.Close()

	before := dumpDB(t, h.db)
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"duplicate name", password + "\n", []string{"user", "add", "alice", "--role", "viewer"}, exitError, `a user named "alice" already exists`},
		{"short password", "short-pass1\n", []string{"user", "add", "carol", "--role", "admin"}, exitUsage, "at least 12 characters"},
		{"empty stdin", "", []string{"user", "add", "carol", "--role", "admin"}, exitUsage, "type the password on standard input"},
		{"bad role", password + "\n", []string{"user", "add", "carol", "--role", "superuser"}, exitUsage, "--role must be admin or viewer"},
		{"no role", password + "\n", []string{"user", "add", "carol"}, exitUsage, "--role must be admin or viewer"},
		{"no name", password + "\n", []string{"user", "add", "--role", "admin"}, exitUsage, "needs exactly one user NAME"},
		{"name with a space", password + "\n", []string{"user", "add", "carol smith", "--role", "admin"}, exitUsage, "a user name has no spaces"},
	} {
		r := h.runIn(tt.stdin, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: %s\nwant exit %d and %q on stderr", tt.name, r, tt.code, tt.want)
		}
	}
	if after := dumpDB(t, h.db); after != before {
		t.Errorf("a refused user add changed the database:\n%s", firstDiff(before, after))
	}
}
