package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A staged change is stored once: its provisioning log entry (a
// StagedDelete, or a StagedUpdate holding the member links a group would
// lose) is the staged row, with its fate on it. Pending rows belong to the
// configuration's pending quarantine (its cycle) and to no other cycle, so
// every query of them is a walk of that cycle's entries (log_config_cycle);
// the quarantine's cycle counts them (cycles.pending), so that pages never
// count a million rows.

// Staged states (the fate of a staged change).
const (
	StagedPending   = "pending"
	StagedApplied   = "allowed"
	StagedDiscarded = "discarded"
)

// Cause says why a cycle would delete an object (SPEC section 9): every
// staged delete has one, from a closed set (the database refuses others).
type Cause string

// The causes.
const (
	// CauseDeleted: the source no longer has the object (the default
	// when nothing more precise is known).
	CauseDeleted Cause = "deleted at the source"
	// CauseMovedOut: the object is at the source, outside every in-scope OU.
	CauseMovedOut Cause = "moved out of scope"
	// CauseScopeChanged: an admin removed the object's OU from the scope.
	CauseScopeChanged Cause = "scope changed"
	// CauseScopeOUGone: an in-scope OU no longer exists at the source
	// (deleted, moved, or hidden from the bind account).
	CauseScopeOUGone Cause = "scope OU gone"
	// CauseNotSynced: the object is still in scope but no longer a user or
	// a group syncguard syncs (its object classes changed).
	CauseNotSynced Cause = "no longer a user or group"
)

// Causes lists every cause.
var Causes = []Cause{CauseDeleted, CauseMovedOut, CauseScopeChanged, CauseScopeOUGone, CauseNotSynced}

// Valid reports whether c is one of Causes.
func (c Cause) Valid() bool { return slices.Contains(Causes, c) }

// StagedDelete is a deletion a cycle would make: what the guard stages
// when it stops the cycle, and what planning lists.
type StagedDelete struct {
	Anchor string
	Type   string
	DN     string
	Name   string
	OU     string // the parent of DN: where the object was
	Cause  Cause  // why it would be deleted; "" is CauseDeleted
	// Detail says more of the cause: where the object is now, who took
	// its OU out of the scope and when.
	Detail string
}

// StagedMembers is a group that stays but would lose member links: with
// a membership limit, the guard stages it too (a StagedUpdate).
type StagedMembers struct {
	Anchor, Type, DN, Name, OU string
	Removed                    []string // anchors of the members it loses
	Detail                     string   // the removed members, in words
}

// Staged is a staged change as stored: a StagedDelete or a StagedUpdate
// entry of the provisioning log, with its fate.
type Staged struct {
	StagedDelete
	ID       int64 // its log entry
	ConfigID int64
	CycleID  int64
	Action   string   // ActionStagedDelete or ActionStagedUpdate
	Members  []string // StagedUpdate: the anchors of the members it removes
	// State is the fate: StagedPending, StagedApplied (allowed) or
	// StagedDiscarded; Reason, for a discarded one, says why.
	State     string
	Reason    string
	DecidedBy string
	DecidedAt time.Time
}

// Count is a label and how many.
type Count struct {
	Label string
	N     int
}

// stage writes a Quarantine cycle's staged changes, pending: its
// deletions cause by cause (each cause's entries share everything but
// their object), then its groups' member removals.
func stage(ctx context.Context, tx *sql.Tx, c *Cycle, q *Quarantine) error {
	const head = `INSERT INTO provisioning_log (config_id, cycle_id, time, action, status, staged, fate, cause,
		object_type, name, dn, anchor, ou, details`
	fixed := func(action string, cause Cause) []any {
		return []any{c.ConfigID, c.ID, ms(q.Log.Time), action, LogStaged, 1, StagedPending, string(cause)}
	}
	byCause := map[Cause]int{}
	for i := range q.Staged {
		if q.Staged[i].Cause == "" {
			q.Staged[i].Cause = CauseDeleted
		}
		byCause[q.Staged[i].Cause]++
	}
	for _, cause := range Causes {
		if byCause[cause] == 0 {
			continue
		}
		b := newFixedBatchInsert(ctx, tx, head+`)`, fixed(ActionStagedDelete, cause), 6)
		for i := range q.Staged {
			if d := &q.Staged[i]; d.Cause == cause {
				if err := b.add(d.Type, d.Name, d.DN, d.Anchor, d.OU, d.Detail); err != nil {
					return err
				}
			}
		}
		if err := b.flush(); err != nil {
			return err
		}
	}
	b := newFixedBatchInsert(ctx, tx, head+`, members)`, fixed(ActionStagedUpdate, ""), 7)
	for i := range q.Members {
		m := &q.Members[i]
		members, err := json.Marshal(m.Removed)
		if err != nil {
			return err
		}
		if err := b.add(m.Type, m.Name, m.DN, m.Anchor, m.OU, m.Detail, string(members)); err != nil {
			return err
		}
	}
	if err := b.flush(); err != nil {
		return err
	}
	c.Pending, c.PendingUpdates = len(q.Staged)+len(q.Members), len(q.Members)
	_, err := tx.ExecContext(ctx, `UPDATE cycles SET pending = ?, pending_updates = ? WHERE id = ?`, c.Pending, c.PendingUpdates, c.ID)
	return err
}

// discardReturned discards the pending staged deletes of the given anchors
// (objects back in scope) of the pending quarantine. When none is left
// pending, the quarantine ends: nothing is left to decide.
func discardReturned(ctx context.Context, tx *sql.Tx, c *Cycle, quarantine int64, anchors []string) (ended bool, err error) {
	if len(anchors) == 0 || quarantine == 0 {
		return false, nil
	}
	list, err := json.Marshal(anchors)
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE provisioning_log SET fate = 'discarded', fate_reason = 'returned to scope',
		decided_by = 'syncguard', decided_at = ? WHERE config_id = ? AND cycle_id = ? AND staged = 1 AND action = 'StagedDelete'
		AND fate = 'pending' AND anchor IN (SELECT value FROM json_each(?))`, ms(c.FinishedAt), c.ConfigID, quarantine, string(list))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return settle(ctx, tx, c.ConfigID, quarantine, decided{n: int(n)}, &AuditEvent{Time: c.FinishedAt, Actor: "syncguard"})
}

// decided counts staged changes of a quarantine decided: n in all, of
// them updates groups' member removals, and allowed allowed.
type decided struct{ n, updates, allowed int }

// settle counts staged changes of a quarantine decided and, when none is
// left pending, ends it: the resolution says how (allowed when any was
// allowed, restarted by Restart sync, released when every object came
// back), by whom (e's actor) and when.
func settle(ctx context.Context, tx *sql.Tx, configID, quarantine int64, d decided, e *AuditEvent) (ended bool, err error) {
	// Who allowed the last part is who decided it, even when the rest came
	// back into scope later (the release is syncguard's own doing).
	var pending, allowedSoFar int
	if err := tx.QueryRowContext(ctx, `UPDATE cycles SET pending = max(pending - ?, 0),
		pending_updates = max(pending_updates - ?, 0), allowed = allowed + ?,
		resolved_by = CASE WHEN ? > 0 THEN ? ELSE resolved_by END, resolved_at = CASE WHEN ? > 0 THEN ? ELSE resolved_at END
		WHERE id = ? RETURNING pending, allowed`,
		d.n, d.updates, d.allowed, d.allowed, e.Actor, d.allowed, ms(e.Time), quarantine).Scan(&pending, &allowedSoFar); err != nil {
		return false, err
	}
	if pending > 0 {
		return false, nil
	}
	resolution := "released"
	switch {
	case allowedSoFar > 0:
		resolution = "allowed"
	case e.Action == auditRestarted:
		resolution = "restarted"
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cycles SET resolution = ?,
		resolved_by = CASE WHEN resolution = '' AND ? = 'allowed' AND resolved_by <> '' THEN resolved_by ELSE ? END,
		resolved_at = CASE WHEN resolution = '' AND ? = 'allowed' AND resolved_at <> 0 THEN resolved_at ELSE ? END
		WHERE id = ?`, resolution, resolution, e.Actor, resolution, ms(e.Time), quarantine); err != nil {
		return false, err
	}
	// The status leaves "quarantined" until the next cycle says more, and
	// the generation moves: a cycle planned before must plan again.
	_, err = tx.ExecContext(ctx, `UPDATE configurations SET quarantine_cycle_id = 0,
		status = CASE WHEN status = 'quarantined' THEN 'healthy' ELSE status END,
		reminded_at = 0, generation = generation + 1 WHERE id = ?`, configID)
	return true, err
}

// StagedFilter selects a part of a quarantine's staged changes; its
// fields intersect, and the zero filter selects them all. A membership
// removal (StagedUpdate) has no cause: a filter by cause leaves it out.
type StagedFilter struct {
	OUs     []string // the OU the object was in, as planning spelled it
	Type    string   // "user" or "group"
	Cause   Cause
	Anchors []string
	// Except leaves out these anchors (objects back in scope, say).
	Except []string
}

// IsZero reports whether f selects everything.
func (f StagedFilter) IsZero() bool {
	return len(f.OUs) == 0 && f.Type == "" && f.Cause == "" && len(f.Anchors) == 0 && len(f.Except) == 0
}

// where is f as SQL conditions on the log's columns, with their arguments.
func (f StagedFilter) where() (string, []any, error) {
	var conds []string
	var args []any
	list := func(col, not string, vals []string) error {
		b, err := json.Marshal(vals)
		conds, args = append(conds, col+not+` IN (SELECT value FROM json_each(?))`), append(args, string(b))
		return err
	}
	if len(f.OUs) > 0 {
		if err := list("ou", "", f.OUs); err != nil {
			return "", nil, err
		}
	}
	if f.Type != "" {
		conds, args = append(conds, "object_type = ?"), append(args, f.Type)
	}
	if f.Cause != "" {
		conds, args = append(conds, "cause = ?"), append(args, string(f.Cause))
	}
	if len(f.Anchors) > 0 {
		if err := list("anchor", "", f.Anchors); err != nil {
			return "", nil, err
		}
	}
	if len(f.Except) > 0 {
		if err := list("anchor", " NOT", f.Except); err != nil {
			return "", nil, err
		}
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " AND " + strings.Join(conds, " AND "), args, nil
}

// StagedQuery selects staged changes of one quarantine (its cycle).
type StagedQuery struct {
	ConfigID, CycleID int64
	State             string // "" = every state
	Filter            StagedFilter
	// ByName orders by name (then DN) rather than by DN.
	ByName bool
	Offset int
	Limit  int
}

const stagedColumns = `id, config_id, cycle_id, action, anchor, object_type, dn, name, ou, cause, details, members, fate,
	fate_reason, decided_by, decided_at`

// StagedChanges returns the staged changes q selects.
func (s *Store) StagedChanges(ctx context.Context, q StagedQuery) ([]Staged, error) {
	cond, args, err := q.Filter.where()
	if err != nil {
		return nil, fmt.Errorf("store: staged changes: %w", err)
	}
	order := "dn"
	if q.ByName {
		order = "name COLLATE NOCASE, dn"
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	args = append([]any{q.ConfigID, q.CycleID, q.State, q.State}, args...)
	rows, err := s.r.QueryContext(ctx, `SELECT `+stagedColumns+` FROM provisioning_log
		WHERE config_id = ? AND cycle_id = ? AND staged = 1 AND action IN ('StagedDelete', 'StagedUpdate')
		AND (? = '' OR fate = ?)`+cond+` ORDER BY `+order+` LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, fmt.Errorf("store: staged changes: %w", err)
	}
	defer rows.Close()
	var out []Staged
	for rows.Next() {
		d, err := scanStaged(rows)
		if err != nil {
			return nil, fmt.Errorf("store: staged changes: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func scanStaged(row scanner) (Staged, error) {
	var d Staged
	var members string
	var at int64
	if err := row.Scan(&d.ID, &d.ConfigID, &d.CycleID, &d.Action, &d.Anchor, &d.Type, &d.DN, &d.Name, &d.OU, &d.Cause,
		&d.Detail, &members, &d.State, &d.Reason, &d.DecidedBy, &at); err != nil {
		return d, err
	}
	d.DecidedAt = fromMS(at)
	if members != "" {
		if err := json.Unmarshal([]byte(members), &d.Members); err != nil {
			return d, fmt.Errorf("members of %s: %w", d.DN, err)
		}
	}
	return d, nil
}

// StagedDeletes returns up to limit staged changes of a cycle in state (all
// states when empty), ordered by DN.
func (s *Store) StagedDeletes(ctx context.Context, configID, cycleID int64, state string, limit int) ([]Staged, error) {
	return s.StagedChanges(ctx, StagedQuery{ConfigID: configID, CycleID: cycleID, State: state, Limit: limit})
}

// StagedSummary counts a cycle's staged changes in state by object type and by OU.
func (s *Store) StagedSummary(ctx context.Context, configID, cycleID int64, state string) (total int, byType, byOU []Count, err error) {
	f := StagedCountQuery{ConfigID: configID, CycleID: cycleID, State: state}
	if byType, err = s.StagedCounts(ctx, f, "type"); err != nil {
		return 0, nil, nil, err
	}
	if byOU, err = s.StagedCounts(ctx, f, "ou"); err != nil {
		return 0, nil, nil, err
	}
	for _, c := range byType {
		total += c.N
	}
	return total, byType, byOU, nil
}

// StagedByCause counts a cycle's staged deletes in state by cause, most first.
func (s *Store) StagedByCause(ctx context.Context, configID, cycleID int64, state string) ([]Count, error) {
	return s.StagedCounts(ctx, StagedCountQuery{ConfigID: configID, CycleID: cycleID, State: state}, "cause")
}

// StagedCountQuery selects the staged changes StagedCounts counts.
type StagedCountQuery struct {
	ConfigID, CycleID int64
	State             string
	Filter            StagedFilter
	// Deletes counts only deletions (StagedDelete), not member removals.
	Deletes bool
}

// stagedCountColumns are what StagedCounts may group by.
var stagedCountColumns = map[string]string{"type": "object_type", "ou": "ou", "cause": "cause", "action": "action",
	"all": "''"}

// StagedCounts counts the staged changes q selects by "type", "ou",
// "cause", "action" or "all" (one count, labelled ""), most first.
func (s *Store) StagedCounts(ctx context.Context, q StagedCountQuery, by string) ([]Count, error) {
	col, ok := stagedCountColumns[by]
	if !ok {
		return nil, fmt.Errorf("store: staged counts by %q", by)
	}
	cond, args, err := q.Filter.where()
	if err != nil {
		return nil, fmt.Errorf("store: staged counts: %w", err)
	}
	actions := `('StagedDelete', 'StagedUpdate')`
	if q.Deletes || by == "cause" {
		actions = `('StagedDelete')`
	}
	args = append([]any{q.ConfigID, q.CycleID, q.State, q.State}, args...)
	rows, err := s.r.QueryContext(ctx, `SELECT `+col+`, count(*) FROM provisioning_log
		WHERE config_id = ? AND cycle_id = ? AND staged = 1 AND action IN `+actions+` AND (? = '' OR fate = ?)`+cond+`
		GROUP BY 1 ORDER BY 2 DESC, 1`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: staged counts by %s: %w", by, err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Label, &c.N); err != nil {
			return nil, fmt.Errorf("store: staged counts by %s: %w", by, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PendingStaged returns how many staged deletes of a configuration are
// pending: those of its pending quarantine.
func (s *Store) PendingStaged(ctx context.Context, configID int64) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT coalesce((SELECT c.pending - c.pending_updates FROM configurations f JOIN cycles c
		ON c.id = f.quarantine_cycle_id WHERE f.id = ?), 0)`, configID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: pending staged deletes: %w", err)
	}
	return n, nil
}

// QuarantineDecision is an admin's decision on a configuration's pending
// quarantine, as the guard hands it to the store to record (AllowDeletes,
// RestartSync).
type QuarantineDecision struct {
	ConfigID int64
	// Quarantine is the quarantine the admin confirmed (the ID of the cycle
	// that started it; 0: none was pending, for Restart sync only). When
	// it is not the configuration's pending quarantine any more, nothing
	// changes and the error is a *QuarantineMoved.
	Quarantine int64
	Actor      string
	// Filter is the part of the quarantine Allow deletes applies (the
	// zero filter: all of it).
	Filter StagedFilter
	// Subset words the filter for the audit log ("" for all).
	Subset string
}

// QuarantineMoved is the Conflict of a decision on a quarantine that is no
// longer the pending one (already allowed, restarted, or replaced): it says
// what the store found, and the guard words it for the admin.
type QuarantineMoved struct {
	Config    string // the configuration's name
	Confirmed int64  // the quarantine the decision was about
	Current   int64  // the pending quarantine now; 0: none
}

func (e *QuarantineMoved) Error() string {
	return fmt.Sprintf("store: quarantine %d of %s is no longer pending (pending: %d)", e.Confirmed, e.Config, e.Current)
}

// Is makes a QuarantineMoved a Conflict: errors.Is(err, ErrConflict).
func (e *QuarantineMoved) Is(target error) bool { return target == ErrConflict }

// ErrNothingSelected is the Conflict of an Allow deletes whose part of the
// quarantine has nothing pending left (another admin allowed it, say).
var ErrNothingSelected = Errorf(Conflict, "none of the staged changes chosen is still pending")

// Allowed is what Allow deletes did.
type Allowed struct {
	Deleted   int  // objects deleted from the target directory
	Updated   int  // groups that lost the member links staged
	Remaining int  // staged changes still pending
	Ended     bool // none is pending: the quarantine is over
}

// RemoveMembers takes the member links to the anchors removed out of a
// group of the target directory and sets its Hash (and may set Encoded)
// as planning computes it; it returns how many links it took away. Allow
// deletes calls it for each group whose member removals it applies: the
// guard knows how members are kept.
type RemoveMembers func(o *TargetObject, removed []string) (int, error)

// audit actions of the decisions on a quarantine.
const (
	auditAllowed   = "Allowed deletes"
	auditRestarted = "Restarted sync"
)

// AllowDeletes applies exactly the pending staged changes of the confirmed
// quarantine that d.Filter selects: each deleted object leaves the target
// directory with a Delete/Success log entry, each group loses the member
// links staged with an Update/Success entry (with a target, an export is
// queued for each: it reads Pending until it is sent), the staged entries
// are marked allowed by the actor, and the event is audited — in one
// transaction.
// The quarantine ends when none is left pending. A part with nothing
// pending left is ErrNothingSelected.
func (s *Store) AllowDeletes(ctx context.Context, d QuarantineDecision, remove RemoveMembers) (Allowed, error) {
	now := s.now()
	var out Allowed
	err := s.tx(ctx, func(tx *sql.Tx) error {
		name, err := pendingQuarantine(ctx, tx, d, false)
		if err != nil {
			return err
		}
		exporting, _, err := exportingTarget(ctx, tx, d.ConfigID)
		if err != nil {
			return err
		}
		mark, err := logMark(ctx, tx)
		if err != nil {
			return err
		}
		cond, args, err := d.Filter.where()
		if err != nil {
			return err
		}
		sel := ` FROM provisioning_log WHERE config_id = ? AND cycle_id = ? AND staged = 1 AND fate = 'pending'
			AND action IN ('StagedDelete', 'StagedUpdate')` + cond
		args = append([]any{d.ConfigID, d.Quarantine}, args...)
		deletes, updates, err := allowedEntries(ctx, tx, d, now, `SELECT `+stagedColumns+sel+` ORDER BY id`, args)
		if err != nil {
			return err
		}
		if len(deletes)+len(updates) == 0 {
			return ErrNothingSelected
		}
		if err := applyAllowed(ctx, tx, d, now, deletes, updates, remove); err != nil {
			return err
		}
		// With a target, exactly what was allowed is exported: the entries
		// written above (deletions, groups' member removals).
		if exporting {
			if err := queueExports(ctx, tx, d.ConfigID, mark); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE provisioning_log SET fate = 'allowed', fate_reason = 'allowed',
			decided_by = ?, decided_at = ? WHERE id IN (SELECT id`+sel+`)`, append([]any{d.Actor, ms(now)}, args...)...); err != nil {
			return err
		}
		out.Deleted, out.Updated = len(deletes), len(updates)
		n := out.Deleted + out.Updated
		e := &AuditEvent{Time: now, Actor: d.Actor, Action: auditAllowed, ConfigID: d.ConfigID, ConfigName: name,
			Details: allowWords(d, out)}
		if out.Ended, err = settle(ctx, tx, d.ConfigID, d.Quarantine, decided{n: n, updates: len(updates), allowed: n}, e); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT pending FROM cycles WHERE id = ?`, d.Quarantine).Scan(&out.Remaining); err != nil {
			return err
		}
		if out.Remaining > 0 {
			e.Details += fmt.Sprintf("; %d still pending", out.Remaining)
		}
		return addAudit(ctx, tx, e)
	})
	if err != nil {
		return Allowed{}, fmt.Errorf("store: allow deletes: %w", err)
	}
	return out, nil
}

// allowWords says in the audit log what Allow deletes applied.
func allowWords(d QuarantineDecision, a Allowed) string {
	s := fmt.Sprintf("%d deletions staged by cycle %d applied", a.Deleted, d.Quarantine)
	if a.Updated > 0 {
		s += fmt.Sprintf(", and the member removals of %d groups", a.Updated)
	}
	if d.Subset != "" {
		s += " (" + d.Subset + ")"
	}
	return s
}

// allowedEntries reads the staged changes an Allow deletes applies and
// returns the log entries it writes for them: deletions, and groups with
// the members they lose.
func allowedEntries(ctx context.Context, tx *sql.Tx, d QuarantineDecision, now time.Time, q string, args []any) (
	deletes []LogEntry, updates []Staged, err error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	by := fmt.Sprintf("staged by cycle %d, allowed by %s", d.Quarantine, d.Actor)
	for rows.Next() {
		st, err := scanStaged(rows)
		if err != nil {
			return nil, nil, err
		}
		if st.Action == ActionStagedUpdate {
			updates = append(updates, st)
			continue
		}
		deletes = append(deletes, LogEntry{Time: now, Action: ActionDelete, Status: LogSuccess, Type: st.Type,
			Name: st.Name, DN: st.DN, Anchor: st.Anchor, Cause: st.Cause, OU: st.OU, Details: "deletion " + by})
	}
	return deletes, updates, rows.Err()
}

// applyAllowed deletes the objects and removes the member links Allow
// deletes applies, and logs them. With the configuration's hold (SPEC
// section 10) the objects are held rather than deleted: their entries
// become Disable entries saying until when, and the groups that named
// them are noted before their member removals.
func applyAllowed(ctx context.Context, tx *sql.Tx, d QuarantineDecision, now time.Time, deletes []LogEntry, updates []Staged,
	remove RemoveMembers) error {
	hold, err := configHold(ctx, tx, d.ConfigID)
	if err != nil {
		return err
	}
	if err := deleteAllowed(ctx, tx, d, deletes, Hold{Since: now, For: hold}); err != nil {
		return err
	}
	if len(updates) > 0 {
		logs, err := removeMembers(ctx, tx, d, now, updates, remove)
		if err != nil {
			return err
		}
		deletes = append(deletes, logs...)
	}
	if err := recount(ctx, tx, d.ConfigID); err != nil {
		return err
	}
	return insertLog(ctx, tx, d.ConfigID, d.Quarantine, deletes)
}

// deleteAllowed deletes (or with h, holds) the objects of the allowed
// deletions logged by deletes.
func deleteAllowed(ctx context.Context, tx *sql.Tx, d QuarantineDecision, deletes []LogEntry, h Hold) error {
	if !h.On() {
		anchors := make([]string, len(deletes))
		for i := range deletes {
			anchors[i] = deletes[i].Anchor
		}
		return deleteObjects(ctx, tx, d.ConfigID, anchors)
	}
	held := make([]StagedDelete, len(deletes))
	for i := range deletes {
		e := &deletes[i]
		held[i] = StagedDelete{Anchor: e.Anchor, Type: e.Type, DN: e.DN, Name: e.Name, OU: e.OU, Cause: e.Cause}
		e.Action, e.OU = ActionDisable, ""
		e.Details += "; " + h.String()
	}
	return holdObjects(ctx, tx, d.ConfigID, d.Quarantine, held, h, d.Actor)
}

// removeMembers takes the member links staged away from their groups (a
// group deleted meanwhile is passed over) and returns their Update entries.
func removeMembers(ctx context.Context, tx *sql.Tx, d QuarantineDecision, now time.Time, updates []Staged, remove RemoveMembers) ([]LogEntry, error) {
	if remove == nil {
		return nil, errors.New("member removals staged and no way to apply them")
	}
	var objs []TargetObject
	var logs []LogEntry
	for _, u := range updates {
		o, err := scanObject(tx.QueryRowContext(ctx, `SELECT `+objectColumns+` FROM target_objects
			WHERE config_id = ? AND anchor = ?`, d.ConfigID, u.Anchor))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		n, err := remove(o, u.Members)
		if err != nil {
			return nil, err
		}
		objs = append(objs, *o)
		logs = append(logs, LogEntry{Time: now, Action: ActionUpdate, Status: LogSuccess, Type: o.Type, Name: o.Name, DN: o.DN,
			Anchor: o.Anchor, Details: fmt.Sprintf("members removed: %d; staged by cycle %d, allowed by %s", n, d.Quarantine, d.Actor)})
	}
	return logs, upsertObjects(ctx, tx, d.ConfigID, objs)
}

// RestartSync discards every pending staged change of a configuration and
// ends its quarantine, in one transaction, and returns how many it
// discarded. The confirmed quarantine may be 0 when none was pending.
func (s *Store) RestartSync(ctx context.Context, d QuarantineDecision) (int, error) {
	now := s.now()
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		name, err := pendingQuarantine(ctx, tx, d, true)
		if err != nil {
			return err
		}
		e := &AuditEvent{Time: now, Actor: d.Actor, Action: auditRestarted, ConfigID: d.ConfigID, ConfigName: name}
		if d.Quarantine != 0 {
			res, err := tx.ExecContext(ctx, `UPDATE provisioning_log SET fate = 'discarded', fate_reason = 'restart sync',
				decided_by = ?, decided_at = ? WHERE config_id = ? AND cycle_id = ? AND staged = 1 AND fate = 'pending'`,
				d.Actor, ms(now), d.ConfigID, d.Quarantine)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE cycles SET pending = 0, pending_updates = 0 WHERE id = ?`, d.Quarantine); err != nil {
				return err
			}
			if _, err := settle(ctx, tx, d.ConfigID, d.Quarantine, decided{}, e); err != nil {
				return err
			}
			e.Details = fmt.Sprintf("%d staged deletions discarded", n)
		} else {
			// Nothing staged: the full cycle that follows must plan in
			// full (no digest skip), as after a quarantine.
			if _, err := tx.ExecContext(ctx, `UPDATE configurations SET generation = generation + 1 WHERE id = ?`,
				d.ConfigID); err != nil {
				return err
			}
			e.Details = "a full cycle, nothing staged"
		}
		return addAudit(ctx, tx, e)
	})
	if err != nil {
		return 0, fmt.Errorf("store: restart sync: %w", err)
	}
	return int(n), nil
}

// pendingQuarantine checks that the decision's quarantine is the pending
// one (with orNone, that none is pending is fine when none was confirmed)
// and returns the configuration's name.
func pendingQuarantine(ctx context.Context, tx *sql.Tx, d QuarantineDecision, orNone bool) (string, error) {
	var name string
	var current int64
	if err := tx.QueryRowContext(ctx, `SELECT name, quarantine_cycle_id FROM configurations WHERE id = ?`, d.ConfigID).
		Scan(&name, &current); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", ErrNotFound
		}
		return "", err
	}
	if current != d.Quarantine || (current == 0 && !orNone) {
		return "", &QuarantineMoved{Config: name, Confirmed: d.Quarantine, Current: current}
	}
	return name, nil
}

// PendingStagedAnchors returns the anchors of the objects whose deletion
// the pending quarantine of a configuration holds.
func (s *Store) PendingStagedAnchors(ctx context.Context, configID int64) (map[string]bool, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT l.anchor FROM configurations f JOIN provisioning_log l
		ON l.config_id = f.id AND l.cycle_id = f.quarantine_cycle_id
		WHERE f.id = ? AND l.staged = 1 AND l.action = 'StagedDelete' AND l.fate = 'pending'`, configID)
	if err != nil {
		return nil, fmt.Errorf("store: pending staged anchors: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("store: pending staged anchors: %w", err)
		}
		out[a] = true
	}
	return out, rows.Err()
}
