package guard

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// TestCycleLockBusy: while a cycle holds a configuration's lease, a second
// cycle — from this engine, or another process on the same database — is
// refused with ErrBusy; once the first ends, cycles run again.
func TestCycleLockBusy(t *testing.T) {
	t.Parallel()
	e := newLDIFEnv(t, newDirectory(3), defaultBasics)
	var startedOnce sync.Once
	started, release := make(chan struct{}), make(chan struct{})
	e.eng.Open = func(c *store.Configuration, o SourceOptions) (Source, error) {
		src, err := OpenSource(c, o)
		if err != nil {
			return nil, err
		}
		return &funcSource{Source: src, read: func(ctx context.Context, bases []string, fn func(*Entry) error) error {
			startedOnce.Do(func() { close(started) })
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			return src.Read(ctx, bases, fn)
		}}, nil
	}
	type result struct {
		c   *store.Cycle
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := e.eng.RunCycle(t.Context(), e.id, TriggerSchedule)
		done <- result{c, err}
	}()
	<-started

	if _, err := e.eng.RunCycle(t.Context(), e.id, TriggerManual); !errors.Is(err, ErrBusy) {
		t.Errorf("second RunCycle = %v, want ErrBusy", err)
	}
	// Another process: its own store and engine on the same database file.
	other := &Engine{Store: openStore(t, e.db, e.clock)}
	if _, err := other.RunCycle(t.Context(), e.id, TriggerManual); !errors.Is(err, ErrBusy) {
		t.Errorf("RunCycle from another store on the same database = %v, want ErrBusy", err)
	}
	if s, err := StatusOf(t.Context(), e.st, e.config()); err != nil || s.Code != StatusRunning || s.Text != "Running" {
		t.Errorf("status while the cycle runs = %+v, %v; want running", s, err)
	}

	close(release)
	r := <-done
	if r.err != nil || r.c.Outcome != store.OutcomeSucceeded {
		t.Fatalf("first RunCycle = %+v, %v; want Succeeded", r.c, r.err)
	}
	if _, err := e.st.ActiveCycleLock(t.Context(), e.id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("lease after the cycle: %v, want released", err)
	}
	e.runWant(store.OutcomeSucceeded)
	if c, err := other.RunCycle(t.Context(), e.id, TriggerManual); err != nil || c.Outcome != store.OutcomeSucceeded {
		t.Errorf("RunCycle from the other store afterwards = %+v, %v", c, err)
	}
}

// TestExpiredLeaseIsTakenOver: a lease whose holder died (it stopped
// renewing) blocks cycles until it expires, then is taken over.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	t.Parallel()
	e := newLDIFEnv(t, newDirectory(3), defaultBasics)
	t.Run("expired", func(t *testing.T) {
		ok, err := e.st.AcquireCycleLock(t.Context(), e.id, "dead-holder", 999999, "elsewhere", e.clock.Now().Add(-time.Second))
		if err != nil || !ok {
			t.Fatalf("AcquireCycleLock = %v, %v", ok, err)
		}
		e.runWant(store.OutcomeSucceeded)
	})
	t.Run("live, then expired", func(t *testing.T) {
		ok, err := e.st.AcquireCycleLock(t.Context(), e.id, "dead-holder", 999999, "elsewhere", e.clock.Now().Add(time.Minute))
		if err != nil || !ok {
			t.Fatalf("AcquireCycleLock = %v, %v", ok, err)
		}
		if _, err := e.eng.RunCycle(t.Context(), e.id, TriggerManual); !errors.Is(err, ErrBusy) {
			t.Fatalf("RunCycle under a live lease = %v, want ErrBusy", err)
		}
		e.clock.Advance(time.Minute)
		e.runWant(store.OutcomeSucceeded)
		if _, err := e.st.ActiveCycleLock(t.Context(), e.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("lease after the cycle: %v, want released", err)
		}
	})
	t.Run("holder process gone on this host", func(t *testing.T) {
		// A process of this host that no longer exists: taken over at once.
		cmd := exec.Command("true")
		if err := cmd.Run(); err != nil {
			// Running a program is part of the machine this test needs.
			if os.Getenv("CI") == "true" {
				t.Fatalf("cannot run a short-lived process: %v", err)
			}
			t.Skipf("cannot run a short-lived process (with CI=true this fails): %v", err)
		}
		host, _ := os.Hostname()
		ok, err := e.st.AcquireCycleLock(t.Context(), e.id, "killed-holder", cmd.Process.Pid, host, e.clock.Now().Add(time.Hour))
		if err != nil || !ok {
			t.Fatalf("AcquireCycleLock = %v, %v", ok, err)
		}
		e.runWant(store.OutcomeSucceeded)
	})
}
