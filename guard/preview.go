package guard

import (
	"context"
	"slices"

	"github.com/syncguard/syncguard/store"
)

// PreviewSample is how many of the deletions a preview lists.
const PreviewSample = 20

// Preview is what a cycle of a configuration would do now, and whether
// the guard would stop it (SPEC section 9): the source is read and
// planned as a cycle does, and nothing is applied or recorded.
type Preview struct {
	Creates, Updates, Deletes int
	MembershipRemovals        int
	// WouldQuarantine: the guard would stop the cycle (a limit reached,
	// or a scope OU gone). Held: a quarantine is pending, so the cycle
	// would apply nothing whatever it plans.
	WouldQuarantine bool
	Held            bool
	Reason          string
	// Limits lists every kind of limit with what the configuration sets
	// and what the plan counts (LimitsOf).
	Limits []LimitCheck
	// The deletions by cause, by the OU each object was in (in the target
	// directory) and by type, and a sample of them by DN.
	DeletesByCause, DeletesByOU, DeletesByType map[string]int
	Sample                                     []store.StagedDelete
	// Gone are the scope OUs the source does not have.
	Gone []string
}

// Preview reads the source of cfg (as it is, or as an admin is about to
// save it) and plans against its target directory, applying and
// recording nothing: no lease, no cycle, no log entry. pending are the
// scope removals the edit would record (newest first), for the causes of
// the deletions it would bring. A source that fails is the error.
func (e *Engine) Preview(ctx context.Context, cfg *store.Configuration, pending []store.ScopeRemoval) (*Preview, error) {
	run := &cycleRun{cfg: cfg, prog: &Progress{}, removals: pending}
	if err := e.openSource(run); err != nil {
		return nil, err
	}
	rctx, cancel := e.readContext(ctx)
	defer cancel()
	plan, _, err := e.readAndPlan(rctx, run)
	if err != nil {
		return nil, err
	}
	defer plan.Close()
	if len(plan.Deletes) > 0 {
		e.explain(rctx, run, plan)
	}
	d := Decide(plan, cfg.Basics)
	p := &Preview{Creates: plan.NumCreates(), Updates: len(plan.Updates), Deletes: len(plan.Deletes),
		MembershipRemovals: plan.MembershipRemovals, WouldQuarantine: d.Verdict == Quarantine, Held: cfg.QuarantineID != 0,
		Reason: d.Reason, Limits: LimitsOf(cfg.Basics, plan.Counts()), Gone: plan.Gone,
		DeletesByCause: map[string]int{}, DeletesByOU: map[string]int{}, DeletesByType: map[string]int{}}
	for _, del := range plan.Deletes {
		p.DeletesByCause[string(del.Cause)]++
		p.DeletesByOU[del.OU]++
		p.DeletesByType[del.Type]++
	}
	p.Sample = slices.Clone(plan.Deletes[:min(PreviewSample, len(plan.Deletes))])
	return p, nil
}

// ScopeEdit lists the OUs an edit takes out of a configuration's scope,
// as store.ScopeRemovals will record them once it is saved, for a preview
// of it: actor is who edits, and the time is zero (not saved).
func ScopeEdit(old, edited *store.Configuration, actor string) []store.ScopeRemoval {
	var out []store.ScopeRemoval
	keep, _ := NormalizeScope(edited.EffectiveScope())
	for _, ou := range old.EffectiveScope() {
		if norm, err := NormalizeDN(ou); err == nil && !slices.Contains(keep, norm) {
			out = append(out, store.ScopeRemoval{OU: ou, Actor: actor + " (this edit, not saved)"})
		}
	}
	return out
}
