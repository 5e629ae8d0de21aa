package guard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/syncguard/syncguard/store"
)

// cycleRun is one cycle as it goes: the configuration as the cycle read it,
// the record it builds, and how it reads the source.
type cycleRun struct {
	cfg  *store.Configuration
	rec  store.Cycle
	prog *Progress
	// Set by openSource.
	src         Source
	scope       []string // normalized
	bases       []string // the scope DNs not below another: what is searched
	fingerprint string   // the settings that decide a plan (digestFingerprint)
	// removals are scope removals not saved yet (a preview of a scope
	// edit), newest first: the cause of deletions names them.
	removals []store.ScopeRemoval
}

// cycle runs one pass over a configuration while RunCycle holds its lease:
// the cycle ends early when the source gave exactly the records of the last
// one; otherwise it reads the source and plans, the guard decides, and the
// store applies what the decision lets through.
// With replan, a plan gone stale before it was applied returns errReplan
// rather than a Failed cycle.
func (e *Engine) cycle(ctx context.Context, configID int64, trigger string, prog *Progress, replan bool) (*store.Cycle, error) {
	run, err := e.startCycle(ctx, configID, trigger, prog)
	if err != nil {
		return nil, err
	}
	if err := e.openSource(run); err != nil {
		return e.fail(ctx, run, err)
	}
	rctx, cancel := e.readContext(ctx)
	defer cancel()
	if digest, same, err := e.sourceUnchanged(rctx, run); err != nil {
		return e.fail(ctx, run, err)
	} else if same {
		return e.recordUnchanged(ctx, run, digest, replan)
	}
	plan, digest, err := e.readAndPlan(rctx, run)
	if errors.Is(err, store.ErrConflict) && replan {
		return nil, errReplan
	}
	if err != nil {
		return e.fail(ctx, run, err)
	}
	defer plan.Close()
	decision := decideCycle(run.cfg, plan)
	if decision.Verdict == Quarantine {
		e.explain(rctx, run, plan)
	}
	return e.apply(ctx, run, plan, decision, digest, replan)
}

// explain gives the deletions of a plan their causes where the source
// read only the scope (Locator): a quarantine says why each object goes.
// A source that cannot be searched leaves them "deleted at the source".
func (e *Engine) explain(ctx context.Context, run *cycleRun, plan *Plan) {
	l, ok := run.src.(Locator)
	if !ok {
		return
	}
	if err := plan.Explain(ctx, l.Locate); err != nil {
		e.log().Warn("could not look up where the deleted objects went", "config", run.cfg.Name, "err", err)
	}
}

// startCycle reads the configuration and starts the cycle's record.
func (e *Engine) startCycle(ctx context.Context, configID int64, trigger string, prog *Progress) (*cycleRun, error) {
	cfg, err := e.Store.Configuration(ctx, configID)
	if err != nil {
		return nil, err
	}
	return &cycleRun{cfg: cfg, prog: prog, rec: store.Cycle{ConfigID: cfg.ID, Trigger: trigger, StartedAt: e.Store.Now(),
		Threshold: cfg.Basics.Threshold}}, nil
}

// openSource normalizes the scope and opens the source.
func (e *Engine) openSource(run *cycleRun) error {
	cfg := run.cfg
	scope, err := NormalizeScope(cfg.EffectiveScope())
	if err != nil {
		return err
	}
	if len(scope) == 0 {
		return errors.New("no scope: set a base DN or at least one in-scope OU")
	}
	open := e.Open
	if open == nil {
		open = OpenSource
	}
	if run.src, err = open(cfg, e.Source); err != nil {
		return err
	}
	run.scope, run.bases = scope, searchBases(cfg.EffectiveScope(), scope)
	run.fingerprint = digestFingerprint(cfg, scope, run.bases)
	return nil
}

// readContext bounds reading the source (CycleTimeout).
func (e *Engine) readContext(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := e.CycleTimeout
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	return context.WithTimeoutCause(ctx, timeout, fmt.Errorf("the cycle took longer than %s", timeout))
}

// readAndPlan reads the source and plans against the target directory. It
// also returns the digest of the records read, for the next cycle (nil when
// the source gives no fingerprints).
func (e *Engine) readAndPlan(ctx context.Context, run *cycleRun) (*Plan, *store.SourceDigest, error) {
	cfg := run.cfg
	index, err := e.Store.TargetHashes(ctx, cfg.ID)
	if err != nil {
		return nil, nil, err
	}
	pending := map[string]bool{}
	if cfg.QuarantineID != 0 {
		if pending, err = e.Store.PendingStagedAnchors(ctx, cfg.ID); err != nil {
			return nil, nil, err
		}
	}
	p := NewPlanner(run.scope, index, pending, run.prog)
	removals, err := e.Store.ScopeRemovals(ctx, cfg.ID)
	if err != nil {
		return nil, nil, err
	}
	p.ScopeHistory(append(run.removals, removals...))
	if err := p.SpoolCreates(); err != nil {
		return nil, nil, err
	}
	var sums recordSums
	pipe := newPipeline(p.Add)
	err = run.src.Read(ctx, run.bases, sums.wrap(pipe.Add))
	var gone *ScopeGoneError
	if errors.As(err, &gone) {
		err = nil
	}
	if perr := pipe.Close(); err == nil {
		err = perr
	}
	if err == nil && gone != nil {
		e.log().Warn("scope OU not found at the source", "config", cfg.Name, "ous", gone.Bases)
		err = p.ScopeGone(gone.Bases)
	}
	if err != nil {
		p.plan.Close()
		return nil, nil, readError(ctx, err)
	}
	run.prog.Phase.Store("planning")
	plan, err := p.Finish(ctx, func(ctx context.Context, anchors []string, member func(string) bool, fn func(string, store.IndexEntry)) error {
		return e.Store.TargetIndexOf(ctx, cfg.ID, anchors, member, fn)
	}, func(ctx context.Context, anchors []string) (map[string]*store.TargetObject, error) {
		return e.Store.TargetObjectsByAnchor(ctx, cfg.ID, anchors)
	})
	if err != nil {
		p.plan.Close()
		return nil, nil, err
	}
	return plan, sums.digest(run.fingerprint, plan.InScope), nil
}

// apply records the cycle with what the guard's decision lets through of
// the plan: the store writes each kind of changes in its own steps.
func (e *Engine) apply(ctx context.Context, run *cycleRun, plan *Plan, decision Decision, digest *store.SourceDigest, replan bool) (*store.Cycle, error) {
	run.prog.Phase.Store("applying")
	run.rec.Read = plan.InScope
	now := e.Store.Now()
	w := &store.CycleWrite{Cycle: run.rec}
	switch decision.Verdict {
	case Hold:
		w.Cycle.Discarded = len(plan.Returned)
		w.Changes = store.Held{Returned: plan.Returned}
	case Quarantine:
		w.Cycle.StagedDeletes = len(plan.Deletes)
		w.Cycle.Limits, w.Cycle.MembershipRemovals = decision.Limits, plan.MembershipRemovals
		w.Changes = stagedChanges(run.cfg, plan, now)
		w.Notify = e.quarantineNotice(run.cfg, plan, decision)
	default:
		w.Cycle.Creates, w.Cycle.Updates, w.Cycle.Deletes = plan.NumCreates(), len(plan.Updates), len(plan.Deletes)
		w.Cycle.Limits, w.Cycle.MembershipRemovals = decision.Limits, plan.MembershipRemovals
		w.Changes = appliedChanges(plan, decision, digest, store.Hold{Since: now, For: run.cfg.Basics.Hold})
	}
	return e.record(ctx, run, w, replan)
}

// appliedChanges is what a plan the guard let through writes: its objects,
// their log entries and the digest of the source it makes the target equal
// to. With a hold (SPEC section 10), its deletions are held (Disable
// entries) rather than applied.
func appliedChanges(plan *Plan, d Decision, digest *store.SourceDigest, hold store.Hold) store.Applied {
	now := hold.Since
	ch := store.Applied{Digest: digest, Upserts: make([]store.TargetObject, 0, len(plan.Updates)),
		Log: make([]store.LogEntry, 0, len(plan.Updates)+len(plan.Deletes))}
	if plan.NumCreates() > 0 {
		// Creates stream from the plan's spool into the transaction.
		ch.Creates = plan.creates()
		ch.CreateLog = store.LogEntry{Time: now, Action: store.ActionCreate, Status: store.LogSuccess, Details: "created"}
	}
	for _, c := range plan.Updates {
		if c.Reanchored != "" {
			ch.Reanchors = append(ch.Reanchors, store.Reanchor{From: c.Reanchored, To: c.Object.Anchor})
		}
		ch.Upserts = append(ch.Upserts, c.Object)
		ch.Log = append(ch.Log, store.LogEntry{Time: now, Action: store.ActionUpdate, Status: store.LogSuccess,
			Type: c.Object.Type, Name: c.Object.Name, DN: c.Object.DN, Anchor: c.Object.Anchor, Details: c.Details})
	}
	action, held := store.ActionDelete, ""
	if hold.On() {
		action, held = store.ActionDisable, "; "+hold.String()
		ch.Holds, ch.Hold = plan.Deletes, hold
	}
	for _, del := range plan.Deletes {
		if !hold.On() {
			ch.Deletes = append(ch.Deletes, del.Anchor)
		}
		ch.Log = append(ch.Log, store.LogEntry{Time: now, Action: action, Status: store.LogSuccess,
			Type: del.Type, Name: del.Name, DN: del.DN, Anchor: del.Anchor, Cause: del.Cause,
			Details: "no longer in scope: " + string(del.Cause) + "; " + d.Reason + held})
	}
	return ch
}

// stagedChanges is what a plan the guard stopped writes: its deletions,
// staged, and with a membership limit the member links its groups would
// lose. The store writes each staged change as its own log entry: a
// quarantine of a million objects builds no list of entries.
func stagedChanges(cfg *store.Configuration, plan *Plan, now time.Time) store.Quarantine {
	q := store.Quarantine{Staged: plan.Deletes, Log: store.LogEntry{Time: now}}
	if cfg.Basics.Prevent && cfg.Basics.ThresholdMemberships > 0 {
		q.Members = plan.Members
	}
	return q
}

// record writes the cycle. A plan gone stale (Allow deletes or Restart sync
// landed meanwhile) is errReplan with replan, else a Failed cycle.
func (e *Engine) record(ctx context.Context, run *cycleRun, w *store.CycleWrite, replan bool) (*store.Cycle, error) {
	w.Generation, w.AgentID = run.cfg.Generation, e.AgentID
	w.Cycle.FinishedAt = e.Store.Now()
	e.noticeRecovery(ctx, run.cfg, w)
	if _, err := e.Store.ApplyCycle(ctx, w); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		if replan {
			return nil, errReplan
		}
		return e.fail(ctx, run, err)
	}
	c := w.Cycle
	if c.Outcome == store.OutcomeSucceeded {
		e.queued(c.ConfigID)
	}
	run.prog.Applied.Store(int64(c.Creates + c.Updates + c.Deletes + c.StagedDeletes))
	source := "read in full"
	if c.SourceUnchanged {
		source = "unchanged"
	}
	e.log().Info("cycle", "config", run.cfg.Name, "cycle", c.ID, "outcome", c.Outcome, "source", source, "read", c.Read,
		"creates", c.Creates, "updates", c.Updates, "deletes", c.Deletes, "staged", c.StagedDeletes)
	return &c, nil
}

// fail records a Failed cycle: nothing else changes.
func (e *Engine) fail(ctx context.Context, run *cycleRun, cause error) (*store.Cycle, error) {
	rec := run.rec
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		// Stopped from outside (shutdown, Ctrl-C): the cycle rolls back and
		// leaves no trace; the source did not fail.
		return nil, fmt.Errorf("cycle of configuration %d cancelled: %w", rec.ConfigID, context.Canceled)
	}
	if reason := context.Cause(ctx); reason != nil && ctx.Err() != nil {
		// The lease was lost: say so rather than only what it broke.
		cause = fmt.Errorf("%w (%v)", cause, reason)
	}
	rec.Error = cause.Error()
	rec.Creates, rec.Updates, rec.Deletes, rec.StagedDeletes, rec.Discarded = 0, 0, 0, 0, 0
	// What it had read before it failed (entries of the source, or
	// records compared with the last digest), not nothing.
	rec.Read = int(run.prog.Read.Load())
	rec.FinishedAt = e.Store.Now()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	w := &store.CycleWrite{Cycle: rec, Changes: store.Failed{}, AgentID: e.AgentID}
	w.Notify = e.failingNotice(wctx, run.cfg, &w.Cycle)
	if _, err := e.Store.ApplyCycle(wctx, w); err != nil {
		return nil, err
	}
	// The same line as a cycle that succeeds, at warning level.
	e.log().Warn("cycle", "config", run.cfg.Name, "cycle", w.Cycle.ID, "outcome", w.Cycle.Outcome, "read", rec.Read,
		"creates", 0, "updates", 0, "deletes", 0, "staged", 0, "err", rec.Error)
	return &w.Cycle, nil
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
