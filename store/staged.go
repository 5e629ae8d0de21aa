package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Staged delete states.
const (
	StagedPending   = "pending"
	StagedApplied   = "applied"
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

// StagedDelete is a deletion held back by the guard.
type StagedDelete struct {
	ID        int64
	ConfigID  int64
	CycleID   int64
	Anchor    string
	Type      string
	DN        string
	Name      string
	OU        string // the parent of DN: where the object was
	Cause     Cause  // why it would be deleted; "" is CauseDeleted
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

// stage writes a Quarantine cycle's staged deletes, pending, each with its
// log entry. The entries are written cause by cause, each cause's entries
// sharing everything but their object.
func stage(ctx context.Context, tx *sql.Tx, c *Cycle, q *Quarantine) error {
	b := newFixedBatchInsert(ctx, tx, `INSERT INTO staged_deletes (config_id, cycle_id, anchor, type, dn, name, ou, cause)`,
		[]any{c.ConfigID, c.ID}, 6)
	causes := map[Cause]bool{}
	for i := range q.Staged {
		d := &q.Staged[i]
		d.ConfigID, d.CycleID, d.State = c.ConfigID, c.ID, StagedPending
		if d.Cause == "" {
			d.Cause = CauseDeleted
		}
		causes[d.Cause] = true
		if err := b.add(d.Anchor, d.Type, d.DN, d.Name, d.OU, string(d.Cause)); err != nil {
			return err
		}
	}
	if err := b.flush(); err != nil {
		return err
	}
	for _, cause := range Causes {
		if !causes[cause] {
			continue
		}
		l := q.Log
		l.Cause = cause
		if d, ok := q.Details[cause]; ok {
			l.Details = d
		}
		logs := newLogBatch(ctx, tx, c.ConfigID, c.ID, &l)
		for i := range q.Staged {
			if d := &q.Staged[i]; d.Cause == cause {
				if err := logs.add(d.Type, d.Name, d.DN, d.Anchor); err != nil {
					return err
				}
			}
		}
		if err := logs.flush(); err != nil {
			return err
		}
	}
	return nil
}

// discardReturned discards the pending staged deletes of the given anchors:
// their objects are back in scope.
func discardReturned(ctx context.Context, tx *sql.Tx, c *Cycle, anchors []string) error {
	if len(anchors) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE staged_deletes SET state = 'discarded', reason = 'returned to scope',
		decided_by = 'syncguard', decided_at = ? WHERE config_id = ? AND anchor = ? AND state = 'pending'`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, a := range anchors {
		if _, err := stmt.ExecContext(ctx, ms(c.FinishedAt), c.ConfigID, a); err != nil {
			return err
		}
	}
	return nil
}

// StagedDeletes returns up to limit staged deletes of a cycle in state (all
// states when empty), ordered by DN.
func (s *Store) StagedDeletes(ctx context.Context, configID, cycleID int64, state string, limit int) ([]StagedDelete, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, config_id, cycle_id, anchor, type, dn, name, ou, cause, state, reason,
		decided_by, decided_at FROM staged_deletes WHERE config_id = ? AND cycle_id = ? AND (? = '' OR state = ?) ORDER BY dn LIMIT ?`,
		configID, cycleID, state, state, limit)
	if err != nil {
		return nil, fmt.Errorf("store: staged deletes: %w", err)
	}
	defer rows.Close()
	var out []StagedDelete
	for rows.Next() {
		var d StagedDelete
		var at int64
		if err := rows.Scan(&d.ID, &d.ConfigID, &d.CycleID, &d.Anchor, &d.Type, &d.DN, &d.Name, &d.OU, &d.Cause, &d.State,
			&d.Reason, &d.DecidedBy, &at); err != nil {
			return nil, fmt.Errorf("store: staged deletes: %w", err)
		}
		d.DecidedAt = fromMS(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// StagedSummary counts a cycle's staged deletes in state by object type and by OU.
func (s *Store) StagedSummary(ctx context.Context, configID, cycleID int64, state string) (total int, byType, byOU []Count, err error) {
	if byType, err = s.stagedCounts(ctx, configID, cycleID, state, "type"); err != nil {
		return 0, nil, nil, err
	}
	if byOU, err = s.stagedCounts(ctx, configID, cycleID, state, "ou"); err != nil {
		return 0, nil, nil, err
	}
	for _, c := range byType {
		total += c.N
	}
	return total, byType, byOU, nil
}

// StagedByCause counts a cycle's staged deletes in state by cause, most first.
func (s *Store) StagedByCause(ctx context.Context, configID, cycleID int64, state string) ([]Count, error) {
	return s.stagedCounts(ctx, configID, cycleID, state, "cause")
}

// stagedCounts counts a cycle's staged deletes in state by the column col
// (a name of this file, never input), most first.
func (s *Store) stagedCounts(ctx context.Context, configID, cycleID int64, state, col string) ([]Count, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+col+`, count(*) FROM staged_deletes
		WHERE config_id = ? AND cycle_id = ? AND state = ? GROUP BY 1 ORDER BY 2 DESC, 1`, configID, cycleID, state)
	if err != nil {
		return nil, fmt.Errorf("store: staged deletes by %s: %w", col, err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Label, &c.N); err != nil {
			return nil, fmt.Errorf("store: staged deletes by %s: %w", col, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PendingStaged returns how many staged deletes of a configuration are pending.
func (s *Store) PendingStaged(ctx context.Context, configID int64) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM staged_deletes WHERE config_id = ? AND state = 'pending'`,
		configID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: pending staged deletes: %w", err)
	}
	return n, nil
}

// QuarantineDecision is an admin's decision on a configuration's pending
// quarantine, as the guard hands it to the store to record (AllowDeletes,
// RestartSync). A subset to allow (by OU, type, cause or object) belongs
// here too, as a filter on the staged deletes.
type QuarantineDecision struct {
	ConfigID int64
	// Quarantine is the quarantine the admin confirmed (the ID of the cycle
	// that started it; 0: none was pending, for Restart sync only). When
	// it is not the configuration's pending quarantine any more, nothing
	// changes and the error is a *QuarantineMoved.
	Quarantine int64
	Actor      string
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

// AllowDeletes applies exactly the pending staged deletes of the confirmed
// quarantine: each object leaves the target directory with a Delete/Success
// log entry (with a target, a delete export is queued: it reads Pending
// until it is sent) — or, with the configuration's hold, is held with a
// Disable entry (and export) until the hold ends — the staged deletes are marked Applied by the actor, the
// quarantine ends and the event is audited — in one transaction. It returns
// how many objects it deleted.
func (s *Store) AllowDeletes(ctx context.Context, d QuarantineDecision) (int, error) {
	now := s.now()
	var n int
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
		hold, err := configHold(ctx, tx, d.ConfigID)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT anchor, type, dn, name, ou, cause FROM staged_deletes
			WHERE config_id = ? AND cycle_id = ? AND state = 'pending' ORDER BY id`, d.ConfigID, d.Quarantine)
		if err != nil {
			return err
		}
		var entries []LogEntry
		var staged []StagedDelete
		for rows.Next() {
			var sd StagedDelete
			if err := rows.Scan(&sd.Anchor, &sd.Type, &sd.DN, &sd.Name, &sd.OU, &sd.Cause); err != nil {
				rows.Close()
				return err
			}
			staged = append(staged, sd)
			entries = append(entries, LogEntry{Time: now, Action: ActionDelete, Status: LogSuccess, Type: sd.Type,
				Name: sd.Name, DN: sd.DN, Anchor: sd.Anchor, Cause: sd.Cause,
				Details: fmt.Sprintf("deletion staged by cycle %d, allowed by %s", d.Quarantine, d.Actor)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		n = len(entries)
		if err := applyAllowed(ctx, tx, d, staged, entries, Hold{Since: now, For: hold}); err != nil {
			return err
		}
		if err := recount(ctx, tx, d.ConfigID); err != nil {
			return err
		}
		if err := insertLog(ctx, tx, d.ConfigID, d.Quarantine, entries); err != nil {
			return err
		}
		if exporting {
			if err := queueExports(ctx, tx, d.ConfigID, mark); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE staged_deletes SET state = 'applied', reason = 'allowed',
			decided_by = ?, decided_at = ? WHERE config_id = ? AND cycle_id = ? AND state = 'pending'`,
			d.Actor, ms(now), d.ConfigID, d.Quarantine); err != nil {
			return err
		}
		return endQuarantine(ctx, tx, &AuditEvent{Time: now, Actor: d.Actor, Action: "Allowed deletes", ConfigID: d.ConfigID,
			ConfigName: name, Details: fmt.Sprintf("%d deletions staged by cycle %d applied", n, d.Quarantine)})
	})
	if err != nil {
		return 0, fmt.Errorf("store: allow deletes: %w", err)
	}
	return n, nil
}

// applyAllowed applies the allowed deletions of staged (logged by entries,
// one each): deleted, or with a hold, held (their entries become Disable
// entries saying until when).
func applyAllowed(ctx context.Context, tx *sql.Tx, d QuarantineDecision, staged []StagedDelete, entries []LogEntry, h Hold) error {
	if !h.On() {
		anchors := make([]string, len(staged))
		for i := range staged {
			anchors[i] = staged[i].Anchor
		}
		return deleteObjects(ctx, tx, d.ConfigID, anchors)
	}
	for i := range entries {
		entries[i].Action = ActionDisable
		entries[i].Details += "; " + h.String()
	}
	return holdObjects(ctx, tx, d.ConfigID, d.Quarantine, staged, h, d.Actor)
}

// RestartSync discards every pending staged delete of a configuration and
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
		res, err := tx.ExecContext(ctx, `UPDATE staged_deletes SET state = 'discarded', reason = 'restart sync',
			decided_by = ?, decided_at = ? WHERE config_id = ? AND state = 'pending'`, d.Actor, ms(now), d.ConfigID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		return endQuarantine(ctx, tx, &AuditEvent{Time: now, Actor: d.Actor, Action: "Restarted sync", ConfigID: d.ConfigID,
			ConfigName: name, Details: fmt.Sprintf("%d staged deletions discarded", n)})
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

// endQuarantine records the end of a configuration's quarantine, with the
// admin's decision in the audit log. The status leaves "quarantined" until
// the next cycle says more, and the generation moves: a cycle planned
// before must plan again.
func endQuarantine(ctx context.Context, tx *sql.Tx, e *AuditEvent) error {
	if _, err := tx.ExecContext(ctx, `UPDATE configurations SET quarantine_cycle_id = 0,
		status = CASE WHEN status = 'quarantined' THEN 'healthy' ELSE status END,
		generation = generation + 1 WHERE id = ?`, e.ConfigID); err != nil {
		return err
	}
	return addAudit(ctx, tx, e)
}

// PendingStagedAnchors returns the anchors of a configuration's pending staged deletes.
func (s *Store) PendingStagedAnchors(ctx context.Context, configID int64) (map[string]bool, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT anchor FROM staged_deletes WHERE config_id = ? AND state = 'pending'`, configID)
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
