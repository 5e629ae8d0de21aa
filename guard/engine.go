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
	for try := 1; ; try++ {
		c, err := e.cycle(cctx, configID, trigger, prog, try < maxPlans)
		if !errors.Is(err, errReplan) {
			return c, err
		}
		prog.Read.Store(0)
		prog.Planned.Store(0)
		prog.Phase.Store("reading")
	}
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
	t := time.NewTicker(min(ttl/6, 2*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		phase, _ := prog.Phase.Load().(string)
		ok, err := e.Store.RenewCycleLock(ctx, configID, holder, e.Store.Now().Add(ttl), phase,
			int(prog.Read.Load()), int(prog.Planned.Load()), int(prog.Applied.Load()))
		if err != nil && ctx.Err() == nil {
			e.log().Warn("renew cycle lock", "config", configID, "err", err)
			continue
		}
		if !ok && ctx.Err() == nil {
			cancel(errors.New("lost the cycle lock to another process"))
			return
		}
	}
}

func newHolder() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cycle runs one read-plan-apply pass. With replan, a plan gone stale
// before it was applied returns errReplan rather than a Failed cycle.
func (e *Engine) cycle(ctx context.Context, configID int64, trigger string, prog *Progress, replan bool) (*store.Cycle, error) {
	cfg, err := e.Store.Configuration(ctx, configID)
	if err != nil {
		return nil, err
	}
	started := e.Store.Now()
	rec := store.Cycle{ConfigID: cfg.ID, Trigger: trigger, StartedAt: started, Threshold: cfg.Basics.Threshold}
	plan, err := e.plan(ctx, cfg, prog)
	if plan != nil {
		defer plan.Close()
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && !errors.Is(cause, context.Canceled) {
			err = fmt.Errorf("%w (%v)", err, cause)
		}
		return e.fail(ctx, cfg.Name, &rec, err)
	}
	prog.Phase.Store("applying")
	ch := &store.CycleChanges{Generation: cfg.Generation, AgentID: e.AgentID}
	rec.Read = plan.InScope
	now := e.Store.Now()
	decision := Decide(plan, cfg.Basics)
	switch {
	case cfg.QuarantineID != 0:
		// While a quarantine is pending nothing is applied: the cycle only
		// releases staged deletes whose objects came back into scope.
		rec.Outcome = store.OutcomeQuarantined
		rec.Discarded = len(plan.Returned)
		ch.Discard = plan.Returned
	case decision.Quarantine:
		rec.Outcome = store.OutcomeQuarantined
		rec.StagedDeletes = len(plan.Deletes)
		ch.Stage = plan.Deletes
		// The store writes each staged delete's log entry itself: a
		// quarantine of a million objects builds no list of entries.
		ch.StageLog = &store.LogEntry{Time: now, Action: store.ActionStagedDelete, Status: store.LogStaged,
			Details: fmt.Sprintf("no longer in scope; staged: %s", decision.Reason)}
	default:
		rec.Outcome = store.OutcomeSucceeded
		rec.Creates, rec.Updates, rec.Deletes = plan.NumCreates(), len(plan.Updates), len(plan.Deletes)
		// The target is now equal to the source: the next cycle that finds
		// the same records has nothing to plan.
		switch {
		case plan.unchanged:
			ch.KeepDigest = true
		case plan.sums != nil:
			ch.Digest = &store.SourceDigest{Fingerprint: plan.fingerprint, InScope: plan.InScope, Sums: plan.sums}
		}
		// Creates stream from the plan's spool into the transaction.
		if rec.Creates > 0 {
			ch.Stream = plan.eachCreate
			ch.StreamLog = &store.LogEntry{Time: now, Action: store.ActionCreate, Status: store.LogSuccess, Details: "created"}
		}

		ch.Upserts = make([]store.TargetObject, 0, len(plan.Updates))
		ch.Log = make([]store.LogEntry, 0, len(plan.Updates)+len(plan.Deletes))
		for _, c := range plan.Updates {
			ch.Upserts = append(ch.Upserts, c.Object)
			ch.Log = append(ch.Log, store.LogEntry{Time: now, Action: store.ActionUpdate, Status: store.LogSuccess,
				Type: c.Object.Type, Name: c.Object.Name, DN: c.Object.DN, Anchor: c.Object.Anchor, Details: c.Details})
		}
		for _, d := range plan.Deletes {
			ch.Deletes = append(ch.Deletes, d.Anchor)
			ch.Log = append(ch.Log, store.LogEntry{Time: now, Action: store.ActionDelete, Status: store.LogSuccess,
				Type: d.Type, Name: d.Name, DN: d.DN, Anchor: d.Anchor, Details: "no longer in scope; " + decision.Reason})
		}
	}
	rec.FinishedAt = e.Store.Now()
	ch.Cycle = rec
	if len(ch.Stage) > 0 && cfg.Basics.Email != "" {
		ch.Notify = &store.Notification{To: cfg.Basics.Email}
		ch.Notify.Subject, ch.Notify.Body = e.quarantineMail(cfg, plan, decision)
	}
	id, err := e.Store.ApplyCycle(ctx, ch)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			if replan {
				return nil, errReplan
			}
			return e.fail(ctx, cfg.Name, &rec, err)
		}
		return nil, err
	}
	prog.Applied.Store(int64(rec.Creates + len(ch.Upserts) + len(ch.Deletes) + len(ch.Stage)))
	ch.Cycle.ID = id
	source := "read in full"
	if plan.unchanged {
		source = "unchanged"
	}
	e.log().Info("cycle", "config", cfg.Name, "cycle", id, "outcome", rec.Outcome, "source", source, "read", rec.Read,
		"creates", rec.Creates, "updates", rec.Updates, "deletes", rec.Deletes, "staged", rec.StagedDeletes)
	return &ch.Cycle, nil
}

// plan reads the source and plans against the target directory.
func (e *Engine) plan(ctx context.Context, cfg *store.Configuration, prog *Progress) (*Plan, error) {
	timeout := e.CycleTimeout
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	rctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("the cycle took longer than %s", timeout))
	defer cancel()
	scope, err := NormalizeScope(cfg.EffectiveScope())
	if err != nil {
		return nil, err
	}
	if len(scope) == 0 {
		return nil, errors.New("no scope: set a base DN or at least one in-scope OU")
	}
	open := e.Open
	if open == nil {
		open = OpenSource
	}
	src, err := open(cfg, e.Source)
	if err != nil {
		return nil, err
	}
	bases := searchBases(cfg.EffectiveScope(), scope)
	fingerprint := digestFingerprint(cfg, scope, bases)
	if f, ok := src.(fingerprinter); ok && cfg.QuarantineID == 0 {
		d, err := e.Store.SourceDigest(rctx, cfg.ID)
		if err != nil {
			return nil, err
		}
		if d != nil && d.Generation == cfg.Generation && d.Fingerprint == fingerprint {
			same, err := unchanged(rctx, f, bases, d, prog)
			if err != nil {
				return nil, readError(rctx, err)
			}
			if same {
				return &Plan{Read: len(d.Sums) / store.SumSize, InScope: d.InScope, unchanged: true}, nil
			}
			// Something changed: plan in full, from the first record.
			prog.Read.Store(0)
		}
	}
	index, err := e.Store.TargetHashes(rctx, cfg.ID)
	if err != nil {
		return nil, err
	}
	pending := map[string]bool{}
	if cfg.QuarantineID != 0 {
		if pending, err = e.Store.PendingStagedAnchors(rctx, cfg.ID); err != nil {
			return nil, err
		}
	}
	p := NewPlanner(scope, index, pending, prog)
	if err := p.SpoolCreates(); err != nil {
		return nil, err
	}
	pipe := newPipeline(p.Add)
	err = src.Read(rctx, bases, pipe.Add)
	if perr := pipe.Close(); err == nil {
		err = perr
	}
	if err != nil {
		p.plan.Close()
		return nil, readError(rctx, err)
	}
	prog.Phase.Store("planning")
	plan, err := p.Finish(rctx, func(ctx context.Context, anchors []string, member func(string) bool, fn func(string, store.IndexEntry)) error {
		return e.Store.TargetIndexOf(ctx, cfg.ID, anchors, member, fn)
	}, func(ctx context.Context, anchors []string) (map[string]*store.TargetObject, error) {
		return e.Store.TargetObjectsByAnchor(ctx, cfg.ID, anchors)
	})
	if err != nil {
		p.plan.Close()
		return nil, err
	}
	plan.fingerprint = fingerprint
	return plan, nil
}

// readError names what stopped a read of the source: the cycle's timeout
// or the loss of its lock, rather than only its symptom.
func readError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: %v", cause, err)
	}
	return err
}

// searchBases returns the scope DNs that are not below another one, so an
// LDAP source searches each subtree once.
func searchBases(raw, norm []string) []string {
	var out []string
	for i, n := range norm {
		covered := false
		for j, other := range norm {
			if i != j && InScope(n, []string{other}) && (n != other || j < i) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, raw[i])
		}
	}
	return out
}

// fail records a Failed cycle of the configuration named name: nothing
// else changes.
func (e *Engine) fail(ctx context.Context, name string, rec *store.Cycle, cause error) (*store.Cycle, error) {
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		// Stopped from outside (shutdown, Ctrl-C): the cycle rolls back and
		// leaves no trace; the source did not fail.
		return nil, fmt.Errorf("cycle of configuration %d cancelled: %w", rec.ConfigID, context.Canceled)
	}
	rec.Outcome = store.OutcomeFailed
	rec.Error = cause.Error()
	rec.Creates, rec.Updates, rec.Deletes, rec.StagedDeletes, rec.Discarded = 0, 0, 0, 0, 0
	rec.FinishedAt = e.Store.Now()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	id, err := e.Store.ApplyCycle(wctx, &store.CycleChanges{Cycle: *rec, AgentID: e.AgentID})
	if err != nil {
		return nil, err
	}
	rec.ID = id
	// The same line as a cycle that succeeds, at warning level.
	e.log().Warn("cycle", "config", name, "cycle", id, "outcome", rec.Outcome, "read", rec.Read,
		"creates", 0, "updates", 0, "deletes", 0, "staged", 0, "err", rec.Error)
	return rec, nil
}

// AllowDeletes applies the staged deletes of the quarantine started by cycle
// quarantineID on behalf of actor. A quarantine that is no longer current is
// store.ErrConflict and changes nothing.
func (e *Engine) AllowDeletes(ctx context.Context, configID, quarantineID int64, actor string) (int, error) {
	return e.Store.AllowDeletes(ctx, configID, quarantineID, actor)
}

// RestartSync discards the pending staged deletes of a configuration and
// clears its quarantine; the caller then runs a cycle.
func (e *Engine) RestartSync(ctx context.Context, configID, quarantineID int64, actor string) (int, error) {
	return e.Store.RestartSync(ctx, configID, quarantineID, actor)
}

// StatusURL is the sync status info page of a configuration.
func (e *Engine) StatusURL(configID int64) string {
	base := strings.TrimRight(e.PublicURL, "/")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	return fmt.Sprintf("%s/configurations/%d/status", base, configID)
}

// QuarantineSubject is the subject of the email sent when the guard trips.
func QuarantineSubject(name string) string {
	return "[syncguard] Delete threshold exceeded: " + name
}

func (e *Engine) quarantineMail(cfg *store.Configuration, plan *Plan, d Decision) (subject, body string) {
	byType := map[string]int{}
	byOU := map[string]int{}
	for _, del := range plan.Deletes {
		byType[del.Type]++
		byOU[del.OU]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "syncguard stopped synchronizing %q: this cycle would delete %d objects from the target directory,\n", cfg.Name, d.Deletions)
	fmt.Fprintf(&b, "which reaches the accidental deletion threshold of %d.\n\n", d.Threshold)
	b.WriteString("Nothing was changed. The deletions are staged, and sync stays stopped until an admin decides.\n\n")
	b.WriteString("Staged deletions by object type:\n")
	for _, t := range []string{TypeUser, TypeGroup} {
		if byType[t] > 0 {
			fmt.Fprintf(&b, "  %-6s %d\n", t+"s", byType[t])
		}
	}
	b.WriteString("\nWhere they come from (by OU):\n")
	for _, c := range topCounts(byOU, 10) {
		fmt.Fprintf(&b, "  %6d  %s\n", c.N, c.Label)
	}
	if len(byOU) > 10 {
		fmt.Fprintf(&b, "  … and %d more OUs\n", len(byOU)-10)
	}
	fmt.Fprintf(&b, "\nReview them, then choose Allow deletes or Restart sync:\n%s\n", e.StatusURL(cfg.ID))
	return QuarantineSubject(cfg.Name), b.String()
}

func topCounts(m map[string]int, n int) []store.Count {
	out := make([]store.Count, 0, len(m))
	for k, v := range m {
		out = append(out, store.Count{Label: k, N: v})
	}
	sortCounts(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}
