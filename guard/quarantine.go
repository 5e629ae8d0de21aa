package guard

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// counts every deleted object (LimitAll); the other limits count deleted
// users, deleted groups, member links removed from groups that stay, and
// deletions as a whole percentage of the target directory at the cycle's
// start (Plan.count).
const (
	LimitAll         = "all"
	LimitUsers       = "users"
	LimitGroups      = "groups"
	LimitMemberships = "memberships"
	LimitPercent     = "percent"
)

// LimitKinds lists every kind of limit, in the order they are shown.
var LimitKinds = []string{LimitAll, LimitUsers, LimitGroups, LimitMemberships, LimitPercent}

// Limit is one of the guard's limits on a cycle.
type Limit struct {
	Kind  string // one of LimitKinds
	Limit int    // a cycle whose count reaches it is quarantined
}

// LimitCheck is a limit and what one plan counts against it.
type LimitCheck = store.LimitCheck

// configured returns the value b sets for a kind of limit (0: off).
func configured(b store.Basics, kind string) int {
	switch kind {
	case LimitAll:
		return b.Threshold
	case LimitUsers:
		return b.ThresholdUsers
	case LimitGroups:
		return b.ThresholdGroups
	case LimitMemberships:
		return b.ThresholdMemberships
	case LimitPercent:
		return b.ThresholdPercent
	}
	return 0
}

// Limits returns the limits in force under b, in LimitKinds order: those
// set (not 0), none while prevention is off.
func Limits(b store.Basics) []Limit {
	if !b.Prevent {
		return nil
	}
	var out []Limit
	for _, k := range LimitKinds {
		if n := configured(b, k); n > 0 {
			out = append(out, Limit{Kind: k, Limit: n})
		}
	}
	return out
}

// LimitsOf lists every kind of limit with what b sets (0: off, every
// limit while prevention is off), each with its count in counts (a
// cycle's, or a preview's) and whether that count reaches the limit set.
func LimitsOf(b store.Basics, counts []LimitCheck) []LimitCheck {
	out := make([]LimitCheck, 0, len(LimitKinds))
	for _, k := range LimitKinds {
		c := LimitCheck{Kind: k}
		if b.Prevent {
			c.Limit = configured(b, k)
		}
		for _, got := range counts {
			if got.Kind == k {
				c.Count = got.Count
			}
		}
		c.Reached = c.Limit > 0 && c.Count >= c.Limit
		out = append(out, c)
	}
	return out
}

// count returns what counts against a limit of kind in the plan.
func (p *Plan) count(kind string) int {
	switch kind {
	case LimitAll:
		return len(p.Deletes)
	case LimitUsers:
		return p.countType(TypeUser)
	case LimitGroups:
		return p.countType(TypeGroup)
	case LimitMemberships:
		return p.MembershipRemovals
	case LimitPercent:
		// The whole percentage, rounded down: it reaches P exactly when
		// deletions × 100 ≥ P × objects, and is 0 without a deletion.
		if p.TargetCount == 0 {
			return 0
		}
		return len(p.Deletes) * 100 / p.TargetCount
	}
	return 0
}

// countType counts the plan's deletions of objects of type typ.
func (p *Plan) countType(typ string) int {
	n := 0
	for i := range p.Deletes {
		if p.Deletes[i].Type == typ {
			n++
		}
	}
	return n
}

// Counts returns the plan's count against every kind of limit.
func (p *Plan) Counts() []LimitCheck {
	out := make([]LimitCheck, len(LimitKinds))
	for i, k := range LimitKinds {
		out[i] = LimitCheck{Kind: k, Count: p.count(k)}
	}
	return out
}

// Decision is the guard's verdict on a plan.
type Decision struct {
	Verdict   Verdict
	Deletions int
	Threshold int
	// ScopeGone counts the deletions of objects below a scope OU gone:
	// any quarantines.
	ScopeGone int
	// Limits are every kind of limit (LimitKinds) with what was in force
	// (0: off) and the plan's count.
	Limits []LimitCheck
	Reason string
}

// Reached returns the limits the plan reached.
func (d Decision) Reached() []LimitCheck { return reachedOf(d.Limits) }

// Decide applies the accidental deletion guard: a plan whose count reaches
// one of the limits in force (deletions ≥ threshold, with prevention on),
// or that deletes objects below a scope OU gone, is quarantined; any other
// plan is applied.
func Decide(p *Plan, b store.Basics) Decision {
	d := Decision{Verdict: Apply, Deletions: len(p.Deletes), Threshold: b.Threshold, ScopeGone: p.countCause(store.CauseScopeOUGone),
		Limits: LimitsOf(b, p.Counts())}
	if len(d.Reached()) > 0 {
		d.Verdict = Quarantine
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
		d.Reason = ReachedWords(d.Reached())
	default:
		d.Reason = fmt.Sprintf("%d deletions are below the threshold of %d", d.Deletions, b.Threshold)
		if len(Limits(b)) > 1 {
			d.Reason = fmt.Sprintf("%d deletions are below every limit", d.Deletions)
		}
	}
	return d
}

// LimitWords words one limit and its count: "60 deletions reach the
// threshold of 50", "12 users deleted (limit 10)".
func LimitWords(l LimitCheck) string {
	verb := "are below"
	if l.Reached {
		verb = "reach"
	}
	switch l.Kind {
	case LimitAll:
		return fmt.Sprintf("%d deletions %s the threshold of %d", l.Count, verb, l.Limit)
	case LimitUsers:
		return fmt.Sprintf("%d user deletions %s the limit of %d", l.Count, verb, l.Limit)
	case LimitGroups:
		return fmt.Sprintf("%d group deletions %s the limit of %d", l.Count, verb, l.Limit)
	case LimitMemberships:
		return fmt.Sprintf("%d member links removed %s the limit of %d", l.Count, verb, l.Limit)
	case LimitPercent:
		return fmt.Sprintf("deletions of %d%% of the target directory %s the limit of %d%%", l.Count, verb, l.Limit)
	}
	return fmt.Sprintf("%s: %d of %d", l.Kind, l.Count, l.Limit)
}

// ReachedWords words the limits a plan reached, joined by "and".
func ReachedWords(reached []LimitCheck) string {
	parts := make([]string, len(reached))
	for i, l := range reached {
		parts[i] = LimitWords(l)
	}
	return strings.Join(parts, " and ")
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
	// Updated is how many groups lost the member links staged (Allow
	// deletes with a membership limit).
	Updated int
	// Remaining is how many staged changes are still pending: a part
	// was allowed and sync stays stopped.
	Remaining int
	// Next is the trigger of the cycle to run now (TriggerAllow,
	// TriggerRestart), or "" when none should run.
	Next string
}

// AllowDeletes applies the staged deletes of the quarantine started by cycle
// quarantineID on behalf of actor; the next cycle, run at once, brings the
// status back to Healthy. A quarantine that is no longer pending changes
// nothing: the error is a Conflict that says why.
func (e *Engine) AllowDeletes(ctx context.Context, configID, quarantineID int64, actor string) (Resolution, error) {
	return e.AllowPart(ctx, configID, quarantineID, actor, store.StagedFilter{}, "")
}

// AllowPart applies the part of the staged changes of the quarantine
// started by cycle quarantineID that part selects (all of it: the zero
// filter), worded by subset for the audit log. The rest stays pending and
// sync stays stopped until none is; when none is left, the next cycle runs
// at once. A quarantine no longer pending, or a part with nothing pending
// left (two admins allowing it at once), changes nothing: the error is a
// Conflict that says why.
func (e *Engine) AllowPart(ctx context.Context, configID, quarantineID int64, actor string, part store.StagedFilter, subset string) (Resolution, error) {
	a, err := e.Store.AllowDeletes(ctx, store.QuarantineDecision{ConfigID: configID, Quarantine: quarantineID, Actor: actor,
		Filter: part, Subset: subset}, removeMembers)
	if errors.Is(err, store.ErrNothingSelected) && !part.IsZero() {
		return Resolution{}, store.Errorf(store.Conflict, "none of the chosen staged deletions is still pending: "+
			"another admin allowed them, or they were discarded")
	}
	if errors.Is(err, store.ErrNothingSelected) {
		return Resolution{}, store.Errorf(store.Conflict, "there are no staged deletions left to allow")
	}
	if err != nil {
		return Resolution{}, staleDecision(err, true)
	}
	e.queued(configID) // what was allowed goes to the target
	r := Resolution{Count: a.Deleted, Updated: a.Updated, Remaining: a.Remaining}
	if a.Ended {
		r.Next = TriggerAllow
	}
	return r, nil
}

// removeMembers is store.RemoveMembers as planning keeps groups: their
// members are anchors in MembersAttr, and their hash is the encoder's.
func removeMembers(o *store.TargetObject, removed []string) (int, error) {
	norm, err := NormalizeDN(o.DN)
	if err != nil {
		return 0, err
	}
	before := len(o.Attributes[MembersAttr])
	kept := slices.DeleteFunc(o.Attributes[MembersAttr], func(m string) bool { return slices.Contains(removed, m) })
	if len(kept) == 0 {
		delete(o.Attributes, MembersAttr)
	} else {
		o.Attributes[MembersAttr] = kept
	}
	o.Hash, o.Encoded = newEncoder().object(o.Type, norm, o.Attributes)
	return before - len(kept), nil
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
	fmt.Fprintf(&b, "syncguard stopped synchronizing %q: this cycle would delete %d objects from the target directory", cfg.Name, d.Deletions)
	if plan.MembershipRemovals > 0 {
		fmt.Fprintf(&b, " and remove %d member links from groups that stay", plan.MembershipRemovals)
	}
	b.WriteString(".\n")
	if d.ScopeGone > 0 {
		fmt.Fprintf(&b, "%d of the deletions because %s.\n", d.ScopeGone, goneWords(plan.Gone))
		b.WriteString("An OU that vanishes stops sync whatever the threshold: moved, or hidden by a changed permission, its objects are not gone.\n")
	}
	if reached := d.Reached(); len(reached) > 0 {
		fmt.Fprintf(&b, "The guard stopped it: %s.\n", ReachedWords(reached))
	}
	if len(byCause) > 0 {
		fmt.Fprintf(&b, "Mainly: %s.\n", mainCauses(byCause))
	}
	b.WriteString("\nNothing was changed. The deletions are staged, and sync stays stopped until an admin decides.\n\n")
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

// mainCauses words the two most frequent causes of deletions, with how
// many each.
func mainCauses(byCause map[string]int) string {
	top := topCounts(byCause, 2)
	parts := make([]string, len(top))
	for i, c := range top {
		parts[i] = fmt.Sprintf("%s (%d)", c.Label, c.N)
	}
	return strings.Join(parts, ", then ")
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

// BackInScope returns the anchors of the pending staged deletes of cfg's
// quarantine that the scope holds again: deleted because an admin took
// their OU out of the scope, which then changed back after the guard
// stopped sync. Allowed, they would be deleted and created again by the
// next cycle.
func BackInScope(ctx context.Context, st *store.Store, cfg *store.Configuration) ([]string, error) {
	if cfg.QuarantineID == 0 {
		return nil, nil
	}
	scope, err := NormalizeScope(cfg.EffectiveScope())
	if err != nil {
		return nil, err
	}
	staged, err := st.StagedChanges(ctx, store.StagedQuery{ConfigID: cfg.ID, CycleID: cfg.QuarantineID, State: store.StagedPending,
		Filter: store.StagedFilter{Cause: store.CauseScopeChanged}, Limit: 1 << 30})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range staged {
		if norm, err := NormalizeDN(d.DN); err == nil && InScope(norm, scope) {
			out = append(out, d.Anchor)
		}
	}
	return out, nil
}

// StoppedBy words why the guard stopped the cycle q: the limits it
// reached, or, when it reached none, a scope OU gone. A quarantine of a
// syncguard that kept no limits says its deletions and threshold.
func StoppedBy(q *store.Cycle) string {
	if reached := reachedOf(q.Limits); len(reached) > 0 {
		return ReachedWords(reached)
	}
	if len(q.Limits) == 0 && q.Threshold > 0 && q.StagedDeletes >= q.Threshold {
		return fmt.Sprintf("%d deletions reach the threshold of %d", q.StagedDeletes, q.Threshold)
	}
	return "a scope OU is gone from the source (that stops sync whatever the limits)"
}
