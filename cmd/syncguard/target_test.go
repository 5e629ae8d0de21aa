package main

import (
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
)

const cloudBase = "dc=cloud,dc=example"

// writeSecret writes a secret file of the harness and returns its path.
func (h *harness) writeSecret(name, secret string) string {
	h.t.Helper()
	path := h.path(name)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// targetEntries counts the users and groups below the target base of srv
// with a plain search.
func targetEntries(t *testing.T, srv *slapdtest.Server) int {
	t.Helper()
	res, err := srv.Conn(t).Search(ldap.NewSearchRequest(cloudBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))", []string{"1.1"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Entries)
}

// TestTargetLDAP: a configuration with an LDAP target: its flags, config
// show (never the password), target test, and sync exporting every
// object; target test says why when the server is down.
func TestTargetLDAP(t *testing.T) {
	t.Parallel()
	slapdtest.Require(t)
	srv := slapdtest.Start(t, slapdtest.Options{Suffix: cloudBase, RootPW: "Cloud-Secret-777"})
	h := newHarness(t)
	pw := h.writeSecret("target.pw", srv.RootPW)
	h.addCorp(writeLDIF(t, h.dir), "--target", srv.URL, "--target-base-dn", cloudBase, "--target-bind-dn", srv.RootDN,
		"--target-bind-password-file", pw)
	show := h.ok("config", "show", "corp")
	for _, s := range []string{"Target", srv.URL, "Target base DN", cloudBase, "Target bind password"} {
		if !strings.Contains(show.stdout, s) {
			t.Errorf("config show lacks %q:\n%s", s, show.stdout)
		}
	}
	target, _ := configShow(h, "corp")["target"].(jsonObject)
	requireKeys(t, "config show --json target", target, "kind", "url", "base_dn", "bind_dn", "starttls", "ca_file")
	if target["kind"] != "ldap" || target["url"] != srv.URL || target["base_dn"] != cloudBase {
		t.Errorf("config show --json target = %v", target)
	}
	if r := h.ok("target", "test", "corp"); !strings.Contains(r.stdout, "LDAP ok: bound as "+srv.RootDN) {
		t.Errorf("target test: %s", r)
	}
	r := h.ok("sync", "corp")
	if !strings.Contains(r.stdout, "exported 3020 to the target") {
		t.Errorf("sync: %s", r)
	}
	if n := targetEntries(t, srv); n != testTotal {
		t.Errorf("the target holds %d users and groups, want %d", n, testTotal)
	}
	var raw jsonObject
	h.json(&raw, "status", "corp", "--json")
	tj, _ := raw["target"].(jsonObject)
	requireKeys(t, "status --json target", tj, "kind", "url", "pending_exports", "failed_exports", "last_export_at", "last_error")
	if s := h.status("corp"); s.Target.Kind != "ldap" || s.Target.PendingExports != 0 || s.Target.LastExportAt == nil {
		t.Errorf("status --json target = %+v", s.Target)
	}
	srv.Stop()
	r = h.want(exitError, "target", "test", "corp")
	if !strings.Contains(r.stderr, "target of corp: LDAP") || !strings.Contains(r.stderr, "refused") {
		t.Errorf("target test with slapd down: %s", r)
	}
	if strings.Contains(h.transcript.String(), srv.RootPW) {
		t.Error("an output shows the target's bind password")
	}
}

// TestTargetSCIMUnreachable: sync with the service down finishes within
// SYNCGUARD_EXPORT_WAIT, says what is left pending and why; status and
// logs show it; the next sync, with the service back, sends it all.
func TestTargetSCIMUnreachable(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	srv := scimtest.Start(t, scimtest.Options{Token: "Scim-Token-4242", Fault: func(*http.Request) scimtest.Fault {
		if down.Load() {
			return scimtest.Fault{Status: http.StatusServiceUnavailable, Detail: "down for maintenance"}
		}
		return scimtest.Fault{}
	}})
	h := newHarness(t)
	h.env["SYNCGUARD_EXPORT_WAIT"] = "1s"
	token := h.writeSecret("scim.token", srv.Token)
	h.addCorp(writeLDIF(t, h.dir), "--target", srv.URL, "--target-token-file", token)
	r := h.ok("sync", "corp")
	if !strings.Contains(r.stdout, "3020 exports left pending (target unreachable: SCIM 503") {
		t.Errorf("sync with the service down: %s", r)
	}
	s := h.status("corp")
	if s.Status != "target_unreachable" || s.StatusText != "Target unreachable" || s.Target.PendingExports != testTotal ||
		!strings.Contains(s.Target.LastError, "down for maintenance") {
		t.Errorf("status --json with the service down = %+v, target %+v", s, s.Target)
	}
	if st := h.ok("status", "corp"); !strings.Contains(st.stdout, "corp: Target unreachable since ") {
		t.Errorf("status: %s", st.stdout)
	}
	if pending := h.logs("corp", "--status", "Pending", "--limit", "5000"); len(pending) != testTotal {
		t.Errorf("logs --status Pending: %d entries, want %d", len(pending), testTotal)
	}
	down.Store(false)
	r = h.ok("sync", "corp")
	if !strings.Contains(r.stdout, "exported 3020 to the target") {
		t.Errorf("sync with the service back: %s", r)
	}
	if s := h.status("corp"); s.Status != "healthy" || s.Target.PendingExports != 0 {
		t.Errorf("status --json with the service back = %+v, target %+v", s, s.Target)
	}
	if n := len(srv.Users()); n != testUsers {
		t.Errorf("%d users in the service, want %d", n, testUsers)
	}
	if strings.Contains(h.transcript.String(), srv.Token) {
		t.Error("an output shows the token")
	}
}

// TestTargetBadInput: target settings that cannot work are refused with
// exit 2 and a message, and change nothing.
func TestTargetBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pw := h.writeSecret("pw", "Some-Secret-1")
	h.addCorp(writeLDIF(t, h.dir))
	before := dumpDB(t, h.db)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown scheme", []string{"--target", "ftp://files.example"}, `target "ftp://files.example": want none`},
		{"SCIM in clear", []string{"--target", "scim+http://scim.example/v2", "--target-token-file", pw}, "scim+http:// is allowed only to a loopback address"},
		{"SCIM without a token", []string{"--target", "scim+https://scim.example/v2"}, "no bearer token"},
		{"LDAP without a base", []string{"--target", "ldaps://dir.example"}, "needs its base DN (--target-base-dn)"},
		{"LDAP password in clear", []string{"--target", "ldap://dir.example", "--target-base-dn", cloudBase,
			"--target-bind-dn", "cn=admin," + cloudBase, "--target-bind-password-file", pw}, "in clear"},
		{"a token for LDAP", []string{"--target", "ldaps://dir.example", "--target-base-dn", cloudBase, "--target-token-file", pw}, "--target-token-file: not for a ldap target"},
		{"a base DN for SCIM", []string{"--target", "scim+https://scim.example/v2", "--target-token-file", pw, "--target-base-dn", cloudBase}, "--target-base-dn: not for a scim target"},
		{"settings without a target", []string{"--target-base-dn", cloudBase}, "target settings without a target"},
	} {
		r := h.want(exitUsage, append([]string{"config", "set", "corp"}, tc.args...)...)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: stderr = %q, want %q", tc.name, r.stderr, tc.want)
		}
	}
	if r := h.want(exitError, "config", "set", "corp", "--target", "scim+https://scim.example/v2", "--target-token-file", h.path("missing")); !strings.Contains(r.stderr, "target token file") {
		t.Errorf("a missing token file: %s", r)
	}
	if after := dumpDB(t, h.db); after != before {
		t.Errorf("refused settings changed the database: %s", firstDiff(before, after))
	}
	if r := h.want(exitError, "target", "test", "corp"); !strings.Contains(r.stderr, "no target") {
		t.Errorf("target test without a target: %s", r)
	}
	if strings.Contains(h.transcript.String(), "Some-Secret-1") {
		t.Error("an output shows a secret")
	}
}
