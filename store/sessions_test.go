package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// sessionStore is a store with a clock the test moves, and two users.
func sessionStore(t *testing.T) (*store.Store, *time.Time, *store.User, *store.User) {
	t.Helper()
	st := openAt(t, filepath.Join(t.TempDir(), "syncguard.db"))
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	st.SetClock(func() time.Time { return now })
	users := []*store.User{{Name: "alice", PasswordHash: "x", Role: store.RoleAdmin}, {Name: "vera", PasswordHash: "x", Role: store.RoleViewer}}
	for _, u := range users {
		if err := st.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	return st, &now, users[0], users[1]
}

func newSession(t *testing.T, st *store.Store, id string, u *store.User) {
	t.Helper()
	if err := st.CreateSession(context.Background(), id, &store.Session{UserID: u.ID, CSRFToken: "tok-" + id}); err != nil {
		t.Fatal(err)
	}
}

func live(st *store.Store, id string) bool {
	_, err := st.Session(context.Background(), id)
	return err == nil
}

func TestSessionLifetime(t *testing.T) {
	t.Parallel()
	st, now, alice, _ := sessionStore(t)
	newSession(t, st, "id-1", alice)
	sess, err := st.Session(context.Background(), "id-1")
	if err != nil || sess.UserID != alice.ID || sess.CSRFToken != "tok-id-1" {
		t.Fatalf("session = %+v, %v", sess, err)
	}
	if sess.IDHash == "id-1" || strings.Contains(sess.IDHash, "id-1") {
		t.Error("the session id itself is stored")
	}
	if live(st, "id-2") {
		t.Error("an unknown id is a session")
	}
	// Used every 11 hours: alive; 12 hours unused: ended.
	start := *now
	for h := 11; h < 7*24; h += 11 {
		*now = start.Add(time.Duration(h) * time.Hour)
		if !live(st, "id-1") {
			t.Fatalf("used every 11 hours, ended after %d hours", h)
		}
	}
	*now = start.Add(7 * 24 * time.Hour)
	if live(st, "id-1") {
		t.Error("alive after 7 days")
	}
	newSession(t, st, "id-3", alice)
	*now = now.Add(12 * time.Hour)
	if live(st, "id-3") {
		t.Error("alive after 12 hours unused")
	}
}

// Sign-out, Sign out everywhere, a password change, a role change and a
// removal each end sessions at once; a user removed and added again under
// the same name does not get the old sessions back.
func TestSessionsEndWithTheirUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, alice, vera := sessionStore(t)

	newSession(t, st, "a1", alice)
	newSession(t, st, "a2", alice)
	newSession(t, st, "v1", vera)
	if err := st.DeleteSession(ctx, "a1"); err != nil || live(st, "a1") || !live(st, "a2") {
		t.Errorf("sign-out: a1 live %v, a2 live %v, %v", live(st, "a1"), live(st, "a2"), err)
	}
	if n, err := st.EndSessions(ctx, alice.ID, "alice"); err != nil || n != 1 || live(st, "a2") || !live(st, "v1") {
		t.Errorf("sign out everywhere: %d ended, %v; a2 live %v, v1 live %v", n, err, live(st, "a2"), live(st, "v1"))
	}

	newSession(t, st, "a3", alice)
	if err := st.SetPassword(ctx, alice.ID, "new hash", "alice"); err != nil || live(st, "a3") || !live(st, "v1") {
		t.Errorf("password change: %v; a3 live %v, v1 live %v", err, live(st, "a3"), live(st, "v1"))
	}
	if err := st.SetRole(ctx, vera.ID, store.RoleAdmin, "alice"); err != nil || live(st, "v1") {
		t.Errorf("role change: %v; v1 live %v", err, live(st, "v1"))
	}
	if u, _ := st.UserByID(ctx, vera.ID); u.Role != store.RoleAdmin {
		t.Errorf("vera's role = %s", u.Role)
	}
	if err := st.SetRole(ctx, vera.ID, store.RoleViewer, "alice"); err != nil {
		t.Fatal(err)
	}

	newSession(t, st, "v2", vera)
	if err := st.RemoveUser(ctx, vera.ID, "alice"); err != nil || live(st, "v2") {
		t.Errorf("removal: %v; v2 live %v", err, live(st, "v2"))
	}
	again := &store.User{Name: "vera", PasswordHash: "x", Role: store.RoleAdmin}
	if err := st.CreateUser(ctx, again); err != nil {
		t.Fatal(err)
	}
	if live(st, "v2") {
		t.Error("vera removed and added again as admin: her old session is back")
	}

	// The last admin stays.
	if err := st.RemoveUser(ctx, again.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRole(ctx, alice.ID, store.RoleViewer, "alice"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("demoting the last admin: %v, want ErrConflict", err)
	}
	if err := st.RemoveUser(ctx, alice.ID, "alice"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("removing the last admin: %v, want ErrConflict", err)
	}
	var actions []string
	evs, _ := st.AuditEvents(ctx, 0, 100)
	for _, ev := range evs {
		actions = append(actions, ev.Action)
	}
	for _, want := range []string{"Signed out everywhere", "Changed password", "Changed role", "Removed user"} {
		if !strings.Contains(strings.Join(actions, "|"), want) {
			t.Errorf("audit has no %q: %q", want, actions)
		}
	}
	for _, ev := range evs {
		if ev.Action == "Removed user" && strings.Contains(ev.Details, "vera (viewer)") && !strings.Contains(ev.Details, "1 sessions ended") {
			t.Errorf("removing vera with one session: %q", ev.Details)
		}
	}
}

// One user's sessions are bounded: signing in again and again ends the oldest.
func TestSessionsPerUserBounded(t *testing.T) {
	t.Parallel()
	st, now, alice, _ := sessionStore(t)
	start := *now
	for i := range 60 {
		*now = start.Add(time.Duration(i) * time.Second)
		newSession(t, st, "s"+string(rune('A'+i)), alice)
	}
	sessions, err := st.UserSessions(context.Background(), alice.ID)
	if err != nil || len(sessions) != 50 {
		t.Fatalf("%d sessions, %v; want 50", len(sessions), err)
	}
	if live(st, "sA") || !live(st, "s"+string(rune('A'+59))) {
		t.Error("the oldest session was kept, or the newest ended")
	}
}
