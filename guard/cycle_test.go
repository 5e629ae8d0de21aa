package guard

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/store"
)

// TestFirstCycleCreatesAll: the first cycle creates every in-scope user and
// group, with group members stored as the anchors of synced objects.
func TestFirstCycleCreatesAll(t *testing.T) {
	t.Parallel()
	t.Run("model", func(t *testing.T) {
		t.Parallel()
		dir := newDirectory(5)
		e := newLDIFEnv(t, dir, defaultBasics)
		c := e.runWant(store.OutcomeSucceeded)
		want := dir.want()
		if c.Creates != len(want) || c.Updates != 0 || c.Deletes != 0 || c.StagedDeletes != 0 || c.Read != len(want) {
			t.Errorf("cycle = %+v, want %d creates and nothing else", c, len(want))
		}
		e.wantTarget(dir)
		staff := e.objects()["uuid:"+uuidFor(1000)]
		// a0 is a member but sits in ou=Archive, out of scope: not a synced object.
		if got, want := staff.Attributes[MembersAttr], anchors(dir, "s0", "s1", "e0"); !slices.Equal(got, want) {
			t.Errorf("Staff members = %v, want %v", got, want)
		}
		logs := e.logs(c.ID)
		if got, want := entryAnchors(logs, store.ActionCreate, store.LogSuccess), slices.Sorted(maps.Keys(want)); !slices.Equal(got, want) {
			t.Errorf("Create/Success entries for %v, want %v", got, want)
		}
		if len(logs) != len(want) {
			t.Errorf("%d log entries, want %d: %v", len(logs), len(want), countActions(logs))
		}
		for _, l := range logs {
			if w := want[l.Anchor]; l.DN != w.DN || l.Type != w.Type || l.Name != w.Name || l.CycleID != c.ID {
				t.Errorf("log entry %+v does not describe %+v", l, w)
			}
		}
		if got := e.config().Status; got != store.StatusHealthy {
			t.Errorf("status = %q, want healthy", got)
		}
		if got := e.statusText(); got != "Healthy" {
			t.Errorf("status text = %q", got)
		}
	})
	t.Run("demo.Generate", func(t *testing.T) {
		t.Parallel()
		opts := demo.Options{Users: 300, Groups: 10, MembersPerGroup: 12, Seed: 7, UUIDs: true}
		var b bytes.Buffer
		if err := demo.Generate(&b, opts); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "demo.ldif")
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		// No scope: the base DN is the scope.
		e := newEnv(t, &store.Configuration{Name: "demo", Source: "ldif:" + path, BaseDN: demo.BaseDN, Basics: defaultBasics})
		c := e.runWant(store.OutcomeSucceeded)
		if c.Creates != 310 || c.Read != 310 {
			t.Errorf("cycle read %d, created %d; want 310, 310", c.Read, c.Creates)
		}
		objs := e.objects()
		users, groups := 0, 0
		for _, o := range objs {
			if !strings.HasPrefix(o.Anchor, "uuid:") {
				t.Errorf("anchor %q is not an entryUUID anchor", o.Anchor)
			}
			switch o.Type {
			case TypeUser:
				users++
			case TypeGroup:
				groups++
				m := o.Attributes[MembersAttr]
				if len(m) != 12 {
					t.Errorf("group %s has %d members, want 12", o.DN, len(m))
				}
				for _, a := range m {
					if objs[a].Type != TypeUser {
						t.Errorf("group %s: member %q is not a synced user", o.DN, a)
					}
				}
			}
		}
		if users != 300 || groups != 10 {
			t.Errorf("target has %d users and %d groups, want 300 and 10", users, groups)
		}
	})
}

// TestNoChangeCycleChangesNothing: a second cycle over the same source plans
// and applies nothing.
func TestNoChangeCycleChangesNothing(t *testing.T) {
	t.Parallel()
	dir := newDirectory(5)
	e := newLDIFEnv(t, dir, defaultBasics)
	e.runWant(store.OutcomeSucceeded)
	before := e.snapshot()
	c := e.runWant(store.OutcomeSucceeded)
	if c.Creates+c.Updates+c.Deletes+c.StagedDeletes != 0 {
		t.Errorf("no-change cycle = %+v, want no change", c)
	}
	after := e.snapshot()
	if !reflect.DeepEqual(before.Objects, after.Objects) || !reflect.DeepEqual(before.Logs, after.Logs) ||
		!reflect.DeepEqual(before.Staged, after.Staged) || after.Status != store.StatusHealthy {
		t.Errorf("no-change cycle changed the state")
	}
	if got := e.logs(c.ID); len(got) != 0 {
		t.Errorf("no-change cycle logged %v", countActions(got))
	}
}

// TestDeleteThreshold: through RunCycle, threshold−1 deletions are applied;
// threshold and threshold+1 deletions quarantine the whole cycle — even its
// other changes (an attribute change and a new user) are not applied.
func TestDeleteThreshold(t *testing.T) {
	t.Parallel()
	const threshold = 5
	for _, n := range []int{threshold - 1, threshold, threshold + 1} {
		t.Run(fmt.Sprintf("%d deletions", n), func(t *testing.T) {
			t.Parallel()
			dir := newDirectory(6)
			e := newLDIFEnv(t, dir, store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: threshold})
			e.runWant(store.OutcomeSucceeded)
			before := e.snapshot()

			next := dir.clone()
			var gone []string
			for i := range n {
				gone = append(gone, fmt.Sprintf("e%d", i))
			}
			next.remove(gone...)
			next.user("s3").Title = "Regional Director"
			next.Users = append(next.Users, person{UID: "s9", OU: "Sales", UUID: uuidFor(500), Title: "New hire"})
			e.write(next)
			goneAnchors := anchors(dir, gone...)

			if n < threshold {
				c := e.runWant(store.OutcomeSucceeded)
				if c.Deletes != n || c.Creates != 1 || c.StagedDeletes != 0 {
					t.Errorf("cycle = %+v, want %d deletes and 1 create", c, n)
				}
				logs := e.logs(c.ID)
				if got := entryAnchors(logs, store.ActionDelete, store.LogSuccess); !slices.Equal(got, goneAnchors) {
					t.Errorf("Delete/Success entries for %v, want %v", got, goneAnchors)
				}
				if got := entryAnchors(logs, store.ActionCreate, store.LogSuccess); !slices.Equal(got, []string{"uuid:" + uuidFor(500)}) {
					t.Errorf("Create/Success entries for %v", got)
				}
				if got := entryAnchors(logs, store.ActionUpdate, store.LogSuccess); !slices.Contains(got, "uuid:"+dir.user("s3").UUID) {
					t.Errorf("Update/Success entries %v do not include s3", got)
				}
				e.wantTarget(next)
				if got := e.pending(); len(got) != 0 {
					t.Errorf("pending staged deletes %v", got)
				}
				if cfg := e.config(); cfg.Status != store.StatusHealthy || cfg.QuarantineID != 0 {
					t.Errorf("status %q, quarantine %d; want healthy, none", cfg.Status, cfg.QuarantineID)
				}
				return
			}

			c := e.runWant(store.OutcomeQuarantined)
			if c.StagedDeletes != n || c.Creates+c.Updates+c.Deletes != 0 || c.Threshold != threshold {
				t.Errorf("cycle = %+v, want %d staged deletes and nothing applied", c, n)
			}
			after := e.snapshot()
			if !reflect.DeepEqual(before.Objects, after.Objects) {
				t.Errorf("the quarantined cycle changed the target directory")
			}
			e.wantTarget(dir) // s3's new title and s9 are not applied either
			logs := e.logs(c.ID)
			if got := countActions(logs); !reflect.DeepEqual(got, map[string]int{"StagedDelete/Staged": n}) {
				t.Errorf("log entries of the quarantined cycle: %v, want %d StagedDelete/Staged", got, n)
			}
			if got := entryAnchors(logs, store.ActionStagedDelete, store.LogStaged); !slices.Equal(got, goneAnchors) {
				t.Errorf("StagedDelete entries for %v, want %v", got, goneAnchors)
			}
			staged := e.staged()
			if len(staged) != n {
				t.Fatalf("%d staged deletes, want %d", len(staged), n)
			}
			for _, s := range staged {
				u := dir.want()[s.Anchor]
				if s.State != store.StagedPending || s.CycleID != c.ID || s.OU != "ou=Engineering,dc=corp,dc=example" ||
					s.DN != u.DN || s.Type != TypeUser || s.Name != u.Name {
					t.Errorf("staged delete %+v, want pending from cycle %d in ou=Engineering for %+v", s, c.ID, u)
				}
			}
			cfg := e.config()
			if cfg.Status != store.StatusQuarantined || cfg.QuarantineID != c.ID {
				t.Errorf("status %q, quarantine %d; want quarantined by cycle %d", cfg.Status, cfg.QuarantineID, c.ID)
			}
			if got := e.statusText(); got != "Delete threshold exceeded" {
				t.Errorf("status text %q", got)
			}
		})
	}
}

// TestMoveBetweenInScopeOUsIsUpdate: an object moved from one in-scope OU to
// another keeps its anchor and is one Update, never a delete and a create —
// even with a threshold of 1.
func TestMoveBetweenInScopeOUsIsUpdate(t *testing.T) {
	t.Parallel()
	dir := newDirectory(3)
	e := newLDIFEnv(t, dir, store.Basics{Prevent: true, Threshold: 1})
	e.runWant(store.OutcomeSucceeded)
	next := dir.clone()
	oldDN := next.user("s0").DN()
	next.user("s0").OU = "Engineering"
	newDN := next.user("s0").DN()
	e.write(next)

	c := e.runWant(store.OutcomeSucceeded)
	if c.Updates != 1 || c.Creates != 0 || c.Deletes != 0 || c.StagedDeletes != 0 {
		t.Errorf("cycle = %+v, want exactly one update", c)
	}
	logs := e.logs(c.ID)
	if len(logs) != 1 {
		t.Fatalf("log entries %v, want one Update", countActions(logs))
	}
	l := logs[0]
	if l.Action != store.ActionUpdate || l.Status != store.LogSuccess || l.Anchor != "uuid:"+dir.user("s0").UUID || l.DN != newDN {
		t.Errorf("log entry %+v, want Update/Success of s0 at %s", l, newDN)
	}
	if !strings.Contains(l.Details, "moved") || !strings.Contains(l.Details, oldDN) || !strings.Contains(l.Details, newDN) {
		t.Errorf("details %q do not describe the move %s → %s", l.Details, oldDN, newDN)
	}
	e.wantTarget(next) // Staff still lists s0 by the same anchor
}

// TestMoveOutOfScopeIsDelete: an object moved to an OU out of scope is a
// deletion, applied below the threshold and staged at it.
func TestMoveOutOfScopeIsDelete(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		moved   int
		outcome string
	}{{2, store.OutcomeSucceeded}, {3, store.OutcomeQuarantined}} {
		t.Run(fmt.Sprint(tt.moved), func(t *testing.T) {
			t.Parallel()
			dir := newDirectory(4)
			e := newLDIFEnv(t, dir, store.Basics{Prevent: true, Threshold: 3})
			e.runWant(store.OutcomeSucceeded)
			next := dir.clone()
			var moved []string
			for i := range tt.moved {
				uid := fmt.Sprintf("s%d", i+1)
				moved = append(moved, uid)
				next.user(uid).OU = "Archive"
			}
			e.write(next)
			c := e.runWant(tt.outcome)
			want := anchors(dir, moved...)
			logs := e.logs(c.ID)
			if tt.outcome == store.OutcomeSucceeded {
				if got := entryAnchors(logs, store.ActionDelete, store.LogSuccess); !slices.Equal(got, want) {
					t.Errorf("Delete/Success entries for %v, want %v", got, want)
				}
				if n := countActions(logs)["Create/Success"]; n != 0 {
					t.Errorf("%d creates", n)
				}
				e.wantTarget(next)
				return
			}
			if got := entryAnchors(logs, store.ActionStagedDelete, store.LogStaged); !slices.Equal(got, want) {
				t.Errorf("StagedDelete/Staged entries for %v, want %v", got, want)
			}
			if got := e.pending(); !slices.Equal(got, want) {
				t.Errorf("pending %v, want %v", got, want)
			}
			for _, s := range e.staged() {
				if s.OU != "ou=Sales,dc=corp,dc=example" {
					t.Errorf("staged %s from OU %q, want ou=Sales", s.DN, s.OU)
				}
			}
			e.wantTarget(dir)
		})
	}
}

// TestReturnToScopeDiscardsStagedDelete: while quarantined, an object back in
// scope has its staged delete discarded ("returned to scope"); the others
// stay pending, and Allow deletes then applies only those.
func TestReturnToScopeDiscardsStagedDelete(t *testing.T) {
	t.Parallel()
	dir := newDirectory(5)
	e := newLDIFEnv(t, dir, store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 3})
	e.runWant(store.OutcomeSucceeded)
	broken := dir.clone()
	for _, uid := range []string{"s1", "s2", "s3", "s4"} {
		broken.user(uid).OU = "Archive"
	}
	e.write(broken)
	q := e.runWant(store.OutcomeQuarantined)
	before := e.snapshot()

	restored := broken.clone()
	restored.user("s2").OU = "Sales"
	e.write(restored)
	c := e.runWant(store.OutcomeQuarantined)
	if c.Discarded != 1 || c.StagedDeletes != 0 || c.Creates+c.Updates+c.Deletes != 0 {
		t.Errorf("re-check cycle = %+v, want 1 discarded and nothing else", c)
	}
	for _, s := range e.staged() {
		switch {
		case s.Anchor == "uuid:"+dir.user("s2").UUID:
			if s.State != store.StagedDiscarded || s.Reason != "returned to scope" {
				t.Errorf("staged delete of s2: state %q reason %q, want discarded, returned to scope", s.State, s.Reason)
			}
		case s.State != store.StagedPending:
			t.Errorf("staged delete of %s is %s, want pending", s.DN, s.State)
		}
	}
	after := e.snapshot()
	if !reflect.DeepEqual(before.Objects, after.Objects) || !reflect.DeepEqual(logIDs(before.Logs), logIDs(after.Logs)) {
		t.Error("the re-check cycle changed the target or wrote log entries")
	}
	if cfg := e.config(); cfg.Status != store.StatusQuarantined || cfg.QuarantineID != q.ID {
		t.Errorf("status %q quarantine %d, want still quarantined by %d", cfg.Status, cfg.QuarantineID, q.ID)
	}
	if got := len(e.notifications()); got != 1 {
		t.Errorf("%d notifications, want the one of the quarantine", got)
	}

	n, err := count(e.eng.AllowDeletes(t.Context(), e.id, q.ID, "alice"))
	if err != nil || n != 3 {
		t.Fatalf("AllowDeletes = %d, %v; want 3", n, err)
	}
	e.runWant(store.OutcomeSucceeded)
	e.wantTarget(restored)
}

// logIDs lists the ids and actions of log entries: what a cycle wrote,
// whatever became of the staged ones since.
func logIDs(logs []store.LogEntry) []string {
	out := make([]string, len(logs))
	for i, l := range logs {
		out[i] = fmt.Sprintf("%d %s %s", l.ID, l.Action, l.Status)
	}
	return out
}
