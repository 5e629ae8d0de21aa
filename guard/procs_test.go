package guard

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// TestCyclesNeverOverlap: two processes (children looping over RunCycle, as
// two `syncguard serve` on one database would) and two engines of this
// process on two handles of the same file run cycles of two configurations
// as fast as they can for two seconds. No two cycles of one configuration
// ever hold it at once — neither by the lease they report from inside,
// nor by the cycles table — and no cycle fails because another planned at
// the same time.
func TestCyclesNeverOverlap(t *testing.T) {
	t.Parallel()
	dir := newDirectory(15)
	e := newLDIFEnv(t, dir, defaultBasics)
	// Other processes use the real clock: so must this one.
	e.st.SetClock(time.Now)
	other := &store.Configuration{Name: "other", Source: "ldif:" + e.path, BaseDN: baseDN, Scope: ldifScope,
		Interval: DefaultInterval, Basics: defaultBasics}
	if err := e.st.CreateConfiguration(t.Context(), other, "test"); err != nil {
		t.Fatal(err)
	}
	ids := []int64{e.id, other.ID}
	configs := fmt.Sprintf("%d,%d", e.id, other.ID)
	const d = 2 * time.Second

	var mu sync.Mutex
	var ivs []interval
	busy := 0
	ran := map[string]int{}
	record := func(who string) (func(interval), func(int64)) {
		return func(iv interval) {
				mu.Lock()
				defer mu.Unlock()
				ivs = append(ivs, iv)
				ran[who]++
			}, func(int64) {
				mu.Lock()
				defer mu.Unlock()
				busy++
			}
	}
	var wg sync.WaitGroup
	for i := range 2 {
		c := startChild(t, "loop", e.db, configs, d.String())
		wg.Go(func() {
			evs, _ := c.rest(d + 30*time.Second)
			if c.err != nil {
				t.Errorf("child %d: %v", i, c.err)
			}
			ranFn, busyFn := record(fmt.Sprintf("child %d", i))
			for _, ev := range evs {
				f := strings.Fields(ev.text)
				switch {
				case f[0] == "cycle" && len(f) == 6:
					var iv interval
					iv.config, _ = strconv.ParseInt(f[1], 10, 64)
					iv.start, _ = strconv.ParseInt(f[2], 10, 64)
					iv.end, _ = strconv.ParseInt(f[3], 10, 64)
					iv.cycle, _ = strconv.ParseInt(f[4], 10, 64)
					iv.outcome = f[5]
					ranFn(iv)
				case f[0] == "busy":
					busyFn(0)
				case f[0] == "error":
					t.Errorf("child %d: %s", i, ev.text)
				}
			}
		})
	}
	for i, st := range []*store.Store{e.st, openRealStore(t, e.db)} {
		eng := &Engine{Store: st}
		ranFn, busyFn := record(fmt.Sprintf("engine %d", i))
		wg.Go(func() {
			if err := runLoop(t.Context(), eng, ids, time.Now().Add(d), ranFn, busyFn); err != nil {
				t.Errorf("engine %d: %v", i, err)
			}
		})
	}
	wg.Wait()

	for _, id := range ids {
		var mine []interval
		for _, iv := range ivs {
			if iv.config == id {
				mine = append(mine, iv)
			}
			if iv.start == 0 || iv.end < iv.start {
				t.Errorf("bad interval %+v", iv)
			}
		}
		slices.SortFunc(mine, func(a, b interval) int { return int(a.start - b.start) })
		for i := 1; i < len(mine); i++ {
			if mine[i].start < mine[i-1].end {
				t.Errorf("configuration %d: cycles %d and %d held it at once: [%d, %d] and [%d, %d]", id,
					mine[i-1].cycle, mine[i].cycle, mine[i-1].start, mine[i-1].end, mine[i].start, mine[i].end)
			}
		}
		cycles, err := e.st.Cycles(t.Context(), id, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(cycles) != len(mine) {
			t.Errorf("configuration %d: %d cycles recorded, %d reported", id, len(cycles), len(mine))
		}
		slices.Reverse(cycles)
		for i, c := range cycles {
			if c.Outcome != store.OutcomeSucceeded {
				t.Errorf("cycle %d: %s (%s), want Succeeded", c.ID, c.Outcome, c.Error)
			}
			if i > 0 && c.StartedAt.Before(cycles[i-1].FinishedAt) {
				t.Errorf("configuration %d: cycle %d started at %v, before cycle %d finished at %v", id,
					c.ID, c.StartedAt, cycles[i-1].ID, cycles[i-1].FinishedAt)
			}
		}
	}
	if len(ran) != 4 || busy == 0 {
		t.Errorf("cycles run by %v, %d refused as busy: want all four runners to have run cycles and met each other", ran, busy)
	}
	t.Logf("%d cycles by %v, %d refused with ErrBusy", len(ivs), ran, busy)
}

// openRealStore opens another handle on the database file, with the real clock.
func openRealStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestLeaseOfKilledHolder: a process killed while it holds a configuration's
// lease (SIGKILL: nothing released) blocks no one: the next cycle, from
// another process, takes the lease over at once instead of waiting out its
// 30 seconds, and the status stops saying Running as soon as the holder is
// gone.
func TestLeaseOfKilledHolder(t *testing.T) {
	t.Parallel()
	e := newLDIFEnv(t, newDirectory(3), defaultBasics)
	e.st.SetClock(time.Now)
	e.runWant(store.OutcomeSucceeded)
	c := startChild(t, "hold", e.db, strconv.FormatInt(e.id, 10), "")
	c.await("holding", 30*time.Second)
	if _, err := e.eng.RunCycle(t.Context(), e.id, TriggerManual); !errors.Is(err, ErrBusy) {
		t.Fatalf("RunCycle while a live process holds the lease = %v, want ErrBusy", err)
	}
	if s, err := StatusOf(t.Context(), e.st, e.config()); err != nil || s.Code != StatusRunning {
		t.Errorf("status while the holder runs = %+v, %v; want running", s, err)
	}
	c.kill()
	if _, err := e.st.ActiveCycleLock(t.Context(), e.id); err != nil {
		t.Fatalf("the killed holder's lease: %v, want still there", err)
	}
	if s, err := StatusOf(t.Context(), e.st, e.config()); err != nil || s.Code != store.StatusHealthy {
		t.Errorf("status once the holder was killed = %+v, %v; want healthy, not running", s, err)
	}
	start := time.Now()
	e.runWant(store.OutcomeSucceeded)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the next cycle took %v: it waited for the dead holder's lease", took)
	}
}

// TestRestartSyncTwiceAtOnce: two admins (in two processes) confirming
// Restart sync for one quarantine at the same moment: exactly one restarts;
// every other is refused with ErrConflict, saying the staged deletions were
// already handled, and changes nothing.
func TestRestartSyncTwiceAtOnce(t *testing.T) {
	t.Parallel()
	e, _, _, q := quarantined(t)
	engines := []*Engine{e.eng, {Store: openStore(t, e.db, e.clock)}, e.eng, {Store: openStore(t, e.db, e.clock)}}
	var wg sync.WaitGroup
	start := make(chan struct{})
	ns := make([]int, len(engines))
	errs := make([]error, len(engines))
	for i, eng := range engines {
		wg.Go(func() {
			<-start
			ns[i], errs[i] = count(eng.RestartSync(t.Context(), e.id, q.ID, fmt.Sprintf("admin%d", i)))
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i := range engines {
		switch {
		case errs[i] == nil:
			ok++
			if ns[i] != 6 {
				t.Errorf("the restart that went through discarded %d, want 6", ns[i])
			}
		case !errors.Is(errs[i], store.ErrConflict) || !strings.Contains(errs[i].Error(), "already handled"):
			t.Errorf("RestartSync = %d, %v; want ErrConflict saying already handled", ns[i], errs[i])
		}
	}
	if ok != 1 {
		t.Errorf("%d restarts went through, want exactly 1", ok)
	}
	discarded := 0
	for _, s := range e.staged() {
		if s.State == store.StagedDiscarded && s.Reason == "restart sync" {
			discarded++
		}
	}
	audits, err := e.st.AuditEvents(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	restarts := 0
	for _, a := range audits {
		if a.Action == "Restarted sync" {
			restarts++
		}
	}
	if discarded != 6 || restarts != 1 {
		t.Errorf("%d staged deletes discarded, %d restarts audited; want 6 and 1", discarded, restarts)
	}
	if c := e.config(); c.QuarantineID != 0 {
		t.Errorf("quarantine %d after the restart, want none", c.QuarantineID)
	}
}
