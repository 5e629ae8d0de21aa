package store

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "syncguard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestApplyCycleStaleGeneration: a cycle planned against an older generation
// of the configuration (Allow deletes, Restart sync or another cycle came in
// between) writes nothing and returns ErrConflict; a Failed cycle, which
// changes nothing, is still recorded.
func TestApplyCycleStaleGeneration(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	c := &Configuration{Name: "corp", Source: "ldif:/x.ldif", BaseDN: "dc=corp,dc=example", Interval: time.Minute,
		Basics: Basics{Prevent: true, Threshold: 2, Email: "a@corp.example"}}
	if err := s.CreateConfiguration(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	now := s.Now()
	obj := func(a string) TargetObject {
		return TargetObject{Anchor: a, Type: "user", DN: "uid=" + a + ",dc=corp,dc=example", Name: a,
			Attributes: map[string][]string{"uid": {a}}, Hash: "h-" + a}
	}
	first := &CycleWrite{Generation: 0, Cycle: Cycle{ConfigID: c.ID, Trigger: "manual", StartedAt: now, FinishedAt: now},
		Changes: Applied{Upserts: []TargetObject{obj("a"), obj("b"), obj("c")},
			Log: []LogEntry{{Time: now, Action: ActionCreate, Status: LogSuccess, Type: "user", Anchor: "a"}}}}
	if _, err := s.ApplyCycle(ctx, first); err != nil {
		t.Fatal(err)
	}

	type state struct {
		Config        *Configuration
		Objects       []TargetObject
		Cycles        []*Cycle
		Logs          []LogEntry
		Pending       int
		Notifications []*Notification
	}
	read := func() state {
		var st state
		var err error
		if st.Config, err = s.Configuration(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.TargetObjects(ctx, c.ID, func(o *TargetObject) { st.Objects = append(st.Objects, *o) }); err != nil {
			t.Fatal(err)
		}
		if st.Cycles, err = s.Cycles(ctx, c.ID, 100); err != nil {
			t.Fatal(err)
		}
		if st.Logs, err = s.Logs(ctx, LogQuery{ConfigID: c.ID, Limit: 100}); err != nil {
			t.Fatal(err)
		}
		if st.Pending, err = s.PendingStaged(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if st.Notifications, err = s.Notifications(ctx, 100); err != nil {
			t.Fatal(err)
		}
		return st
	}
	before := read()
	if before.Config.Generation != 1 {
		t.Fatalf("generation after the first cycle = %d, want 1", before.Config.Generation)
	}

	for _, tt := range []struct {
		name string
		ch   CycleWrite
	}{
		{"applied changes", CycleWrite{Cycle: Cycle{Creates: 1, Deletes: 1},
			Changes: Applied{Upserts: []TargetObject{obj("d")}, Deletes: []string{"a"},
				Log: []LogEntry{{Time: now, Action: ActionDelete, Status: LogSuccess, Type: "user", Anchor: "a"}}}}},
		{"a quarantine", CycleWrite{Cycle: Cycle{StagedDeletes: 2},
			Changes: Quarantine{Staged: []StagedDelete{{Anchor: "a", Type: "user", DN: "uid=a,dc=corp,dc=example"}, {Anchor: "b", Type: "user", DN: "uid=b,dc=corp,dc=example"}},
				Log: LogEntry{Time: now, Action: ActionStagedDelete, Status: LogStaged}},
			Notify: &Notification{To: "a@corp.example", Subject: "s", Body: "b"}}},
		{"a discard", CycleWrite{Cycle: Cycle{Discarded: 1}, Changes: Held{Returned: []string{"a"}}}},
		{"an unchanged source", CycleWrite{Changes: Unchanged{}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch := tt.ch
			ch.Generation = 0 // stale: the first cycle moved it to 1
			ch.Cycle.ConfigID, ch.Cycle.Trigger, ch.Cycle.StartedAt, ch.Cycle.FinishedAt = c.ID, "manual", now, now
			id, err := s.ApplyCycle(ctx, &ch)
			if !errors.Is(err, ErrConflict) || id != 0 {
				t.Errorf("ApplyCycle(stale generation) = %d, %v; want 0, ErrConflict", id, err)
			}
			if after := read(); !reflect.DeepEqual(before, after) {
				t.Errorf("a stale ApplyCycle wrote:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}

	failed := &CycleWrite{Generation: 0, Cycle: Cycle{ConfigID: c.ID, Trigger: "manual",
		Error: "source: boom", StartedAt: now, FinishedAt: now}, Changes: Failed{}}
	if _, err := s.ApplyCycle(ctx, failed); err != nil {
		t.Fatalf("ApplyCycle(failed, stale generation) = %v, want it recorded", err)
	}
	after := read()
	if len(after.Cycles) != 2 || after.Config.Status != StatusError || after.Config.StatusError != "source: boom" ||
		after.Config.Generation != 1 || !reflect.DeepEqual(after.Objects, before.Objects) {
		t.Errorf("after a failed cycle: %d cycles, status %q (%q), generation %d", len(after.Cycles),
			after.Config.Status, after.Config.StatusError, after.Config.Generation)
	}
}

// TestStagedCauses: each staged delete keeps its cause, and so do its log
// entry and the Delete entry that applies it; a staged delete without one
// is "deleted at the source"; the database refuses a cause outside the set.
func TestStagedCauses(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	c := &Configuration{Name: "corp", Source: "ldif:/x.ldif", BaseDN: "dc=corp,dc=example", Interval: time.Minute,
		Basics: Basics{Prevent: true, Threshold: 2}}
	if err := s.CreateConfiguration(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	now := s.Now()
	staged := []StagedDelete{{Anchor: "a", Type: "user", DN: "uid=a,ou=Sales,dc=corp,dc=example", Cause: CauseScopeOUGone,
		Detail: "ou=Sales gone"},
		{Anchor: "b", Type: "user", DN: "uid=b,ou=Sales,dc=corp,dc=example", Cause: CauseScopeOUGone, Detail: "ou=Sales gone"},
		{Anchor: "c", Type: "group", DN: "cn=c,dc=corp,dc=example"}}
	w := &CycleWrite{Cycle: Cycle{ConfigID: c.ID, Trigger: "manual", StartedAt: now, FinishedAt: now},
		Changes: Quarantine{Staged: staged, Log: LogEntry{Time: now}}}
	id, err := s.ApplyCycle(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	byCause, err := s.StagedByCause(ctx, c.ID, id, StagedPending)
	if want := []Count{{string(CauseScopeOUGone), 2}, {string(CauseDeleted), 1}}; err != nil || !reflect.DeepEqual(byCause, want) {
		t.Errorf("StagedByCause = %v, %v; want %v", byCause, err, want)
	}
	logs, err := s.Logs(ctx, LogQuery{ConfigID: c.ID})
	if err != nil || len(logs) != 3 {
		t.Fatalf("Logs = %d entries, %v", len(logs), err)
	}
	for _, l := range logs {
		want, details := CauseScopeOUGone, "no longer in scope: scope OU gone: ou=Sales gone; pending: waits for Allow deletes or Restart sync"
		if l.Anchor == "c" {
			want, details = CauseDeleted, "no longer in scope: deleted at the source; pending: waits for Allow deletes or Restart sync"
		}
		if l.Cause != want || l.Details != details || l.Fate != StagedPending {
			t.Errorf("log entry of %s: cause %q, fate %q, details %q; want %q, pending, %q", l.Anchor, l.Cause, l.Fate, l.Details, want, details)
		}
	}
	if _, err := s.AllowDeletes(ctx, QuarantineDecision{ConfigID: c.ID, Quarantine: id, Actor: "alice"}, nil); err != nil {
		t.Fatal(err)
	}
	deletes, err := s.Logs(ctx, LogQuery{ConfigID: c.ID, Action: ActionDelete})
	if err != nil || len(deletes) != 3 || deletes[0].Cause == "" {
		t.Errorf("Delete entries %+v, %v; want 3 with their causes", deletes, err)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE provisioning_log SET cause = 'gone fishing' WHERE action = 'StagedDelete'`); err == nil {
		t.Error("the database took a cause outside the set")
	}
}

// TestFailedStreak: how many of the newest cycles failed in a row, and
// since when.
func TestFailedStreak(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	c := &Configuration{Name: "corp", Source: "ldif:/x.ldif", BaseDN: "dc=corp,dc=example", Interval: time.Minute,
		Basics: Basics{Prevent: true, Threshold: 2}}
	if err := s.CreateConfiguration(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	record := func(i int, ch Changes) {
		at := start.Add(time.Duration(i) * time.Minute)
		cfg, err := s.Configuration(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		w := &CycleWrite{Generation: cfg.Generation, Cycle: Cycle{ConfigID: c.ID, Trigger: "manual", StartedAt: at, FinishedAt: at}, Changes: ch}
		if _, err := s.ApplyCycle(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	check := func(wantN int, wantSince time.Time) {
		t.Helper()
		n, since, err := s.FailedStreak(ctx, c.ID)
		if err != nil || n != wantN || !since.Equal(wantSince) {
			t.Errorf("FailedStreak = %d since %v, %v; want %d since %v", n, since, err, wantN, wantSince)
		}
	}
	check(0, time.Time{})
	for i, ch := range []Changes{Failed{}, Unchanged{}, Failed{}, Failed{}} {
		record(i, ch)
	}
	check(2, start.Add(2*time.Minute))
	record(4, Unchanged{})
	check(0, time.Time{})
}
