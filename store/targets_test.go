package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

const tokenSecret = "Token-Secret-9191-plugh"

// applyLogged writes one Applied cycle of configuration id logging the
// given anchors as Updates (Success).
func applyLogged(t *testing.T, st *store.Store, id int64, anchors ...string) *store.Cycle {
	t.Helper()
	cfg, err := st.Configuration(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	now := st.Now()
	var ch store.Applied
	for _, a := range anchors {
		ch.Log = append(ch.Log, store.LogEntry{Time: now, Action: store.ActionUpdate, Status: store.LogSuccess, Type: "user",
			Name: "User " + a, DN: "uid=" + a + ",ou=Sales,dc=corp,dc=example", Anchor: a, Details: "changed: title"})
	}
	w := &store.CycleWrite{Generation: cfg.Generation, Cycle: store.Cycle{ConfigID: id, Trigger: "manual", StartedAt: now, FinishedAt: now},
		Changes: ch}
	if _, err := st.ApplyCycle(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	return &w.Cycle
}

// TestMigrationWidensTheLog takes a database back to the provisioning log
// of before migration 007 (its CHECK constraints, indexed text) and opens
// it again: the entries keep their ids and their text search, and the
// log takes the new statuses.
func TestMigrationWidensTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syncguard.db")
	st := openAt(t, path)
	cfg := addLDAPConfiguration(t, st, "corp", "")
	applyLogged(t, st, cfg.ID, "a1", "a2", "a3")
	if _, err := st.IndexLogText(ctx, 2); err != nil {
		t.Fatal(err)
	}
	before, err := st.Logs(ctx, store.LogQuery{ConfigID: cfg.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// The table as migration 007 found it: today's, with the CHECKs of
	// before (later migrations' columns, such as cause, stay).
	var def string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'provisioning_log'`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	// (Migration 013 writes the CHECKs as chains of OR.)
	def = regexp.MustCompile(`CHECK \(action (IN \([^)]*\)|= [^)]*)\)`).ReplaceAllLiteralString(def,
		`CHECK (action IN ('Create', 'Update', 'Delete', 'StagedDelete'))`)
	def = regexp.MustCompile(`CHECK \(status (IN \([^)]*\)|= [^)]*)\)`).ReplaceAllLiteralString(def,
		`CHECK (status IN ('Success', 'Failure', 'Skipped', 'Staged'))`)
	def = strings.Replace(def, "provisioning_log", "provisioning_log_old", 1)
	var rebuild []string
	rows, err := db.Query(`SELECT sql FROM sqlite_master WHERE tbl_name = 'provisioning_log' AND type IN ('index', 'trigger') AND sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var q string
		rows.Scan(&q)
		rebuild = append(rebuild, q)
	}
	rows.Close()
	steps := append([]string{`DROP TABLE target_links`, `DROP TABLE exports`, `DROP TABLE targets`, def,
		`INSERT INTO provisioning_log_old SELECT * FROM provisioning_log`, `DROP TABLE provisioning_log`,
		`ALTER TABLE provisioning_log_old RENAME TO provisioning_log`}, rebuild...)
	for _, q := range append(steps, `DELETE FROM schema_migrations WHERE version = 7`) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := db.Exec(`UPDATE provisioning_log SET status = 'Pending'`); err == nil || !strings.Contains(err.Error(), "CHECK") {
		t.Fatalf("the old log took a Pending entry (%v): the test did not build the old table", err)
	}
	db.Close()

	st = openAt(t, path)
	after, err := st.Logs(ctx, store.LogQuery{ConfigID: cfg.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(before, after, func(a, b store.LogEntry) bool { return a == b }) {
		t.Errorf("the log changed in the migration:\nbefore %+v\nafter  %+v", before, after)
	}
	for _, text := range []string{"User a1", "User a3"} { // indexed, and above the index's mark
		found, err := st.Logs(ctx, store.LogQuery{ConfigID: cfg.ID, Text: text, Limit: 10})
		if err != nil || len(found) != 1 || found[0].Name != text {
			t.Errorf("search %q after the migration: %+v, %v", text, found, err)
		}
	}
	if err := st.SetTarget(ctx, &store.Target{ConfigID: cfg.ID, URL: "scim+http://127.0.0.1/scim", Token: "t"}, "test"); err != nil {
		t.Fatal(err)
	}
	c := applyLogged(t, st, cfg.ID, "a4")
	logs, err := st.Logs(ctx, store.LogQuery{ConfigID: cfg.ID, Cycle: c.ID, Limit: 10})
	if err != nil || len(logs) != 1 || logs[0].Status != store.LogPending {
		t.Errorf("with a target, a cycle logged %+v, %v; want one Pending entry", logs, err)
	}
}

// TestTargetSecretsAtRest: the target's bind password and token are
// sealed in the database, read back in clear, and never written in the
// audit.
func TestTargetSecretsAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syncguard.db")
	st := openAt(t, path)
	cfg := addLDAPConfiguration(t, st, "corp", "")
	for _, tg := range []store.Target{
		{URL: "ldap://127.0.0.1:389", BaseDN: "dc=cloud,dc=example", BindDN: "cn=admin", BindPassword: bindSecret},
		{URL: "scim+https://scim.example/v2", Token: tokenSecret},
	} {
		tg.ConfigID = cfg.ID
		if err := st.SetTarget(ctx, &tg, "test"); err != nil {
			t.Fatal(err)
		}
		got, err := st.Target(ctx, cfg.ID)
		if err != nil || got.BindPassword != tg.BindPassword || got.Token != tg.Token || got.URL != tg.URL {
			t.Errorf("read back %+v, %v", got, err)
		}
	}
	events, err := st.AuditEvents(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range events {
		if e.Action == "Edited Target" {
			details = append(details, e.Details)
		}
	}
	joined := strings.Join(details, "\n")
	if len(details) != 2 || !strings.Contains(joined, "target token changed") || strings.Contains(joined, "Secret") {
		t.Errorf("audit of the target edits: %q", details)
	}
	st.Close()
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(bindSecret)) || bytes.Contains(b, []byte(tokenSecret)) {
			t.Errorf("%s holds a target secret in clear", filepath.Base(p))
		}
	}
}

// TestSetTargetToAnotherDirectory: pointing a configuration at another
// directory drops what was queued for the old one (its entries Skipped,
// saying why) and what was known of it, and the next cycle exports the
// whole copy; a new token alone keeps the queue.
func TestSetTargetToAnotherDirectory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "syncguard.db"))
	st.SetClock(func() time.Time { return time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC) })
	cfg := addLDAPConfiguration(t, st, "corp", "")
	tg := store.Target{ConfigID: cfg.ID, URL: "scim+https://one.example/v2", Token: "one"}
	if err := st.SetTarget(ctx, &tg, "test"); err != nil {
		t.Fatal(err)
	}
	applyLogged(t, st, cfg.ID, "a1", "a2")
	tg.Token = "two"
	if err := st.SetTarget(ctx, &tg, "test"); err != nil {
		t.Fatal(err)
	}
	if s, err := st.TargetState(ctx, cfg.ID); err != nil || s.Pending != 2 {
		t.Fatalf("after a new token: %+v, %v; want the 2 exports still queued", s, err)
	}
	tg.URL = "scim+https://two.example/v2"
	if err := st.SetTarget(ctx, &tg, "test"); err != nil {
		t.Fatal(err)
	}
	got, err := st.Target(ctx, cfg.ID)
	if err != nil || got.Epoch != 2 || got.Contents != store.ContentsUnknown {
		t.Errorf("the target after a new URL: %+v, %v; want epoch 2, contents unknown", got, err)
	}
	if s, err := st.TargetState(ctx, cfg.ID); err != nil || s.Pending != 0 {
		t.Errorf("after a new URL: %+v, %v; want nothing queued", s, err)
	}
	logs, err := st.Logs(ctx, store.LogQuery{ConfigID: cfg.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		if l.Status != store.LogSkipped || !strings.Contains(l.Details, "not sent: the target changed to scim+https://two.example/v2") {
			t.Errorf("entry %+v, want Skipped saying why", l)
		}
	}
}

// TestEditTarget: an edit applies to the target as it is when saved (a
// secret it leaves alone is the one saved meanwhile); an edit that fails
// changes nothing; a configuration created with its target has both or,
// when its name is taken, neither.
func TestEditTarget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "syncguard.db"))
	cfg := addLDAPConfiguration(t, st, "corp", "")
	if err := st.SetTarget(ctx, &store.Target{ConfigID: cfg.ID, URL: "scim+https://one.example/v2", Token: "first"}, "test"); err != nil {
		t.Fatal(err)
	}
	// Someone saves a new token between an admin's form and her Save.
	if err := st.SetTarget(ctx, &store.Target{ConfigID: cfg.ID, URL: "scim+https://one.example/v2", Token: "second"}, "bob"); err != nil {
		t.Fatal(err)
	}
	saved, err := st.EditTarget(ctx, cfg.ID, "alice", func(cur *store.Target) error {
		cur.CAFile = "/etc/ssl/scim-ca.pem" // the token left alone
		return nil
	})
	if err != nil || saved.Token != "second" || saved.CAFile != "/etc/ssl/scim-ca.pem" {
		t.Fatalf("EditTarget = %+v, %v; want bob's token kept", saved, err)
	}
	refused := store.Errorf(store.Invalid, "no")
	if _, err := st.EditTarget(ctx, cfg.ID, "alice", func(cur *store.Target) error {
		cur.URL = "scim+https://two.example/v2"
		return refused
	}); err != refused {
		t.Errorf("EditTarget with a failing edit: %v, want its error", err)
	}
	if got, err := st.Target(ctx, cfg.ID); err != nil || got.URL != "scim+https://one.example/v2" || got.Epoch != 1 {
		t.Errorf("after a failing edit: %+v, %v", got, err)
	}

	withTarget := &store.Configuration{Name: "cloud", Source: "ldif:/x.ldif", BaseDN: "dc=corp,dc=example", Interval: time.Minute,
		Basics: store.Basics{Threshold: 10}}
	tg := &store.Target{URL: "scim+https://cloud.example/v2", Token: tokenSecret}
	if err := st.CreateConfigurationWithTarget(ctx, withTarget, tg, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Target(ctx, withTarget.ID); err != nil || got.URL != tg.URL || got.Token != tokenSecret || got.Epoch != 1 {
		t.Errorf("the target of a configuration created with it: %+v, %v", got, err)
	}
	again := *withTarget
	if err := st.CreateConfigurationWithTarget(ctx, &again, &store.Target{URL: "ldaps://dir.example", BaseDN: "dc=x"}, "alice"); err == nil {
		t.Fatal("a taken name was created again")
	}
	if got, err := st.Target(ctx, withTarget.ID); err != nil || got.URL != tg.URL {
		t.Errorf("the first one's target after the refused creation: %+v, %v", got, err)
	}
}
