package guard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/syncguard/syncguard/store"
)

// The guard's rules, all here; the store records what they decide:
//
//   - A cycle's plan is quarantined when its deletions reach one of the
//     limits in force (Limits, Decide); nothing of it is applied, its
//     deletions are staged, and a mail goes to the notification address.
//   - A plan that would delete the objects of a scope OU the source no
//     longer has (store.CauseScopeOUGone) is quarantined whatever the
//     limits, prevention off included: an OU that vanishes is as likely an
//     OU moved, or hidden from the bind account by a permission changed,
//     as one deleted on purpose, and such cycles were Failed before (they
//     deleted nothing): turning prevention off never made them delete.
//   - While a quarantine is pending, every cycle is held (decideCycle):
//     nothing is applied, and only the staged deletes of objects back in
//     scope are released. No digest lets a cycle skip that look.
//   - Only an admin ends a quarantine: Allow deletes applies exactly its
//     staged deletes, Restart sync discards them; either says which
//     quarantine it is about, and one that is no longer pending changes
//     nothing (Conflict, worded by staleDecision). Both say what runs next
//     (Resolution): a cycle at once.
//   - The status follows: Delete threshold exceeded while a quarantine is
//     pending, whatever the cycles do (store.nextStatus records it).

// Verdict is what the guard lets a cycle do with its plan.
type Verdict int

// The verdicts.
const (
	// Apply: every change of the plan is applied.
	Apply Verdict = iota
	// Quarantine: a limit was reached; the deletions are staged and
	// nothing is applied. The cycle becomes the pending quarantine.
	Quarantine
	// Hold: a quarantine is pending; nothing is applied, and the staged
	// deletes of objects back in scope are released.
	Hold
)

// Limit kinds: what a limit counts. The accidental deletion threshold
// counts every deleted object; the limits of SPEC section 9 (users,
// groups, memberships, percent) join it here, each counted by Plan.count.
const LimitAll = "all"

// Limit is one of the guard's limits on a cycle.
type Limit struct {
	Kind  string // LimitAll
	Limit int    // a cycle whose count reaches it is quarantined
}

// LimitCheck is a limit and what one plan counts against it.
type LimitCheck struct {
	Limit
	Count   int
	Reached bool
}

// Limits returns the limits in force under b: none while prevention is off.
func Limits(b store.Basics) []Limit {
	if !b.Prevent || b.Threshold <= 0 {
		return nil
	}
	return []Limit{{Kind: LimitAll, Limit: b.Threshold}}
}

// count returns what counts against a limit of kind in the plan.
func (p *Plan) count(kind string) int {
	switch kind {
	case LimitAll:
		return len(p.Deletes)
	}
	return 0
}

// Decision is the guard's verdict on a plan.
type Decision struct {
	Verdict   Verdict
	Deletions int
	Threshold int
	// ScopeGone counts the deletions of objects below a scope OU gone:
	// any quarantines.
	ScopeGone int
	// Limits are the limits in force, each with the plan's count.
	Limits []LimitCheck
	Reason string
}

// Decide applies the accidental deletion guard: a plan whose count reaches
// one of the limits in force (deletions ≥ threshold, with prevention on),
// or that deletes objects below a scope OU gone, is quarantined; any other
// plan is applied.
func Decide(p *Plan, b store.Basics) Decision {
	d := Decision{Verdict: Apply, Deletions: len(p.Deletes), Threshold: b.Threshold, ScopeGone: p.countCause(store.CauseScopeOUGone)}
	for _, l := range Limits(b) {
		c := LimitCheck{Limit: l, Count: p.count(l.Kind)}
		if c.Reached = c.Count >= l.Limit; c.Reached {
			d.Verdict = Quarantine
		}
		d.Limits = append(d.Limits, c)
	}
	if d.ScopeGone > 0 {
		d.Verdict = Quarantine
	}
	switch {
	case d.ScopeGone > 0:
		d.Reason = fmt.Sprintf("%d deletions of objects below a scope OU gone stop sync whatever the threshold (%d deletions in all)",
			d.ScopeGone, d.Deletions)
	case !b.Prevent:
		d.Reason = "prevention of accidental deletions is off"
	case d.Verdict == Quarantine:
		d.Reason = fmt.Sprintf("%d deletions reach the threshold of %d", d.Deletions, b.Threshold)
	default:
		d.Reason = fmt.Sprintf("%d deletions are below the threshold of %d", d.Deletions, b.Threshold)
	}
	return d
}

// countCause counts the plan's deletions of cause c.
func (p *Plan) countCause(c store.Cause) int {
	n := 0
	for i := range p.Deletes {
		if p.Deletes[i].Cause == c {
			n++
		}
	}
	return n
}

// goneWords says which scope OUs the source no longer has.
func goneWords(ous []string) string {
	if len(ous) == 1 {
		return fmt.Sprintf("the scope OU %s no longer exists at the source, or the bind account cannot see it", ous[0])
	}
	return fmt.Sprintf("the scope OUs %s no longer exist at the source, or the bind account cannot see them", strings.Join(ous, "; "))
}

// decideCycle is the guard's verdict on a cycle's plan: Hold while a
// quarantine is pending, else Decide's.
func decideCycle(cfg *store.Configuration, p *Plan) Decision {
	d := Decide(p, cfg.Basics)
	if cfg.QuarantineID != 0 {
		d.Verdict = Hold
	}
	return d
}

// Resolution is what an admin's decision on a quarantine did, and what
// follows it. Front ends run Next rather than decide it themselves.
type Resolution struct {
	// Count is how many staged deletes the decision applied (Allow
	// deletes) or discarded (Restart sync).
	Count int
	// Next is the trigger of the cycle to run now (TriggerAllow,
	// TriggerRestart), or "" when none should run.
	Next string
}

// AllowDeletes applies the staged deletes of the quarantine started by cycle
// quarantineID on behalf of actor; the next cycle, run at once, brings the
// status back to Healthy. A quarantine that is no longer pending changes
// nothing: the error is a Conflict that says why.
func (e *Engine) AllowDeletes(ctx context.Context, configID, quarantineID int64, actor string) (Resolution, error) {
	n, err := e.Store.AllowDeletes(ctx, store.QuarantineDecision{ConfigID: configID, Quarantine: quarantineID, Actor: actor})
	if err != nil {
		return Resolution{}, staleDecision(err, true)
	}
	e.queued(configID)
	return Resolution{Count: n, Next: TriggerAllow}, nil
}

// RestartSync discards the pending staged deletes of the quarantine started
// by cycle quarantineID (0: none was pending) and ends it; a full cycle
// follows at once. A quarantine that is no longer pending changes nothing:
// the error is a Conflict that says why.
func (e *Engine) RestartSync(ctx context.Context, configID, quarantineID int64, actor string) (Resolution, error) {
	n, err := e.Store.RestartSync(ctx, store.QuarantineDecision{ConfigID: configID, Quarantine: quarantineID, Actor: actor})
	if err != nil {
		return Resolution{}, staleDecision(err, false)
	}
	return Resolution{Count: n, Next: TriggerRestart}, nil
}

// staleDecision words, for the admin who confirmed it, why a decision on a
// quarantine no longer applies; other errors pass unchanged.
func staleDecision(err error, allow bool) error {
	var m *store.QuarantineMoved
	if !errors.As(err, &m) {
		return err
	}
	switch {
	case allow && m.Current == 0:
		return store.Errorf(store.Conflict, "there are no staged deletions left to allow for %s", m.Config)
	case allow:
		return store.Errorf(store.Conflict, "the staged deletions of cycle %d are no longer current for %s (cycle %d is)",
			m.Confirmed, m.Config, m.Current)
	case m.Current == 0:
		return store.Errorf(store.Conflict, "the staged deletions of cycle %d of %s were already handled", m.Confirmed, m.Config)
	}
	return store.Errorf(store.Conflict, "%s has new staged deletions (cycle %d) since you looked", m.Config, m.Current)
}

// QuarantineSubject is the subject of the email sent when the guard trips.
func QuarantineSubject(name string) string {
	return "[syncguard] Delete threshold exceeded: " + name
}

// quarantineNotice is the email a quarantine sends to the notification
// address, if there is one: how many deletions against what threshold,
// where they come from, and where to decide.
func (e *Engine) quarantineNotice(cfg *store.Configuration, plan *Plan, d Decision) *store.Notification {
	if cfg.Basics.Email == "" {
		return nil
	}
	n := &store.Notification{To: cfg.Basics.Email}
	n.Subject, n.Body = e.quarantineMail(cfg, plan, d)
	return n
}

// quarantineMail words the email of a quarantine.
func (e *Engine) quarantineMail(cfg *store.Configuration, plan *Plan, d Decision) (subject, body string) {
	byType, byOU, byCause := map[string]int{}, map[string]int{}, map[string]int{}
	for _, del := range plan.Deletes {
		byType[del.Type]++
		byOU[del.OU]++
		byCause[string(del.Cause)]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "syncguard stopped synchronizing %q: this cycle would delete %d objects from the target directory,\n", cfg.Name, d.Deletions)
	if d.ScopeGone > 0 {
		fmt.Fprintf(&b, "%d of them because %s.\n", d.ScopeGone, goneWords(plan.Gone))
		b.WriteString("An OU that vanishes stops sync whatever the threshold: moved, or hidden by a changed permission, its objects are not gone.\n\n")
	} else {
		fmt.Fprintf(&b, "which reaches the accidental deletion threshold of %d.\n\n", d.Threshold)
	}
	b.WriteString("Nothing was changed. The deletions are staged, and sync stays stopped until an admin decides.\n\n")
	b.WriteString("Staged deletions by cause:\n")
	for _, c := range topCounts(byCause, len(byCause)) {
		fmt.Fprintf(&b, "  %6d  %s\n", c.N, c.Label)
	}
	b.WriteString("\nStaged deletions by object type:\n")
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
	b.WriteString("\n" + e.holdNotice(cfg))
	fmt.Fprintf(&b, "Review them, then choose Allow deletes or Restart sync:\n%s\n", e.StatusURL(cfg.ID))
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
