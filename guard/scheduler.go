package guard

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/syncguard/syncguard/store"
)

// Scheduler runs each configuration's cycles on its interval, never two of
// one configuration at once, and none while it is quarantined. Admin
// actions trigger cycles through it too.
type Scheduler struct {
	Engine *Engine
	Log    *slog.Logger
	// Tick is how often schedules are checked; 0 → 1s.
	Tick time.Duration
	// Grace is how long a running cycle may finish after shutdown starts
	// before it is cancelled (and rolled back); 0 → 30s.
	Grace time.Duration
	// Phases, when set, tells which cycles are applying when shutdown
	// starts: the others are abandoned at once rather than waited for.
	Phases *Phases

	mu       sync.Mutex
	running  map[int64]bool
	stopping bool
	wg       sync.WaitGroup
	ctx      context.Context // cycles' context: outlives Run's by Grace
	stop     context.CancelFunc
	soft     context.Context // ends when shutdown starts
	stopSoft context.CancelFunc
}

func (s *Scheduler) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Scheduler) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		s.running = map[int64]bool{}
		s.ctx, s.stop = context.WithCancel(context.Background())
		s.soft, s.stopSoft = context.WithCancel(context.Background())
	}
}

// Run checks the schedules until ctx ends, then waits for running cycles to
// finish (cancelling them after the grace period).
func (s *Scheduler) Run(ctx context.Context) {
	s.init()
	tick := s.Tick
	if tick == 0 {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		s.startDue(ctx)
		select {
		case <-ctx.Done():
			s.Shutdown()
			return
		case <-t.C:
		}
	}
}

// Shutdown starts no more cycles and waits for the running ones,
// cancelling them once the grace period is over (with Phases, those not
// applying at once).
func (s *Scheduler) Shutdown() {
	s.init()
	grace := s.Grace
	if grace == 0 {
		grace = 30 * time.Second
	}
	s.mu.Lock()
	s.stopping = true
	for id := range s.running {
		if phase := s.Phases.Phase(id); phase == "applying" {
			s.log().Info("shutdown: letting the running cycle commit", "config_id", id, "grace", grace.String())
		} else {
			s.log().Info("shutdown: abandoning the running cycle; it has written nothing", "config_id", id, "phase", phase)
		}
	}
	s.mu.Unlock()
	s.stopSoft()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.log().Warn("cancelling running cycles after the shutdown grace period", "grace", grace)
		s.stop()
		<-done
	}
}

func (s *Scheduler) startDue(ctx context.Context) {
	st := s.Engine.Store
	cfgs, err := st.Configurations(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log().Error("scheduler: configurations", "err", err)
		}
		return
	}
	now := st.Now()
	for _, cfg := range cfgs {
		if cfg.QuarantineID != 0 {
			// Stopped until an admin acts; reminded meanwhile.
			if _, err := s.Engine.remind(ctx, cfg); err != nil && ctx.Err() == nil {
				s.log().Error("scheduler: reminder", "config", cfg.Name, "err", err)
			}
			continue
		}
		last, err := st.LastCycle(ctx, cfg.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log().Error("scheduler: last cycle", "config", cfg.Name, "err", err)
			continue
		}
		if last != nil && now.Sub(last.FinishedAt) < cfg.Interval {
			continue
		}
		s.Trigger(cfg.ID, TriggerSchedule)
	}
}

// Trigger starts a cycle of a configuration now, in the background. It
// reports false when this process is already running one, or shutting down.
func (s *Scheduler) Trigger(configID int64, trigger string) bool {
	s.init()
	s.mu.Lock()
	if s.running[configID] || s.stopping {
		s.mu.Unlock()
		return false
	}
	s.running[configID] = true
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, configID)
			s.mu.Unlock()
		}()
		ctx, cancel := s.ctx, context.CancelFunc(func() {})
		if s.Phases != nil {
			ctx, cancel = s.Phases.CycleContext(s.ctx, s.soft, configID)
		}
		defer cancel()
		_, err := s.Engine.RunCycle(ctx, configID, trigger)
		switch {
		case errors.Is(err, context.Canceled):
			s.log().Info("scheduler: cycle cancelled by shutdown; nothing was written", "config", configID)
		case errors.Is(err, ErrBusy):
			s.log().Debug("scheduler: cycle already running elsewhere", "config", configID)
		case err != nil:
			s.log().Error("scheduler: cycle", "config", configID, "err", err)
		}
	}()
	return true
}

// Running reports whether this process runs a cycle of the configuration.
func (s *Scheduler) Running(configID int64) bool {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[configID]
}

// Wait blocks until no cycle started by the scheduler is running.
func (s *Scheduler) Wait() {
	s.init()
	s.wg.Wait()
}
