package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// A database written by the previous release (testdata/release-16c1249,
// see its README) opens with this one, as a real process in the folder of
// its LDIF sources: it is migrated (the bind password it kept in clear is
// encrypted with a new key), everything is there — configurations,
// cycles, log, outbox, users —, the admin signs in with the password set
// then, and cycles succeed.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"corp.ldif", "corp-full.ldif"} {
		copyFile(t, filepath.Join("testdata", "release-16c1249", f), filepath.Join(dir, f))
	}
	db := filepath.Join(dir, "syncguard.db")
	copyFile(t, filepath.Join("testdata", "release-16c1249", "syncguard.sqlite"), db)
	env := []string{"SYNCGUARD_DB=" + db}
	cli := func(args ...string) string {
		t.Helper()
		p := startProcIn(t, dir, env, args...)
		if code := p.wait(time.Minute); code != 0 {
			t.Fatalf("syncguard %s: exit %d\n%s", strings.Join(args, " "), code, p.output())
		}
		return p.output()
	}

	var status statusOut
	if err := json.Unmarshal([]byte(cli("status", "corp", "--json")), &status); err != nil {
		t.Fatal(err)
	}
	if status.Status != "healthy" || status.Objects != 44 || status.Threshold != 10 || status.Email != "ops@corp.example" ||
		status.LastCycle == nil || status.LastCycle.ID != 4 {
		t.Errorf("corp after the upgrade: %+v, last cycle %+v", status, status.LastCycle)
	}
	var logs []logOut
	if err := json.Unmarshal([]byte(cli("logs", "corp", "--json", "--limit", "1000")), &logs); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, l := range logs {
		counts[l.Action+"/"+l.Status]++
	}
	if counts["Create/Success"] != 64 || counts["StagedDelete/Staged"] != 20 || counts["Delete/Success"] != 20 {
		t.Errorf("corp's provisioning log after the upgrade: %v", counts)
	}
	var outbox []outboxOut
	if err := json.Unmarshal([]byte(cli("outbox", "--json")), &outbox); err != nil {
		t.Fatal(err)
	}
	if len(outbox) != 1 || outbox[0].Status != "pending" || !strings.Contains(outbox[0].Subject, "Delete threshold exceeded: corp") {
		t.Errorf("outbox after the upgrade: %+v", outbox)
	}
	if out := cli("config", "show", "lab"); strings.Contains(out, "Lab-Bind-Secret") || !strings.Contains(out, "ou=Engineering") {
		t.Errorf("config show lab:\n%s", out)
	}
	// The secret is sealed at rest now, and reads back with the new key.
	raw := readOnly(t, db)
	var sealed string
	var schema int
	if err := raw.QueryRow(`SELECT bind_password, (SELECT max(version) FROM schema_migrations) FROM configurations WHERE name = 'lab'`).
		Scan(&sealed, &schema); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if !strings.HasPrefix(sealed, "sg1:") || schema != store.SchemaVersion() {
		t.Errorf("after the upgrade: bind password stored as %q, schema %d (want sealed, %d)", sealed, schema, store.SchemaVersion())
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := st.ConfigurationByName(context.Background(), "lab")
	st.Close()
	if err != nil || lab.BindPassword != "Lab-Bind-Secret-16c1249" {
		t.Errorf("lab's bind password after the upgrade: %v", err)
	}

	// Cycles: Sales is back at the source.
	copyFile(t, filepath.Join(dir, "corp-full.ldif"), filepath.Join(dir, "corp.ldif"))
	if out := cli("sync", "corp"); !strings.Contains(out, "Succeeded") || !strings.Contains(out, "created 20") {
		t.Errorf("sync corp after the upgrade:\n%s", out)
	}
	if out := cli("sync", "lab"); !strings.Contains(out, "Succeeded") {
		t.Errorf("sync lab after the upgrade:\n%s", out)
	}

	// The portal: the admin of the previous release signs in.
	serve, base := func() (*proc, string) {
		p := startProcIn(t, dir, env, "--log-format", "json", "serve", "--addr", "127.0.0.1:0", "--tick", "1h")
		line := p.waitContains(" is running at ", time.Minute)
		_, url, _ := strings.Cut(line, " is running at ")
		return p, url
	}()
	admin, err := signIn(t, base, "alice", "previous release 16c1249")
	if err != nil {
		t.Fatalf("the admin of the previous release: %v", err)
	}
	resp, err := admin.hc.Get(base + "/configurations")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "corp") || !strings.Contains(string(page), "lab") {
		t.Errorf("configurations page: %d\n%s", resp.StatusCode, page)
	}
	if _, err := signIn(t, base, "victor", "viewer of release 16c1249"); err != nil {
		t.Errorf("the viewer of the previous release: %v", err)
	}
	serve.signal(syscall.SIGTERM)
	if code := serve.wait(time.Minute); code != 0 {
		t.Fatalf("serve: exit %d\n%s", code, serve.output())
	}
	if _, err := os.Stat(filepath.Join(dir, "syncguard.key")); err != nil {
		t.Errorf("no key was made for the secrets the migration sealed: %v", err)
	}
}
