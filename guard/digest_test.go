package guard

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/syncguard/syncguard/store"
)

// logBuffer collects an engine's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// last returns the last line logged and forgets everything.
func (l *logBuffer) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(l.b.String()), "\n")
	l.b.Reset()
	return lines[len(lines)-1]
}

// TestUnchangedSource: a cycle whose source gives exactly the records the
// last successful cycle planned skips planning, and records what a full
// plan would have found; anything else that could change the plan (one
// record, the settings, the target through an admin's decision, a broken
// file) makes it plan in full.
func TestUnchangedSource(t *testing.T) {
	t.Parallel()
	dir := newDirectory(5)
	e := newLDIFEnv(t, dir, defaultBasics)
	var logs logBuffer
	e.eng.Log = slog.New(slog.NewTextHandler(&logs, nil))
	source := func(want string) {
		t.Helper()
		if line := logs.last(); !strings.Contains(line, "source="+want) {
			t.Errorf("cycle log %q, want source=%s", line, want)
		}
	}
	first := e.runWant(store.OutcomeSucceeded)
	source(`"read in full"`)
	want := dir.want()
	if first.Creates != len(want) {
		t.Fatalf("first cycle = %+v, want %d creates", first, len(want))
	}

	t.Log("the same file")
	before := e.objects()
	c := e.runWant(store.OutcomeSucceeded)
	source("unchanged")
	if c.Read != first.Read || c.Creates+c.Updates+c.Deletes+c.StagedDeletes != 0 {
		t.Errorf("unchanged cycle = %+v, want read %d and no changes", c, first.Read)
	}
	if len(e.logs(c.ID)) != 0 {
		t.Errorf("unchanged cycle logged %d entries", len(e.logs(c.ID)))
	}
	if !reflect.DeepEqual(before, e.objects()) {
		t.Error("the unchanged cycle changed the target")
	}

	t.Log("more blank lines between records: the same records")
	e.writeBytes(bytes.ReplaceAll(dir.LDIF(), []byte("\n\n"), []byte("\n\n\n\n")))
	e.runWant(store.OutcomeSucceeded)
	source("unchanged")

	t.Log("one record changed")
	dir.user("s1").Title = "Director"
	e.write(dir)
	c = e.runWant(store.OutcomeSucceeded)
	source(`"read in full"`)
	if c.Updates != 1 || c.Creates+c.Deletes != 0 {
		t.Errorf("cycle after a title change = %+v, want 1 update", c)
	}
	e.wantTarget(dir)
	e.runWant(store.OutcomeSucceeded)
	source("unchanged")

	t.Log("records in another order: planned in full, nothing to do")
	dir.Users[0], dir.Users[1] = dir.Users[1], dir.Users[0]
	e.write(dir)
	c = e.runWant(store.OutcomeSucceeded)
	source(`"read in full"`)
	if c.Creates+c.Updates+c.Deletes != 0 {
		t.Errorf("cycle after reordering = %+v, want no changes", c)
	}

	t.Log("a truncated copy of the same file fails, and the digest outlives the failure")
	full := dir.LDIF()
	e.writeBytes(full[:len(full)-1])
	c = e.runWant(store.OutcomeFailed)
	if !strings.Contains(c.Error, "truncated") {
		t.Errorf("truncated file: %q, want it called truncated", c.Error)
	}
	e.writeBytes(full)
	e.runWant(store.OutcomeSucceeded)
	source("unchanged")

	t.Log("the same file under a narrower scope: the OU that left is deleted")
	cfg := e.config()
	cfg.Scope = []string{"ou=Sales," + baseDN, "ou=Groups," + baseDN}
	cfg.Basics.Threshold = 100
	if err := e.st.UpdateConfiguration(t.Context(), cfg, "alice"); err != nil {
		t.Fatal(err)
	}
	eng := 0
	for _, u := range dir.Users {
		if u.OU == "Engineering" {
			eng++
		}
	}
	c = e.runWant(store.OutcomeSucceeded)
	source(`"read in full"`)
	if c.Deletes != eng || eng == 0 {
		t.Errorf("cycle after narrowing the scope = %+v, want %d deletes", c, eng)
	}

	t.Log("after Restart sync the target moved on: planned in full")
	cfg.Scope = ldifScope
	cfg.Basics.Threshold = 1
	if err := e.st.UpdateConfiguration(t.Context(), cfg, "alice"); err != nil {
		t.Fatal(err)
	}
	e.runWant(store.OutcomeSucceeded) // Engineering comes back
	e.runWant(store.OutcomeSucceeded)
	source("unchanged")
	gone := dir.clone()
	gone.remove("s0")
	e.write(gone)
	q := e.runWant(store.OutcomeQuarantined)
	e.write(dir)
	if _, err := e.eng.RestartSync(t.Context(), e.id, q.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	c = e.runWant(store.OutcomeSucceeded)
	source(`"read in full"`)
	if c.Creates+c.Updates+c.Deletes != 0 {
		t.Errorf("cycle after Restart sync = %+v, want no changes", c)
	}
	e.wantTarget(dir)
	e.runWant(store.OutcomeSucceeded)
	source("unchanged")
}
