package guard

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// The crash and cross-process tests run the engine in child processes: the
// test binary started again with -test.run=^TestCrashChild$ and the role in
// the environment. A child reports what it does on stdout as lines
// "crashchild: WORDS…", which the parent timestamps as they arrive.

const (
	childRoleEnv   = "SYNCGUARD_CHILD_ROLE"
	childDBEnv     = "SYNCGUARD_CHILD_DB"
	childConfigEnv = "SYNCGUARD_CHILD_CONFIG" // configuration IDs, comma-separated
	childArgEnv    = "SYNCGUARD_CHILD_ARG"    // role-specific
	childPrefix    = "crashchild: "
)

// TestCrashChild is not a test of its own: it is the child process of the
// crash and cross-process tests, and skips unless started as one.
func TestCrashChild(t *testing.T) {
	role := os.Getenv(childRoleEnv)
	if role == "" {
		t.Skip("the child process of the crash and cross-process tests; skipped when run directly")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv(childDBEnv))
	if err != nil {
		childSay("error %v", err)
		os.Exit(1)
	}
	var ids []int64
	for f := range strings.SplitSeq(os.Getenv(childConfigEnv), ",") {
		id, _ := strconv.ParseInt(f, 10, 64)
		ids = append(ids, id)
	}
	eng := &Engine{Store: st}
	arg := os.Getenv(childArgEnv)
	switch role {
	case "cycle":
		// One cycle; its phases are reported as they change.
		eng.OnProgress = func(_ int64, p *Progress) {
			if p == nil {
				return
			}
			go func() {
				last := ""
				for {
					if ph, _ := p.Phase.Load().(string); ph != last {
						last = ph
						childSay("phase %s", ph)
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
		childSay("begin")
		c, err := eng.RunCycle(ctx, ids[0], TriggerManual)
		if err != nil {
			childSay("error %v", err)
			os.Exit(1)
		}
		childSay("end %s %d", c.Outcome, c.ID)
	case "allow":
		q, _ := strconv.ParseInt(arg, 10, 64)
		childSay("begin")
		n, err := count(eng.AllowDeletes(ctx, ids[0], q, "crash-test"))
		if err != nil {
			childSay("error %v", err)
			os.Exit(1)
		}
		childSay("end %d", n)
	case "hold":
		// Takes the lease and holds it, reading a source that never ends.
		eng.Open = func(*store.Configuration, SourceOptions) (Source, error) {
			return &funcSource{read: func(ctx context.Context, _ []string, _ func(*Entry) error) error {
				childSay("holding")
				<-ctx.Done()
				return ctx.Err()
			}}, nil
		}
		_, err := eng.RunCycle(ctx, ids[0], TriggerManual)
		childSay("error %v", err)
		os.Exit(1)
	case "export":
		// Drains the queue of one configuration, as sync does after its cycle.
		childSay("begin")
		childDrain(ctx, st, ids[0])
	case "purge":
		// Purges every held object whose hold has ended, arg at a time,
		// then exports what that queued.
		batch, _ := strconv.Atoi(arg)
		childSay("begin")
		n, err := (&Purger{Store: st, Batch: batch}).Purge(ctx, 0)
		if err != nil {
			childSay("error %v", err)
			os.Exit(1)
		}
		childSay("purged %d", n)
		childDrain(ctx, st, ids[0])
	case "restore":
		// Restores every held object, then exports what that queued.
		childSay("begin")
		res, err := eng.Restore(ctx, ids[0], RestoreSelection{All: true}, "crash-test")
		if err != nil {
			childSay("error %v", err)
			os.Exit(1)
		}
		childSay("restored %d", res.Objects)
		childDrain(ctx, st, ids[0])
	case "loop":
		// Cycles of every configuration, round and round, until the deadline;
		// each cycle that ran is reported with the time it held the lease.
		d, _ := time.ParseDuration(arg)
		runLoop(ctx, eng, ids, time.Now().Add(d), func(iv interval) {
			childSay("cycle %d %d %d %d %s", iv.config, iv.start, iv.end, iv.cycle, iv.outcome)
		}, func(id int64) { childSay("busy %d", id) })
		childSay("end")
	default:
		childSay("error unknown role %q", role)
		os.Exit(1)
	}
	st.Close()
	os.Exit(0)
}

// childDrain exports a configuration's queue and says what it did.
func childDrain(ctx context.Context, st *store.Store, id int64) {
	d, err := (&Exporter{Store: st, Backoff: QuickBackoff}).Drain(ctx, id, time.Minute)
	if err != nil {
		childSay("error %v", err)
		os.Exit(1)
	}
	childSay("end %d %d", d.Sent, d.Pending)
}

var childOut sync.Mutex

func childSay(format string, args ...any) {
	childOut.Lock()
	defer childOut.Unlock()
	fmt.Fprintf(os.Stdout, childPrefix+format+"\n", args...)
}

// childEvent is one line a child said, with when the parent read it.
type childEvent struct {
	at   time.Time
	text string
}

// child is a running child process.
type child struct {
	t       *testing.T
	cmd     *exec.Cmd
	started time.Time
	events  chan childEvent
	exited  chan struct{}
	err     error // the exit status, once exited is closed
}

// startChild runs the test binary as a child in role on the database db.
func startChild(t *testing.T, role, db, configs, arg string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childRoleEnv+"="+role, childDBEnv+"="+db, childConfigEnv+"="+configs, childArgEnv+"="+arg)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	c := &child{t: t, cmd: cmd, events: make(chan childEvent, 1<<16), exited: make(chan struct{})}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if text, ok := strings.CutPrefix(sc.Text(), childPrefix); ok {
				c.events <- childEvent{at: time.Now(), text: text}
			}
		}
		io.Copy(io.Discard, out)
		c.err = cmd.Wait()
		if c.err != nil && stderr.Len() > 0 {
			c.err = fmt.Errorf("%w: %s", c.err, strings.TrimSpace(stderr.String()))
		}
		close(c.events)
		close(c.exited)
	}()
	t.Cleanup(func() { c.kill() })
	return c
}

// await returns the next event starting with prefix, failing the test on
// an "error" event, on exit, or after timeout.
func (c *child) await(prefix string, timeout time.Duration) childEvent {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				<-c.exited
				c.t.Fatalf("child exited (%v) before saying %q", c.err, prefix)
			}
			if strings.HasPrefix(ev.text, "error") {
				c.t.Fatalf("child: %s", ev.text)
			}
			if strings.HasPrefix(ev.text, prefix) {
				return ev
			}
		case <-deadline:
			c.t.Fatalf("child did not say %q within %v", prefix, timeout)
		}
	}
}

// rest returns every event until the child exits, and when it did.
func (c *child) rest(timeout time.Duration) ([]childEvent, time.Time) {
	c.t.Helper()
	var evs []childEvent
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				<-c.exited
				return evs, time.Now()
			}
			evs = append(evs, ev)
		case <-deadline:
			c.t.Fatalf("child still running after %v", timeout)
		}
	}
}

// kill sends SIGKILL and waits until the child is reaped (a zombie would
// still look alive to the lease's liveness check).
func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
}

// interval is the time a cycle held a configuration's lease, as seen from
// inside (OnProgress is told right after the lease is taken and right
// before it is released), in Unix nanoseconds.
type interval struct {
	config, cycle int64
	start, end    int64
	outcome       string
}

// runLoop runs cycles of each configuration in turn until deadline,
// reporting each cycle that ran and each refused one (ErrBusy).
func runLoop(ctx context.Context, eng *Engine, ids []int64, deadline time.Time, ran func(interval), busy func(int64)) error {
	var mu sync.Mutex
	held := map[int64]int64{}
	eng.OnProgress = func(id int64, p *Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p != nil {
			held[id] = time.Now().UnixNano()
		} else {
			held[-id] = time.Now().UnixNano()
		}
	}
	for time.Now().Before(deadline) {
		for _, id := range ids {
			c, err := eng.RunCycle(ctx, id, TriggerSchedule)
			if errors.Is(err, ErrBusy) {
				busy(id)
				continue
			}
			if err != nil {
				return err
			}
			mu.Lock()
			ran(interval{config: id, cycle: c.ID, start: held[id], end: held[-id], outcome: c.Outcome})
			mu.Unlock()
		}
	}
	return nil
}

// copyDB copies a closed database file (and its WAL, if any) to dst.
func copyDB(t *testing.T, src, dst string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(src + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// rawDB opens a database file read-only with plain SQL, for whole-state digests.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
