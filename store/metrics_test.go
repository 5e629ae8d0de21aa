package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// recordCycle records a Failed cycle (it changes nothing but its record)
// that took d, ending at the store's clock.
func recordCycle(t *testing.T, st *store.Store, configID int64, d time.Duration) {
	t.Helper()
	end := st.Now()
	if _, err := st.ApplyCycle(context.Background(), &store.CycleWrite{Changes: store.Failed{},
		Cycle: store.Cycle{ConfigID: configID, Trigger: "manual", Error: "test", StartedAt: end.Add(-d), FinishedAt: end}}); err != nil {
		t.Fatalf("apply cycle: %v", err)
	}
}

// histogram renders a configuration's cycle stats as "outcome n total [bound:count…]".
func histogram(m *store.Metrics, configID int64) string {
	var out string
	for _, c := range m.Cycles {
		if c.ConfigID != configID {
			continue
		}
		out += fmt.Sprintf("%s %d %s", c.Outcome, c.Cycles, c.Total)
		for _, b := range store.CycleDurationBuckets {
			if n := c.Buckets[b]; n > 0 {
				out += fmt.Sprintf(" %s:%d", b, n)
			}
		}
	}
	return out
}

// Cycles are counted by outcome and duration bucket in the transaction that
// records them; a database from before the counts is counted once, by its
// migration, to the same figures.
func TestCycleStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syncguard.db")
	st := openAt(t, path)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st.SetClock(func() time.Time { return now })
	cfg := addLDAPConfiguration(t, st, "corp", "")
	other := addLDAPConfiguration(t, st, "other", "")
	for _, d := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 3 * time.Second, 2 * time.Hour} {
		recordCycle(t, st, cfg.ID, d)
	}
	recordCycle(t, st, other.ID, time.Second)
	alice := &store.User{Name: "alice", PasswordHash: "x", Role: store.RoleAdmin}
	if err := st.CreateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if err := st.SignedIn(ctx, alice, ""); err != nil {
		t.Fatal(err)
	}
	const want = "Failed 4 2h0m3.15s 50ms:1 100ms:1 5s:1"
	m, err := st.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := histogram(m, cfg.ID); got != want {
		t.Errorf("cycle stats = %q, want %q", got, want)
	}
	st.Close()

	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE cycle_stats`, `ALTER TABLE users DROP COLUMN last_sign_in_at`,
		`DELETE FROM schema_migrations WHERE version = 10`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	st = openAt(t, path)
	if m, err = st.Metrics(ctx); err != nil {
		t.Fatal(err)
	}
	if got := histogram(m, cfg.ID); got != want {
		t.Errorf("cycle stats counted by the migration = %q, want %q", got, want)
	}
	if got, want := histogram(m, other.ID), "Failed 1 1s 1s:1"; got != want {
		t.Errorf("the other configuration = %q, want %q", got, want)
	}
	if u, err := st.UserByName(ctx, "alice"); err != nil || !u.LastSignInAt.Equal(now) {
		t.Errorf("last sign-in read from the audit by the migration: %v, %v; want %v", u.LastSignInAt, err, now)
	}
}

// Deleting a configuration takes everything of it but its audit events,
// and records the deletion; it is refused while a cycle holds the lock.
func TestDeleteConfiguration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "syncguard.db"))
	cfg := addLDAPConfiguration(t, st, "corp", bindSecret)
	recordCycle(t, st, cfg.ID, time.Second)
	if ok, err := st.AcquireCycleLock(ctx, cfg.ID, "a cycle", 1, "host", st.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if err := st.DeleteConfiguration(ctx, cfg.ID, "someone else", "alice"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete while a cycle runs: %v, want a Conflict", err)
	}
	if err := st.DeleteConfiguration(ctx, cfg.ID, "a cycle", "alice"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := st.Configuration(ctx, cfg.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the configuration after delete: %v", err)
	}
	m, err := st.Metrics(ctx)
	if err != nil || len(m.Configurations) != 0 || len(m.Cycles) != 0 {
		t.Errorf("metrics after delete: %+v, %v", m, err)
	}
	events, err := st.AuditEvents(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Action != "Deleted configuration" || events[0].Actor != "alice" ||
		events[0].ConfigName != "corp" || events[1].Action != "Created configuration" {
		t.Errorf("audit after delete: %+v", events)
	}
	if err := st.DeleteConfiguration(ctx, cfg.ID, "a cycle", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: %v, want not found", err)
	}
}

// Users know when they last signed in; an admin's additions are audited;
// the last admin is refused in words.
func TestUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "syncguard.db"))
	alice := &store.User{Name: "alice", PasswordHash: "x", Role: store.RoleAdmin}
	if err := st.CreateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	bob := &store.User{Name: "bob", PasswordHash: "x", Role: store.RoleViewer}
	if err := st.AddUser(ctx, bob, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(ctx, &store.User{Name: "bob", PasswordHash: "y", Role: store.RoleAdmin}, "alice"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a name taken: %v", err)
	}
	if err := st.SignedIn(ctx, alice, "from 127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	users, err := st.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].Name != "alice" || users[0].LastSignInAt.IsZero() || !users[1].LastSignInAt.IsZero() {
		t.Errorf("users = %+v", users)
	}
	err = st.SetRole(ctx, alice.ID, store.RoleViewer, "alice")
	if got, want := store.ErrorMessage(err), "alice is the last admin and cannot be demoted: make another user an admin first."; got != want {
		t.Errorf("demote the last admin: %q, want %q", got, want)
	}
	events, _ := st.AuditEvents(ctx, 0, 10)
	if len(events) != 2 || events[0].Action != "Signed in" || events[1].Action != "Added user" || events[1].Details != "bob (viewer)" {
		t.Errorf("audit = %+v", events)
	}
}
