package guard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/store"
)

// digest is the whole state a cycle or a decision may change, read with
// plain SQL from a database file.
type digest struct {
	Objects       map[string]string // anchor → content hash
	Logs          map[string]int    // "Action/Status" → entries
	Staged        map[string]string // "cycle/anchor" → state
	Notifications int
	Cycles        int
	Audit         int
	Status        string
	QuarantineID  int64
	Generation    int64
}

func readDigest(t *testing.T, path string) digest {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	ctx := t.Context()
	d := digest{Objects: map[string]string{}, Logs: map[string]int{}, Staged: map[string]string{}}
	q := func(query string, each func(scan func(...any) error) error) {
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows.Scan); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	q(`SELECT anchor, hash FROM target_objects WHERE config_id = 1`, func(scan func(...any) error) error {
		var a, h string
		err := scan(&a, &h)
		d.Objects[a] = h
		return err
	})
	q(`SELECT action || '/' || status, count(*) FROM provisioning_log WHERE config_id = 1 GROUP BY 1`, func(scan func(...any) error) error {
		var k string
		var n int
		err := scan(&k, &n)
		d.Logs[k] = n
		return err
	})
	q(`SELECT cycle_id || '/' || anchor, fate FROM provisioning_log WHERE config_id = 1 AND fate <> ''`, func(scan func(...any) error) error {
		var k, s string
		err := scan(&k, &s)
		d.Staged[k] = s
		return err
	})
	q(`SELECT (SELECT count(*) FROM notifications), (SELECT count(*) FROM cycles), (SELECT count(*) FROM audit_events),
		status, quarantine_cycle_id, generation FROM configurations WHERE id = 1`, func(scan func(...any) error) error {
		return scan(&d.Notifications, &d.Cycles, &d.Audit, &d.Status, &d.QuarantineID, &d.Generation)
	})
	return d
}

// summary describes a digest in a line, to show how two differ.
func (d digest) summary() string {
	states := map[string]int{}
	for _, s := range d.Staged {
		states[s]++
	}
	return fmt.Sprintf("%d objects, log %v, staged %v, %d notifications, %d cycles, %d audit events, status %s, quarantine %d, generation %d",
		len(d.Objects), d.Logs, states, d.Notifications, d.Cycles, d.Audit, d.Status, d.QuarantineID, d.Generation)
}

func logTotal(d digest) int {
	n := 0
	for _, v := range d.Logs {
		n += v
	}
	return n
}

// crashScenario is one operation of a child process, killed at points
// spread over its run time.
type crashScenario struct {
	name     string
	template string // the database before the operation (closed)
	role     string // the child's role
	arg      string
	// next runs, in this process on the killed child's database, what an
	// admin or the scheduler would do next; wasAfter says whether the kill
	// left the state after the operation. It returns the database's digest
	// once done, which must then hold the state after the operation.
	next func(t *testing.T, st *store.Store, wasAfter bool)
	// same compares the final digest with the measured after state.
	same func(final, after digest) bool
}

// crashUsers is the size of the crash test's directory: 30,000 users, or
// SYNCGUARD_CRASH_USERS (at least 1,000).
func crashUsers() int {
	if n, err := strconv.Atoi(os.Getenv("SYNCGUARD_CRASH_USERS")); err == nil && n >= 1000 {
		return n
	}
	return 30000
}

// TestCrashSafety kills a child process running a cycle over 30,000 users
// that updates 6,000 and deletes 6,000 (one OU of five each), a cycle staging
// 6,000 deletions, and an Allow deletes of those 6,000, with SIGKILL at 10%, 30%, 50%, 70% and
// 90% of the operation's measured run time and twice more inside its write.
// After each kill the database is sound (PRAGMA integrity_check), holds
// exactly the state before or the state after the operation — target
// directory, provisioning log, staged deletes, quarantine, outbox, audit,
// never a mix — and the next run completes: a lease the dead child left
// behind is taken over at once, not after its 30 seconds.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	users := crashUsers()
	perOU := users / len(demo.DefaultOUs)
	var full bytes.Buffer
	if err := demo.Generate(&full, demo.Options{Users: users, Groups: 50, MembersPerGroup: 20, Seed: 7, UUIDs: true}); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "source.ldif")
	writeSource := func(b []byte) {
		if err := os.WriteFile(src, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Finance leaves the source; in the cycle scenario Sales also changes titles.
	finance, sales := "ou=Finance,"+demo.BaseDN, "ou=Sales,"+demo.BaseDN
	withoutFinance := editRecords(full.Bytes(), func(dn string, rec []byte) []byte {
		if isBelow(dn, finance) {
			return nil
		}
		return rec
	})
	changed := editRecords(withoutFinance, func(dn string, rec []byte) []byte {
		if isBelow(dn, sales) {
			return bytes.ReplaceAll(rec, []byte("\ntitle: "), []byte("\ntitle: Senior "))
		}
		return rec
	})

	// synced.db: the users synced; prevention on, threshold 500.
	synced := filepath.Join(dir, "synced.db")
	writeSource(full.Bytes())
	st, err := store.Open(ctx, synced)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &store.Configuration{Name: "big", Source: "ldif:" + src, BaseDN: demo.BaseDN, Interval: time.Hour,
		Basics: store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 500}}
	if err := st.CreateConfiguration(ctx, cfg, "test"); err != nil {
		t.Fatal(err)
	}
	if cfg.ID != 1 {
		t.Fatalf("configuration ID %d, want 1", cfg.ID)
	}
	if c, err := (&Engine{Store: st}).RunCycle(ctx, 1, TriggerManual); err != nil || c.Outcome != store.OutcomeSucceeded || c.Creates != users+50 {
		t.Fatalf("first cycle = %+v, %v; want %d creates", c, err, users+50)
	}
	// unguarded.db: the same with prevention off, so that a cycle applies deletes.
	unguarded := filepath.Join(dir, "unguarded.db")
	cfg.Basics.Prevent = false
	if err := st.UpdateConfiguration(ctx, cfg, "test"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	copyDB(t, synced, unguarded)
	if st, err = store.Open(ctx, synced); err != nil {
		t.Fatal(err)
	}
	cfg.Basics.Prevent = true
	if err := st.UpdateConfiguration(ctx, cfg, "test"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	runNext := func(t *testing.T, st *store.Store, want string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		c, err := (&Engine{Store: st}).RunCycle(ctx, 1, TriggerManual)
		if err != nil {
			t.Fatalf("the next cycle: %v", err)
		}
		if c.Outcome != want {
			t.Fatalf("the next cycle: %s (%s), want %s", c.Outcome, c.Error, want)
		}
	}

	t.Run(fmt.Sprintf("cycle updating %d and deleting %d of %d", perOU, perOU, users), func(t *testing.T) {
		writeSource(changed)
		after := runCrashScenario(t, crashScenario{role: "cycle", template: unguarded,
			next: func(t *testing.T, st *store.Store, _ bool) { runNext(t, st, store.OutcomeSucceeded) },
			same: func(final, after digest) bool {
				return maps.Equal(final.Objects, after.Objects) && maps.Equal(final.Logs, after.Logs)
			}})
		if got := after.digest.Logs["Delete/Success"]; got != perOU {
			t.Errorf("the cycle deleted %d, want %d", got, perOU)
		}
		if got := after.digest.Logs["Update/Success"]; got < perOU {
			t.Errorf("the cycle updated %d, want at least %d", got, perOU)
		}
	})

	quarantinedDB := filepath.Join(dir, "quarantined.db")
	var quarantine int64
	t.Run(fmt.Sprintf("cycle staging %d deletes", perOU), func(t *testing.T) {
		writeSource(withoutFinance)
		after := runCrashScenario(t, crashScenario{role: "cycle", template: synced,
			next: func(t *testing.T, st *store.Store, _ bool) { runNext(t, st, store.OutcomeQuarantined) },
			same: func(final, after digest) bool {
				return maps.Equal(final.Objects, after.Objects) && maps.Equal(final.Staged, after.Staged) &&
					maps.Equal(final.Logs, after.Logs) && final.Notifications == after.Notifications &&
					final.QuarantineID == after.QuarantineID && final.Status == after.Status
			}})
		if n := len(after.digest.Staged); n != perOU || after.digest.Status != store.StatusQuarantined || after.digest.Notifications != 1 {
			t.Fatalf("after the cycle: %s; want %d staged, quarantined, one notification", after.digest.summary(), perOU)
		}
		copyDB(t, after.path, quarantinedDB)
		quarantine = after.digest.QuarantineID
	})
	if quarantine == 0 {
		t.FailNow()
	}

	t.Run(fmt.Sprintf("Allow deletes of %d", perOU), func(t *testing.T) {
		writeSource(withoutFinance)
		runCrashScenario(t, crashScenario{role: "allow", arg: fmt.Sprint(quarantine), template: quarantinedDB,
			next: func(t *testing.T, st *store.Store, wasAfter bool) {
				a, err := st.AllowDeletes(t.Context(), store.QuarantineDecision{ConfigID: 1, Quarantine: quarantine, Actor: "admin"}, nil)
				switch {
				case wasAfter && !errors.Is(err, store.ErrConflict):
					t.Errorf("Allow deletes again after it was applied = %d, %v; want ErrConflict", a.Deleted, err)
				case !wasAfter && (err != nil || a.Deleted != perOU):
					t.Errorf("Allow deletes after the crash = %d, %v; want %d", a.Deleted, err, perOU)
				}
				runNext(t, st, store.OutcomeSucceeded)
			},
			same: func(final, after digest) bool {
				// The next cycle updates the groups that lost members: compare anchors.
				return slices.Equal(slices.Sorted(maps.Keys(final.Objects)), slices.Sorted(maps.Keys(after.Objects))) &&
					maps.Equal(final.Staged, after.Staged) && final.Logs["Delete/Success"] == after.Logs["Delete/Success"]
			}})
	})
}

// measured is the outcome of a scenario's uninterrupted run.
type measured struct {
	path   string
	digest digest
}

// atEnd is the kill point "as soon as the child says it is done".
const atEnd = time.Duration(-1)

// runCrashScenario measures one uninterrupted run of the scenario, then kills
// it at points spread over that run and checks what each kill left.
func runCrashScenario(t *testing.T, sc crashScenario) measured {
	t.Helper()
	dir := t.TempDir()
	before := readDigest(t, sc.template)

	// One uninterrupted run: its duration and its after state.
	m := filepath.Join(dir, "measured.db")
	copyDB(t, sc.template, m)
	c := startChild(t, sc.role, m, "1", sc.arg)
	begin := c.await("begin", 30*time.Second).at
	evs, exited := c.rest(2 * time.Minute)
	if c.err != nil {
		t.Fatalf("child: %v (%v)", c.err, evs)
	}
	total := exited.Sub(begin)
	var phases []string
	applying := time.Time{}
	for _, ev := range evs {
		phases = append(phases, fmt.Sprintf("%s at %v", ev.text, ev.at.Sub(begin).Round(time.Millisecond)))
		if ev.text == "phase applying" {
			applying = ev.at
		}
	}
	t.Logf("uninterrupted run: %v (%s)", total.Round(time.Millisecond), strings.Join(phases, ", "))
	after := readDigest(t, m)
	if reflect.DeepEqual(before, after) {
		t.Fatalf("the operation changed nothing: %s", after.summary())
	}

	// The kill points: 10%…90% of the run, and two inside the write.
	var points []time.Duration
	for _, f := range []float64{0.1, 0.3, 0.5, 0.7, 0.9} {
		points = append(points, time.Duration(f*float64(total)))
	}
	if !applying.IsZero() {
		from := applying.Sub(begin)
		for _, f := range []float64{1.0 / 3, 2.0 / 3} {
			points = append(points, from+time.Duration(f*float64(total-from)))
		}
	}
	slices.Sort(points)
	// And one as soon as the child says it is done: committed, not yet exited.
	points = append(points, atEnd)
	var nBefore, nAfter, leases int
	for i, at := range points {
		path := filepath.Join(dir, fmt.Sprintf("killed-%d.db", i))
		copyDB(t, sc.template, path)
		c := startChild(t, sc.role, path, "1", sc.arg)
		begin := c.await("begin", 30*time.Second).at
		last := "begin"
		if at == atEnd {
			ev := c.await("end", time.Minute)
			at, last = ev.at.Sub(begin), ev.text
		} else {
			time.Sleep(time.Until(begin.Add(at)))
		}
		c.kill()
		for ev := range c.events {
			last = ev.text
		}
		st, err := store.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("kill %d: open after the kill: %v", i, err)
		}
		if res, err := st.IntegrityCheck(t.Context()); err != nil || res != "ok" {
			t.Errorf("kill %d at %v: integrity_check = %q, %v", i, at, res, err)
		}
		got := readDigest(t, path)
		state := "BETWEEN"
		switch {
		case reflect.DeepEqual(got, before):
			state = "before"
			nBefore++
		case reflect.DeepEqual(got, after):
			state = "after"
			nAfter++
		default:
			t.Errorf("kill %d at %v (last said %q): the state is neither before nor after the operation:\n got    %s\n before %s\n after  %s",
				i, at, last, got.summary(), before.summary(), after.summary())
		}
		// The provisioning log holds an entry per change, exactly.
		if state == "after" && logTotal(got)-logTotal(before) == 0 {
			t.Errorf("kill %d: after the operation, but no log entries were added", i)
		}
		_, lerr := st.ActiveCycleLock(t.Context(), 1)
		lease := lerr == nil
		if lease {
			leases++
		}
		start := time.Now()
		sc.next(t, st, state == "after")
		took := time.Since(start)
		st.Close()
		final := readDigest(t, path)
		if !sc.same(final, after) {
			t.Errorf("kill %d: after the next run the state is not the one an uninterrupted run leaves:\n got  %s\n want %s",
				i, final.summary(), after.summary())
		}
		t.Logf("kill %d at %6v (%3.0f%%, last said %q): %s; lease left behind: %v; next run took %v",
			i, at.Round(time.Millisecond), 100*float64(at)/float64(total), last, state, lease, took.Round(time.Millisecond))
		if t.Failed() {
			break
		}
	}
	t.Logf("%d kills: %d left the state before, %d after, %d left a lease that the next run took over", len(points), nBefore, nAfter, leases)
	if nBefore == 0 || nAfter == 0 {
		t.Errorf("%d kills left the state before, %d after: want some of each", nBefore, nAfter)
	}
	return measured{path: m, digest: after}
}

// editRecords rewrites an LDIF record by record: edit gets each record's
// DN ("" for none) and bytes, blank line included, and returns what to keep.
func editRecords(b []byte, edit func(dn string, rec []byte) []byte) []byte {
	var out bytes.Buffer
	for _, rec := range bytes.SplitAfter(b, []byte("\n\n")) {
		first, _, _ := bytes.Cut(rec, []byte("\n"))
		dn, _ := bytes.CutPrefix(first, []byte("dn: "))
		out.Write(edit(string(dn), rec))
	}
	return out.Bytes()
}

// isBelow reports whether dn is at or below base (plain DNs, compared as text).
func isBelow(dn, base string) bool {
	dn, base = strings.ToLower(dn), strings.ToLower(base)
	return dn == base || strings.HasSuffix(dn, ","+base)
}
