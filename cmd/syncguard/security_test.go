package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/store"
)

// serve --demo on a new folder: the folder is its owner's only, and so is
// every file in it (database, WAL, SHM, secret key, demo directory).
func TestServeMakesOwnerOnlyFiles(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := filepath.Join(h.dir, "data")
	db := filepath.Join(dir, "syncguard.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--db", db, "serve", "--demo", "--addr", "127.0.0.1:0", "--trusted-proxy", "10.0.0.0/8",
			"--trusted-proxy", "192.0.2.1", "--tick", "1h"}, func(string) string { return "" }, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var url string
	for url == "" && lines.Scan() {
		if _, u, ok := strings.Cut(lines.Text(), " is running at "); ok {
			url = u
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		cancel()
		t.Fatalf("serve did not start: %v", <-done)
	}
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the database folder: %v, %v; want 0700", fi.Mode(), err)
	}
	for _, name := range []string{"syncguard.db", "syncguard.db-wal", "syncguard.db-shm", "syncguard.key", "demo.ldif"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o, want 0600", name, fi.Mode().Perm())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if r := h.run("--db", db, "serve", "--trusted-proxy", "not-a-network"); r.code != exitUsage || !strings.Contains(r.stderr, "not an address or a CIDR") {
		t.Errorf("serve --trusted-proxy not-a-network: %s", r)
	}
}

// --secret-key-file names the key; the database is of no use with another.
func TestSecretKeyFileFlag(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ldif := hostileLDIF(t, h)
	key := filepath.Join(h.dir, "keys", "syncguard.key")
	if err := os.Mkdir(filepath.Dir(key), 0o700); err != nil {
		t.Fatal(err)
	}
	pw := h.path("bind-password")
	if err := os.WriteFile(pw, []byte("Bind-Secret-99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env["SYNCGUARD_SECRET_KEY_FILE"] = key
	h.ok("config", "add", "corp", "--source", "ldif:"+ldif, "--base-dn", testBase, "--bind-dn", "cn=x", "--bind-password-file", pw)
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if _, err := os.Stat(h.path("syncguard.key")); err == nil {
		t.Error("a key was made beside the database as well")
	}
	h.ok("config", "show", "corp")
	other := h.path("other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("k", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.want(exitError, "--secret-key-file", other, "config", "show", "corp")
	if !strings.Contains(r.stderr, "other.key") || !strings.Contains(r.stderr, "--secret-key-file") {
		t.Errorf("config show with another key: %s\nwant a message naming the key file and the flag", r)
	}
	if strings.Contains(h.transcript.String(), "Bind-Secret-99") {
		t.Error("the bind password was printed")
	}
}

// user passwd, set-role and remove end the user's sessions; the last admin
// stays.
func TestUserCommandsEndSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const pw = "correct horse battery staple\n"
	if r := h.runIn(pw, "user", "add", "alice", "--role", "admin"); r.code != 0 {
		t.Fatal(r)
	}
	if r := h.runIn(pw, "user", "add", "vera", "--role", "viewer"); r.code != 0 {
		t.Fatal(r)
	}
	signIn := func(name, id string) {
		st, err := store.Open(context.Background(), h.db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		u, err := st.UserByName(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateSession(context.Background(), id, &store.Session{UserID: u.ID, CSRFToken: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	live := func(id string) bool {
		st, err := store.Open(context.Background(), h.db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_, err = st.Session(context.Background(), id)
		return err == nil
	}
	signIn("alice", "a1")
	signIn("vera", "v1")
	if r := h.runIn("a new passphrase for alice\n", "user", "passwd", "alice"); r.code != 0 || live("a1") || !live("v1") {
		t.Errorf("user passwd alice: %s; alice's session live %v, vera's %v", r, live("a1"), live("v1"))
	}
	if r := h.ok("user", "set-role", "vera", "admin"); !strings.Contains(r.stdout, "now admin") || live("v1") {
		t.Errorf("user set-role vera admin: %s; vera's session live %v", r, live("v1"))
	}
	signIn("vera", "v2")
	if r := h.ok("user", "remove", "vera"); live("v2") {
		t.Errorf("user remove vera: %s; her session lives on", r)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"user", "remove", "alice"}, exitError, `"alice" is the last admin`},
		{[]string{"user", "set-role", "alice", "viewer"}, exitError, `"alice" is the last admin`},
		{[]string{"user", "set-role", "alice", "root"}, exitUsage, "must be admin or viewer"},
		{[]string{"user", "set-role", "alice"}, exitUsage, "needs NAME admin|viewer"},
		{[]string{"user", "remove", "nobody"}, exitError, `no user named "nobody"`},
		{[]string{"user", "passwd", "alice"}, exitUsage, "type the password on standard input"},
	} {
		if r := h.run(tt.args...); r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: %s\nwant exit %d and %q", strings.Join(tt.args, " "), r, tt.code, tt.want)
		}
	}
}
