package guard

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/syncguard/syncguard/store"
)

// quarantined returns an env whose guard tripped: s0…s5, 6 of the 14
// in-scope users, are gone from the source (threshold 5) while s6 and s7
// stay; in the same cycle e0 got a new title and a new user e9 appeared
// (neither applied). before is the directory synced, broken the source now.
func quarantined(t *testing.T) (e *env, before, broken directory, q *store.Cycle) {
	t.Helper()
	before = newDirectory(6)
	before.Users = append(before.Users, person{UID: "s6", OU: "Sales", UUID: uuidFor(600)},
		person{UID: "s7", OU: "Sales", UUID: uuidFor(601)})
	e = newLDIFEnv(t, before, defaultBasics)
	e.runWant(store.OutcomeSucceeded)
	broken = before.clone()
	broken.remove("s0", "s1", "s2", "s3", "s4", "s5")
	broken.user("e0").Title = "CTO"
	broken.Users = append(broken.Users, person{UID: "e9", OU: "Engineering", UUID: uuidFor(700)})
	e.write(broken)
	q = e.runWant(store.OutcomeQuarantined)
	if q.StagedDeletes != 6 {
		t.Fatalf("quarantine staged %d deletes, want 6", q.StagedDeletes)
	}
	return e, before, broken, q
}

var stagedUIDs = []string{"s0", "s1", "s2", "s3", "s4", "s5"}

// TestQuarantinedCyclesApplyNothing: while quarantined, scheduled and manual
// cycles apply nothing (not even new changes, nor a raised threshold) and the
// status stays "Delete threshold exceeded".
func TestQuarantinedCyclesApplyNothing(t *testing.T) {
	t.Parallel()
	e, before, broken, q := quarantined(t)
	snap := e.snapshot()
	more := broken.clone()
	more.user("e1").Title = "VP"
	more.remove("e5")
	e.write(more)
	// Raising the threshold applies from the next cycle, but does not release
	// the staged deletions by itself.
	cfg := e.config()
	cfg.Basics.Threshold = 1000
	if err := e.st.UpdateConfiguration(t.Context(), cfg, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, trigger := range []string{TriggerSchedule, TriggerManual, TriggerSchedule} {
		c := e.run(trigger)
		if c.Outcome != store.OutcomeQuarantined || c.Creates+c.Updates+c.Deletes+c.StagedDeletes+c.Discarded != 0 {
			t.Errorf("%s cycle while quarantined = %+v, want Quarantined and nothing applied", trigger, c)
		}
		if got := e.statusText(); got != "Delete threshold exceeded" {
			t.Errorf("status after a %s cycle = %q", trigger, got)
		}
	}
	after := e.snapshot()
	if !reflect.DeepEqual(snap.Objects, after.Objects) || !reflect.DeepEqual(snap.Logs, after.Logs) ||
		!reflect.DeepEqual(snap.Staged, after.Staged) || after.QuarantineID != q.ID || after.Notifications != 1 {
		t.Errorf("cycles while quarantined changed the state")
	}
	e.wantTarget(before)
}

// TestAllowDeletes: Allow deletes applies exactly the staged set, once, and
// the next cycle applies the rest and returns to Healthy.
func TestAllowDeletes(t *testing.T) {
	t.Parallel()
	e, before, broken, q := quarantined(t)
	objs := e.objects()
	res, err := e.eng.AllowDeletes(t.Context(), e.id, q.ID, "alice")
	if err != nil || res.Count != 6 || res.Next != TriggerAllow {
		t.Fatalf("AllowDeletes = %+v, %v; want 6 deleted and the next cycle (%q) to run", res, err, TriggerAllow)
	}
	want := anchors(before, stagedUIDs...)
	// The target lost exactly the staged objects, nothing else changed.
	for _, a := range want {
		delete(objs, a)
	}
	if got := e.objects(); !reflect.DeepEqual(got, objs) {
		t.Errorf("target after Allow deletes: %d objects, want the %d not staged, unchanged", len(got), len(objs))
	}
	logs := e.logs(q.ID)
	if got := entryAnchors(logs, store.ActionDelete, store.LogSuccess); !slices.Equal(got, want) {
		t.Errorf("Delete/Success entries %v, want %v", got, want)
	}
	for _, l := range logs {
		if l.Action == store.ActionDelete && !strings.Contains(l.Details, "alice") {
			t.Errorf("Delete entry details %q do not name who allowed it", l.Details)
		}
	}
	for _, s := range e.staged() {
		if s.State != store.StagedApplied || s.DecidedBy != "alice" || s.DecidedAt.IsZero() {
			t.Errorf("staged delete %+v, want applied by alice", s)
		}
	}
	cfg := e.config()
	if cfg.QuarantineID != 0 {
		t.Errorf("quarantine %d after Allow deletes, want cleared", cfg.QuarantineID)
	}
	if got := e.statusText(); got == "Delete threshold exceeded" {
		t.Errorf("status still %q after Allow deletes", got)
	}

	audit, err := e.st.AuditEvents(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) == 0 {
		t.Error("no audit event")
	} else if a := audit[0]; a.Action != "Allowed deletes" || a.Actor != "alice" || !strings.Contains(a.Details, "6 deletions") {
		t.Errorf("newest audit event %+v, want alice's Allowed deletes of 6", a)
	}

	// Twice: nothing left to allow, nothing changes.
	snap := e.snapshot()
	if n, err := count(e.eng.AllowDeletes(t.Context(), e.id, q.ID, "bob")); !errors.Is(err, store.ErrConflict) || n != 0 ||
		!strings.Contains(err.Error(), "no staged deletions left") {
		t.Errorf("second AllowDeletes = %d, %v; want 0, ErrConflict saying nothing is left", n, err)
	}
	if after := e.snapshot(); !reflect.DeepEqual(snap, after) {
		t.Error("the second Allow deletes changed the state")
	}

	c := e.run(TriggerAllow)
	if c.Outcome != store.OutcomeSucceeded || c.Deletes != 0 || c.Creates != 1 || c.Updates < 1 {
		t.Errorf("cycle after Allow deletes = %+v, want Succeeded creating e9 and updating e0", c)
	}
	if got := e.statusText(); got != "Healthy" {
		t.Errorf("status after the next cycle = %q, want Healthy", got)
	}
	e.wantTarget(broken)
}

// TestAllowDeletesConcurrently: two admins (here eight) pressing Yes at the
// same moment delete once: one call gets the count, the others ErrConflict.
func TestAllowDeletesConcurrently(t *testing.T) {
	t.Parallel()
	e, before, _, q := quarantined(t)
	objs := e.objects()
	const callers = 8
	var (
		start   = make(chan struct{})
		wg      sync.WaitGroup
		results = make([]int, callers)
		errs    = make([]error, callers)
	)
	for i := range callers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = count(e.eng.AllowDeletes(t.Context(), e.id, q.ID, "admin"))
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i := range callers {
		switch {
		case errs[i] == nil:
			ok++
			if results[i] != 6 {
				t.Errorf("the successful AllowDeletes returned %d, want 6", results[i])
			}
		case !errors.Is(errs[i], store.ErrConflict):
			t.Errorf("AllowDeletes = %v, want ErrConflict", errs[i])
		}
	}
	if ok != 1 {
		t.Errorf("%d calls succeeded, want exactly 1", ok)
	}
	if got := countActions(e.logs(0))["Delete/Success"]; got != 6 {
		t.Errorf("%d Delete/Success entries, want 6", got)
	}
	for _, a := range anchors(before, stagedUIDs...) {
		delete(objs, a)
	}
	if got := e.objects(); !reflect.DeepEqual(got, objs) {
		t.Errorf("target has %d objects, want %d", len(got), len(objs))
	}
}

// TestStaleQuarantineChangesNothing: an Allow deletes (or Restart sync) for a
// quarantine that is no longer current changes nothing.
func TestStaleQuarantineChangesNothing(t *testing.T) {
	t.Parallel()
	t.Run("after restart", func(t *testing.T) {
		t.Parallel()
		e, _, _, q := quarantined(t)
		if _, err := e.eng.RestartSync(t.Context(), e.id, q.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		snap := e.snapshot()
		if n, err := count(e.eng.AllowDeletes(t.Context(), e.id, q.ID, "bob")); !errors.Is(err, store.ErrConflict) || n != 0 {
			t.Errorf("AllowDeletes(stale) = %d, %v; want 0, ErrConflict", n, err)
		}
		if n, err := count(e.eng.RestartSync(t.Context(), e.id, q.ID, "bob")); !errors.Is(err, store.ErrConflict) || n != 0 {
			t.Errorf("RestartSync(stale) = %d, %v; want 0, ErrConflict", n, err)
		}
		if !reflect.DeepEqual(snap, e.snapshot()) {
			t.Error("a stale decision changed the state")
		}
	})
	t.Run("older quarantine", func(t *testing.T) {
		t.Parallel()
		e, _, _, q := quarantined(t)
		if _, err := e.eng.RestartSync(t.Context(), e.id, q.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		q2 := e.runWant(store.OutcomeQuarantined) // the source is still broken
		if q2.ID == q.ID {
			t.Fatal("no new quarantine")
		}
		snap := e.snapshot()
		if n, err := count(e.eng.AllowDeletes(t.Context(), e.id, q.ID, "bob")); !errors.Is(err, store.ErrConflict) || n != 0 {
			t.Errorf("AllowDeletes(older) = %d, %v; want 0, ErrConflict", n, err)
		}
		if n, err := count(e.eng.RestartSync(t.Context(), e.id, q.ID, "bob")); !errors.Is(err, store.ErrConflict) || n != 0 {
			t.Errorf("RestartSync(older) = %d, %v; want 0, ErrConflict", n, err)
		}
		if !reflect.DeepEqual(snap, e.snapshot()) {
			t.Error("a stale decision changed the state")
		}
		if got := len(e.pending()); got != 6 {
			t.Errorf("%d pending staged deletes of the current quarantine, want 6", got)
		}
	})
}

// TestRestartSync: Restart sync discards the pending staged deletes and the
// next cycle is a fresh full cycle: Healthy with nothing deleted when the
// source was fixed, a new quarantine when it was not.
func TestRestartSync(t *testing.T) {
	t.Parallel()
	t.Run("source fixed", func(t *testing.T) {
		t.Parallel()
		e, before, _, q := quarantined(t)
		fixed := before.clone()
		fixed.user("e0").Title = "CTO"
		e.write(fixed)
		res, err := e.eng.RestartSync(t.Context(), e.id, q.ID, "alice")
		if err != nil || res.Count != 6 || res.Next != TriggerRestart {
			t.Fatalf("RestartSync = %+v, %v; want 6 discarded and a full cycle (%q) to run", res, err, TriggerRestart)
		}
		for _, s := range e.staged() {
			if s.State != store.StagedDiscarded || s.Reason != "restart sync" || s.DecidedBy != "alice" {
				t.Errorf("staged delete %+v, want discarded by alice's restart", s)
			}
		}
		c := e.run(TriggerRestart)
		if c.Outcome != store.OutcomeSucceeded || c.Deletes != 0 || c.Updates != 1 {
			t.Errorf("cycle after restart = %+v, want Succeeded with only e0's update", c)
		}
		if got := countActions(e.logs(0))["Delete/Success"]; got != 0 {
			t.Errorf("%d objects deleted", got)
		}
		if got := e.statusText(); got != "Healthy" {
			t.Errorf("status = %q, want Healthy", got)
		}
		e.wantTarget(fixed)
	})
	t.Run("source still broken", func(t *testing.T) {
		t.Parallel()
		e, before, _, q := quarantined(t)
		objs := e.objects()
		if _, err := e.eng.RestartSync(t.Context(), e.id, q.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		c := e.run(TriggerRestart)
		if c.Outcome != store.OutcomeQuarantined || c.StagedDeletes != 6 {
			t.Fatalf("cycle after restart = %+v, want a new quarantine of 6", c)
		}
		cfg := e.config()
		if cfg.QuarantineID != c.ID || cfg.QuarantineID == q.ID || cfg.Status != store.StatusQuarantined {
			t.Errorf("quarantine %d status %q, want the new cycle %d", cfg.QuarantineID, cfg.Status, c.ID)
		}
		if got, want := e.pending(), anchors(before, stagedUIDs...); !slices.Equal(got, want) {
			t.Errorf("pending %v, want %v", got, want)
		}
		for _, s := range e.staged() {
			if (s.CycleID == c.ID) != (s.State == store.StagedPending) {
				t.Errorf("staged delete %+v: only the new cycle's should be pending", s)
			}
		}
		if got := e.objects(); !maps.EqualFunc(got, objs, func(a, b store.TargetObject) bool { return reflect.DeepEqual(a, b) }) {
			t.Error("target changed")
		}
		if got := len(e.notifications()); got != 2 {
			t.Errorf("%d notifications, want one per quarantine (2)", got)
		}
	})
}

// TestDecisionDuringCycle: Allow deletes or Restart sync landing while a
// cycle reads the source makes that cycle plan again against the new state
// (not fail with a conflict): after Allow deletes it applies the rest and is
// Healthy; after Restart sync with the source still broken it trips again.
func TestDecisionDuringCycle(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		decide  func(e *env, q int64) (int, error)
		outcome string
		status  string
	}{
		{"allow deletes", func(e *env, q int64) (int, error) { return count(e.eng.AllowDeletes(e.t.Context(), e.id, q, "alice")) },
			store.OutcomeSucceeded, store.StatusHealthy},
		{"restart sync", func(e *env, q int64) (int, error) { return count(e.eng.RestartSync(e.t.Context(), e.id, q, "alice")) },
			store.OutcomeQuarantined, store.StatusQuarantined},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _, broken, q := quarantined(t)
			var once sync.Once
			started, release := make(chan struct{}), make(chan struct{})
			reads := 0
			e.eng.Open = func(c *store.Configuration, o SourceOptions) (Source, error) {
				src, err := OpenSource(c, o)
				if err != nil {
					return nil, err
				}
				return &funcSource{Source: src, read: func(ctx context.Context, bases []string, fn func(*Entry) error) error {
					reads++
					once.Do(func() { close(started) })
					<-release
					return src.Read(ctx, bases, fn)
				}}, nil
			}
			done := make(chan *store.Cycle, 1)
			go func() {
				c, err := e.eng.RunCycle(t.Context(), e.id, TriggerManual)
				if err != nil {
					t.Errorf("RunCycle: %v", err)
				}
				done <- c
			}()
			<-started
			if n, err := tt.decide(e, q.ID); err != nil || n != 6 {
				t.Fatalf("decision = %d, %v", n, err)
			}
			close(release)
			c := <-done
			if c == nil {
				t.FailNow()
			}
			if c.Outcome != tt.outcome || c.Error != "" {
				t.Errorf("the cycle in flight ended %s (%q), want %s", c.Outcome, c.Error, tt.outcome)
			}
			if reads != 2 {
				t.Errorf("source read %d times, want 2 (planned again once)", reads)
			}
			if cfg := e.config(); cfg.Status != tt.status || cfg.StatusError != "" {
				t.Errorf("status %q (%q), want %q", cfg.Status, cfg.StatusError, tt.status)
			}
			if tt.outcome == store.OutcomeSucceeded {
				e.wantTarget(broken)
			}
		})
	}
}

// TestCycleGivesUpReplanning: when the state changes under every plan, the
// cycle stops after a few tries and is recorded as Failed, writing nothing.
func TestCycleGivesUpReplanning(t *testing.T) {
	t.Parallel()
	dir := newDirectory(3)
	e := newLDIFEnv(t, dir, defaultBasics)
	e.runWant(store.OutcomeSucceeded)
	next := dir.clone()
	next.user("s0").Title = "Changed"
	e.write(next)
	before := e.snapshot()
	reads := 0
	e.eng.Open = func(c *store.Configuration, o SourceOptions) (Source, error) {
		src, err := OpenSource(c, o)
		if err != nil {
			return nil, err
		}
		return &funcSource{Source: src, read: func(ctx context.Context, bases []string, fn func(*Entry) error) error {
			reads++
			// Restart sync with nothing pending still moves the generation.
			if _, err := e.eng.RestartSync(ctx, e.id, 0, "bob"); err != nil {
				return err
			}
			return src.Read(ctx, bases, fn)
		}}, nil
	}
	c := e.runWant(store.OutcomeFailed)
	if reads != maxPlans || !strings.Contains(c.Error, "changed while the cycle ran") {
		t.Errorf("read %d times, error %q; want %d reads and a conflict", reads, c.Error, maxPlans)
	}
	after := e.snapshot()
	if !reflect.DeepEqual(before.Objects, after.Objects) || !reflect.DeepEqual(before.Logs, after.Logs) {
		t.Error("a cycle that never applied changed the target or the log")
	}
}

// TestConfigurationsAreIndependent: one configuration's quarantine neither
// stops another's cycles nor can be decided through it.
func TestConfigurationsAreIndependent(t *testing.T) {
	t.Parallel()
	a, _, _, q := quarantined(t)
	dir := newDirectory(3)
	path := filepath.Join(t.TempDir(), "other.ldif")
	if err := os.WriteFile(path, dir.LDIF(), 0o600); err != nil {
		t.Fatal(err)
	}
	other := &store.Configuration{Name: "other", Source: "ldif:" + path, BaseDN: baseDN, Scope: ldifScope,
		Interval: DefaultInterval, Basics: store.Basics{Prevent: true, Threshold: 1}}
	if err := a.st.CreateConfiguration(t.Context(), other, "test"); err != nil {
		t.Fatal(err)
	}
	b := &env{t: t, st: a.st, clock: a.clock, eng: a.eng, id: other.ID, path: path}
	if c := b.runWant(store.OutcomeSucceeded); c.Creates != 8 {
		t.Errorf("the other configuration created %d, want 8", c.Creates)
	}
	b.wantTarget(dir)
	if n, err := count(a.eng.AllowDeletes(t.Context(), other.ID, q.ID, "alice")); !errors.Is(err, store.ErrConflict) || n != 0 {
		t.Errorf("AllowDeletes(other, a's quarantine) = %d, %v; want ErrConflict", n, err)
	}
	if got := len(a.pending()); got != 6 {
		t.Errorf("%d pending in the quarantined configuration, want 6", got)
	}
	if got := a.config().Status; got != store.StatusQuarantined {
		t.Errorf("status of the quarantined configuration = %q", got)
	}
}

// count keeps, of an admin's decision, how many staged deletes it handled.
func count(r Resolution, err error) (int, error) { return r.Count, err }
