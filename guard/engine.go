package guard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/syncguard/syncguard/store"
)

// ErrBusy is returned when a cycle of the configuration is already running,
// in this process or another one on the same database.
var ErrBusy = errors.New("a cycle is already running")

// Cycle triggers.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerRestart  = "restart"
	TriggerAllow    = "allow"
)

// Engine runs cycles and carries out the admins' decisions.
type Engine struct {
	Store   *store.Store
	AgentID int64
	// PublicURL is the portal's address, for links in notifications.
	PublicURL string
	// CycleTimeout bounds reading the source; 0 → 30 minutes.
	CycleTimeout time.Duration
	Source       SourceOptions
	Log          *slog.Logger
	// Open opens a configuration's source; nil → OpenSource.
	Open func(*store.Configuration, SourceOptions) (Source, error)
	// OnProgress, when set, is told about each running cycle's progress.
	OnProgress func(configID int64, p *Progress)
	// LeaseTTL is how long a cycle lock lasts without renewal; 0 → 30s.
	LeaseTTL time.Duration
	// Queued, when set, is told that a configuration may have exports to
	// send: after each cycle the guard let through and each Allow deletes
	// (serve wakes its Exporter with it).
	Queued func(configID int64)
}

// queued tells Queued, if set, that configID may have exports to send.
func (e *Engine) queued(configID int64) {
	if e.Queued != nil {
		e.Queued(configID)
	}
}

func (e *Engine) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// RunCycle runs one cycle of a configuration and returns its record. A
// source failure is not an error of RunCycle: the cycle is recorded as Failed
// and returned. The error is ErrBusy when another cycle holds the
// configuration, or a store error.
func (e *Engine) RunCycle(ctx context.Context, configID int64, trigger string) (*store.Cycle, error) {
	ttl := e.LeaseTTL
	if ttl == 0 {
		ttl = 30 * time.Second
	}
	holder := newHolder()
	ok, err := e.acquire(ctx, configID, holder, ttl)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrBusy
	}
	defer func() {
		// Release even if ctx was cancelled: a lease left behind would block
		// cycles until it expires.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := e.Store.ReleaseCycleLock(rctx, configID, holder); err != nil {
			e.log().Error("release cycle lock", "config", configID, "err", err)
		}
	}()
	prog := &Progress{}
	prog.Phase.Store("reading")
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		e.renew(cctx, cancel, configID, holder, ttl, prog)
	}()
	defer func() { cancel(nil); <-renewDone }()
	if e.OnProgress != nil {
		e.OnProgress(configID, prog)
		defer e.OnProgress(configID, nil)
	}
	// Allow deletes and Restart sync do not take the cycle lock: one landing
	// while this cycle plans makes ApplyCycle refuse the stale plan
	// (store.ErrConflict). That is no failure of the source, and recording it
	// as one would turn the status to Error right after the admin's decision:
	// plan again against the new state instead, a few times at most.
	// A cycle held by a quarantine that released its last staged delete
	// (every object back in scope) ended the quarantine: nothing is left
	// to decide, and the cycle runs again, for real.
	for try := 1; ; try++ {
		c, err := e.cycle(cctx, configID, trigger, prog, try < maxPlans)
		if !errors.Is(err, errReplan) && (err != nil || !e.released(cctx, c)) {
			return c, err
		}
		if err == nil {
			try = 0
		}
		prog.Read.Store(0)
		prog.Planned.Store(0)
		prog.Phase.Store("reading")
	}
}

// released reports whether c is a held cycle that ended its quarantine.
func (e *Engine) released(ctx context.Context, c *store.Cycle) bool {
	if !c.Held || c.Discarded == 0 {
		return false
	}
	cfg, err := e.Store.Configuration(ctx, c.ConfigID)
	return err == nil && cfg.QuarantineID == 0
}

// maxPlans is how many times a cycle plans when the state keeps changing
// under it; the last conflict is recorded as a Failed cycle.
const maxPlans = 3

// errReplan tells RunCycle that the cycle's plan went stale before it was
// applied and nothing was written.
var errReplan = errors.New("the configuration changed while the cycle ran")

// renew keeps the lease alive and publishes progress until ctx ends; when
// the lease is lost, it cancels the cycle.
func (e *Engine) renew(ctx context.Context, cancel context.CancelCauseFunc, configID int64, holder string, ttl time.Duration, prog *Progress) {
	every(ctx, min(ttl/6, 2*time.Second), func() bool {
		phase, _ := prog.Phase.Load().(string)
		ok, err := e.Store.RenewCycleLock(ctx, configID, holder, e.Store.Now().Add(ttl), phase,
			int(prog.Read.Load()), int(prog.Planned.Load()), int(prog.Applied.Load()))
		if err != nil && ctx.Err() == nil {
			e.log().Warn("renew cycle lock", "config", configID, "err", err)
			return true
		}
		if !ok && ctx.Err() == nil {
			cancel(errors.New("lost the cycle lock to another process"))
			return false
		}
		return true
	})
}

// every calls fn every period until ctx ends or fn returns false.
func every(ctx context.Context, period time.Duration, fn func() bool) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !fn() {
			return
		}
	}
}

func newHolder() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// StatusURL is the sync status info page of a configuration.
func (e *Engine) StatusURL(configID int64) string {
	base := strings.TrimRight(e.PublicURL, "/")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	return fmt.Sprintf("%s/configurations/%d/status", base, configID)
}
