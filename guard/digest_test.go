package guard

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"

	"github.com/syncguard/syncguard/store"
)

// How a cycle read its source, as its record says (Cycle.SourceUnchanged).
const (
	unchangedSource = true  // the records matched the digest: nothing planned
	readInFull      = false // read and planned in full
)

// watchSource returns a check that the last cycle of e, as recorded,
// skipped planning (unchangedSource) or did not (readInFull).
func watchSource(t *testing.T, e *env) func(want bool) {
	return func(want bool) {
		t.Helper()
		cs, err := e.st.Cycles(t.Context(), e.id, 1)
		if err != nil || len(cs) == 0 {
			t.Fatalf("last cycle: %v", err)
		}
		if c := cs[0]; c.SourceUnchanged != want {
			t.Errorf("cycle %d (%s): source unchanged %v, want %v", c.ID, c.Outcome, c.SourceUnchanged, want)
		}
	}
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
	source := watchSource(t, e)
	first := e.runWant(store.OutcomeSucceeded)
	source(readInFull)
	want := dir.want()
	if first.Creates != len(want) {
		t.Fatalf("first cycle = %+v, want %d creates", first, len(want))
	}

	t.Log("the same file")
	before := e.objects()
	c := e.runWant(store.OutcomeSucceeded)
	source(unchangedSource)
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
	source(unchangedSource)

	t.Log("one record changed")
	dir.user("s1").Title = "Director"
	e.write(dir)
	c = e.runWant(store.OutcomeSucceeded)
	source(readInFull)
	if c.Updates != 1 || c.Creates+c.Deletes != 0 {
		t.Errorf("cycle after a title change = %+v, want 1 update", c)
	}
	e.wantTarget(dir)
	e.runWant(store.OutcomeSucceeded)
	source(unchangedSource)

	t.Log("records in another order: planned in full, nothing to do")
	dir.Users[0], dir.Users[1] = dir.Users[1], dir.Users[0]
	e.write(dir)
	c = e.runWant(store.OutcomeSucceeded)
	source(readInFull)
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
	source(unchangedSource)

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
	source(readInFull)
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
	source(unchangedSource)
	gone := dir.clone()
	gone.remove("s0")
	e.write(gone)
	q := e.runWant(store.OutcomeQuarantined)
	e.write(dir)
	if _, err := e.eng.RestartSync(t.Context(), e.id, q.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	c = e.runWant(store.OutcomeSucceeded)
	source(readInFull)
	if c.Creates+c.Updates+c.Deletes != 0 {
		t.Errorf("cycle after Restart sync = %+v, want no changes", c)
	}
	e.wantTarget(dir)
	e.runWant(store.OutcomeSucceeded)
	source(unchangedSource)
}

// sumsSource lets a test step into a fingerprinting source's Sums.
type sumsSource struct {
	Source
	sums func(ctx context.Context, bases []string, fn func(Sum) error) error
}

func (s *sumsSource) Sums(ctx context.Context, bases []string, fn func(Sum) error) error {
	return s.sums(ctx, bases, fn)
}

// TestLDAPUnchangedSource: the same for a directory server, whose entries
// are fingerprinted as the server encodes them; a server dying during the
// fingerprint pass fails the cycle and changes nothing.
func TestLDAPUnchangedSource(t *testing.T) {
	t.Parallel()
	dir := ldapDirectory(60) // 124 entries: pages of 50, 50 and 24
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: dir.LDIF()})
	e := newLDAPEnv(t, srv, store.Basics{Prevent: true, Threshold: 100})
	source := watchSource(t, e)
	first := e.runWant(store.OutcomeSucceeded)
	c := e.runWant(store.OutcomeSucceeded)
	source(unchangedSource)
	if c.Read != first.Read || c.Creates+c.Updates+c.Deletes != 0 {
		t.Errorf("unchanged cycle = %+v, want read %d and no changes", c, first.Read)
	}

	s1 := dir.user("s1")
	mod := goldap.NewModifyRequest(s1.DN(), nil)
	mod.Replace("title", []string{"Director"})
	if err := srv.Conn(t).Modify(mod); err != nil {
		t.Fatal(err)
	}
	c = e.runWant(store.OutcomeSucceeded)
	source(readInFull)
	if c.Updates != 1 || c.Creates+c.Deletes != 0 {
		t.Errorf("cycle after a modify = %+v, want 1 update", c)
	}
	e.runWant(store.OutcomeSucceeded)
	source(unchangedSource)

	if err := srv.Conn(t).Del(goldap.NewDelRequest(dir.user("e3").DN(), nil)); err != nil {
		t.Fatal(err)
	}
	c = e.runWant(store.OutcomeSucceeded)
	source(readInFull)
	if c.Deletes != 1 || c.Creates+c.Updates != 0 {
		t.Errorf("cycle after a delete = %+v, want 1 delete", c)
	}
	e.runWant(store.OutcomeSucceeded)
	source(unchangedSource)

	before := e.objects()
	var killAt atomic.Int64
	e.eng.Open = func(c *store.Configuration, o SourceOptions) (Source, error) {
		src, err := OpenSource(c, o)
		if err != nil {
			return nil, err
		}
		f := src.(fingerprinter)
		return &sumsSource{Source: src, sums: func(ctx context.Context, bases []string, fn func(Sum) error) error {
			n := int64(0)
			return f.Sums(ctx, bases, func(s Sum) error {
				if n++; n == killAt.Load() {
					srv.Kill()
				}
				return fn(s)
			})
		}}, nil
	}
	for _, k := range []int64{1, 50, 51, 100} {
		killAt.Store(k)
		c := e.runWant(store.OutcomeFailed)
		if !strings.Contains(c.Error, "ldap:") {
			t.Errorf("killed after %d fingerprints: error %q", k, c.Error)
		}
		if got := e.objects(); !reflect.DeepEqual(got, before) {
			t.Errorf("killed after %d fingerprints: the target changed (%d → %d objects)", k, len(before), len(got))
		}
		if st := e.config(); st.Status != store.StatusError {
			t.Errorf("killed after %d fingerprints: status %q", k, st.Status)
		}
		srv.Restart(t)
	}
	killAt.Store(0)
	e.runWant(store.OutcomeSucceeded)
	source(unchangedSource)
	if st := e.config(); st.Status != store.StatusHealthy {
		t.Errorf("status after the server came back = %q", st.Status)
	}
}
