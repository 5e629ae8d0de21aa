package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Staged delete states.
const (
	StagedPending   = "pending"
	StagedApplied   = "applied"
	StagedDiscarded = "discarded"
)

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
// log entry. A quarantine is staged only when none is pending (the guard
// holds cycles while one is), so nothing else is pending: any staged delete
// still pending would be a leftover, and is discarded as superseded.
func stage(ctx context.Context, tx *sql.Tx, c *Cycle, q *Quarantine) error {
	if _, err := tx.ExecContext(ctx, `UPDATE staged_deletes SET state = 'discarded',
		reason = 'superseded by cycle ' || ?, decided_by = 'syncguard', decided_at = ?
		WHERE config_id = ? AND state = 'pending'`, c.ID, ms(c.FinishedAt), c.ConfigID); err != nil {
		return err
	}
	b := newFixedBatchInsert(ctx, tx, `INSERT INTO staged_deletes (config_id, cycle_id, anchor, type, dn, name, ou)`,
		[]any{c.ConfigID, c.ID}, 5)
	logs := newLogBatch(ctx, tx, c.ConfigID, c.ID, &q.Log)
	for i := range q.Staged {
		d := &q.Staged[i]
		d.ConfigID, d.CycleID, d.State = c.ConfigID, c.ID, StagedPending
		if err := b.add(d.Anchor, d.Type, d.DN, d.Name, d.OU); err != nil {
			return err
		}
	}
	if err := b.flush(); err != nil {
		return err
	}
	for i := range q.Staged {
		d := &q.Staged[i]
		if err := logs.add(d.Type, d.Name, d.DN, d.Anchor); err != nil {
			return err
		}
	}
	return logs.flush()
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
	rows, err := s.r.QueryContext(ctx, `SELECT id, config_id, cycle_id, anchor, type, dn, name, ou, state, reason, decided_by, decided_at
		FROM staged_deletes WHERE config_id = ? AND cycle_id = ? AND (? = '' OR state = ?) ORDER BY dn LIMIT ?`,
		configID, cycleID, state, state, limit)
	if err != nil {
		return nil, fmt.Errorf("store: staged deletes: %w", err)
	}
	defer rows.Close()
	var out []StagedDelete
	for rows.Next() {
		var d StagedDelete
		var at int64
		if err := rows.Scan(&d.ID, &d.ConfigID, &d.CycleID, &d.Anchor, &d.Type, &d.DN, &d.Name, &d.OU, &d.State,
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
	q := func(col string) ([]Count, error) {
		rows, err := s.r.QueryContext(ctx, `SELECT `+col+`, count(*) FROM staged_deletes
			WHERE config_id = ? AND cycle_id = ? AND state = ? GROUP BY 1 ORDER BY 2 DESC, 1`, configID, cycleID, state)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []Count
		for rows.Next() {
			var c Count
			if err := rows.Scan(&c.Label, &c.N); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, rows.Err()
	}
	if byType, err = q("type"); err != nil {
		return 0, nil, nil, fmt.Errorf("store: staged summary: %w", err)
	}
	if byOU, err = q("ou"); err != nil {
		return 0, nil, nil, fmt.Errorf("store: staged summary: %w", err)
	}
	for _, c := range byType {
		total += c.N
	}
	return total, byType, byOU, nil
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

// AllowDeletes applies exactly the pending staged deletes of the quarantine
// started by cycle quarantineID: each object leaves the target directory with
// a Delete/Success log entry, the staged deletes are marked Applied by actor,
// the quarantine is cleared and the event audited — in one transaction. When
// quarantineID is not the configuration's current quarantine (already allowed,
// restarted or replaced) nothing changes and the error is ErrConflict.
func (s *Store) AllowDeletes(ctx context.Context, configID, quarantineID int64, actor string) (int, error) {
	now := s.now()
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		name, err := checkQuarantine(ctx, tx, configID, quarantineID)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT anchor, type, dn, name FROM staged_deletes
			WHERE config_id = ? AND cycle_id = ? AND state = 'pending' ORDER BY id`, configID, quarantineID)
		if err != nil {
			return err
		}
		var entries []LogEntry
		var anchors []string
		for rows.Next() {
			e := LogEntry{Time: now, Action: ActionDelete, Status: LogSuccess,
				Details: fmt.Sprintf("deletion staged by cycle %d, allowed by %s", quarantineID, actor)}
			if err := rows.Scan(&e.Anchor, &e.Type, &e.DN, &e.Name); err != nil {
				rows.Close()
				return err
			}
			entries, anchors = append(entries, e), append(anchors, e.Anchor)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		n = len(entries)
		if err := deleteObjects(ctx, tx, configID, anchors); err != nil {
			return err
		}
		if err := recount(ctx, tx, configID); err != nil {
			return err
		}
		if err := insertLog(ctx, tx, configID, quarantineID, entries); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE staged_deletes SET state = 'applied', reason = 'allowed',
			decided_by = ?, decided_at = ? WHERE config_id = ? AND cycle_id = ? AND state = 'pending'`,
			actor, ms(now), configID, quarantineID); err != nil {
			return err
		}
		if err := clearQuarantine(ctx, tx, configID); err != nil {
			return err
		}
		return addAudit(ctx, tx, &AuditEvent{Time: now, Actor: actor, Action: "Allowed deletes", ConfigID: configID,
			ConfigName: name, Details: fmt.Sprintf("%d deletions staged by cycle %d applied", n, quarantineID)})
	})
	if err != nil {
		return 0, fmt.Errorf("store: allow deletes: %w", err)
	}
	return n, nil
}

// RestartSync discards every pending staged delete of a configuration and
// clears its quarantine, in one transaction. quarantineID is the quarantine
// the admin confirmed (0: none was pending); if it is no longer current,
// nothing changes and the error is ErrConflict. It returns how many staged
// deletes were discarded.
func (s *Store) RestartSync(ctx context.Context, configID, quarantineID int64, actor string) (int, error) {
	now := s.now()
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		name, err := checkQuarantineOrNone(ctx, tx, configID, quarantineID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE staged_deletes SET state = 'discarded', reason = 'restart sync',
			decided_by = ?, decided_at = ? WHERE config_id = ? AND state = 'pending'`, actor, ms(now), configID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if err := clearQuarantine(ctx, tx, configID); err != nil {
			return err
		}
		return addAudit(ctx, tx, &AuditEvent{Time: now, Actor: actor, Action: "Restarted sync", ConfigID: configID,
			ConfigName: name, Details: fmt.Sprintf("%d staged deletions discarded", n)})
	})
	if err != nil {
		return 0, fmt.Errorf("store: restart sync: %w", err)
	}
	return int(n), nil
}

func checkQuarantine(ctx context.Context, tx *sql.Tx, configID, quarantineID int64) (string, error) {
	var name string
	var current int64
	if err := tx.QueryRowContext(ctx, `SELECT name, quarantine_cycle_id FROM configurations WHERE id = ?`, configID).
		Scan(&name, &current); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", ErrNotFound
		}
		return "", err
	}
	if current == 0 {
		return "", Errorf(Conflict, "there are no staged deletions left to allow for %s", name)
	}
	if current != quarantineID {
		return "", Errorf(Conflict, "the staged deletions of cycle %d are no longer current for %s (cycle %d is)",
			quarantineID, name, current)
	}
	return name, nil
}

func checkQuarantineOrNone(ctx context.Context, tx *sql.Tx, configID, quarantineID int64) (string, error) {
	var name string
	var current int64
	if err := tx.QueryRowContext(ctx, `SELECT name, quarantine_cycle_id FROM configurations WHERE id = ?`, configID).
		Scan(&name, &current); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", ErrNotFound
		}
		return "", err
	}
	if current != quarantineID {
		if current == 0 {
			return "", Errorf(Conflict, "the staged deletions of cycle %d of %s were already handled", quarantineID, name)
		}
		return "", Errorf(Conflict, "%s has new staged deletions (cycle %d) since you looked", name, current)
	}
	return name, nil
}

func clearQuarantine(ctx context.Context, tx *sql.Tx, configID int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE configurations SET quarantine_cycle_id = 0,
		status = CASE WHEN status = 'quarantined' THEN 'healthy' ELSE status END,
		generation = generation + 1 WHERE id = ?`, configID)
	return err
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
