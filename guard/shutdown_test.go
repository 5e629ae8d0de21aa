package guard

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// A scheduler shutting down abandons at once a cycle that is still reading
// (its grace period is an hour here): nothing is recorded, the lease is
// free, no cycle starts afterwards, and the next cycle runs in full.
func TestShutdownAbandonsReadingCycle(t *testing.T) {
	t.Parallel()
	e := newLDIFEnv(t, newDirectory(3), defaultBasics)
	reading := make(chan struct{}, 1)
	e.eng.Open = func(c *store.Configuration, o SourceOptions) (Source, error) {
		src, err := OpenSource(c, o)
		if err != nil {
			return nil, err
		}
		return &funcSource{Source: src, read: func(ctx context.Context, bases []string, fn func(*Entry) error) error {
			reading <- struct{}{}
			<-ctx.Done() // a source that takes its time
			return ctx.Err()
		}}, nil
	}
	sched := &Scheduler{Engine: e.eng, Grace: time.Hour, Phases: TrackPhases(e.eng)}
	if !sched.Trigger(e.id, TriggerManual) {
		t.Fatal("Trigger refused")
	}
	<-reading
	if got := sched.Phases.Phase(e.id); got != "reading" {
		t.Errorf("phase = %q, want reading", got)
	}
	sched.Shutdown() // returns once the cycle has rolled back, not after an hour
	if sched.Trigger(e.id, TriggerManual) {
		t.Error("a cycle was started after shutdown")
	}
	if _, err := e.st.LastCycle(t.Context(), e.id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("last cycle after an abandoned one: %v; want none recorded", err)
	}
	if _, err := e.st.ActiveCycleLock(t.Context(), e.id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cycle lease after shutdown: %v; want it released", err)
	}
	e.eng.Open = nil
	if c := e.runWant(store.OutcomeSucceeded); c.Creates == 0 {
		t.Errorf("the next cycle: %+v; want the objects created", c)
	}
}
