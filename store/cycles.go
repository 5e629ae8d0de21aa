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

// Cycle outcomes.
const (
	OutcomeSucceeded   = "Succeeded"
	OutcomeQuarantined = "Quarantined"
	OutcomeFailed      = "Failed"
)

// Cycle is one synchronization run of a configuration.
type Cycle struct {
	ID            int64
	ConfigID      int64
	Trigger       string // "schedule", "manual", "restart", "allow", "start"
	Outcome       string
	Read          int
	Creates       int
	Updates       int
	Deletes       int
	StagedDeletes int
	Failures      int
	Discarded     int // staged deletes discarded because their object returned to scope
	Threshold     int // the threshold in force for this cycle
	Error         string
	StartedAt     time.Time
	FinishedAt    time.Time
}

// CycleChanges is everything one cycle writes. ApplyCycle writes it in one
// transaction: all of it or none of it.
type CycleChanges struct {
	Cycle Cycle
	// Generation is the configuration generation the cycle planned against;
	// if it moved (Allow deletes, Restart sync, another cycle), nothing is
	// written and ApplyCycle returns ErrConflict.
	Generation int64
	// AgentID is the agent that ran the cycle.
	AgentID int64
	Upserts []TargetObject // creates and updates, applied
	// Stream, when set, hands over more objects to upsert without holding
	// them all in memory, each logged as StreamLog (required) says, its
	// type, name, DN and anchor filled in from the object; they are
	// written before Upserts and Log.
	Stream    func(put func(o *TargetObject) error) error
	StreamLog *LogEntry
	Deletes   []string   // anchors deleted from the target
	Log       []LogEntry // ConfigID and CycleID are filled in
	// Stage holds the deletions staged by the guard; when non-empty this
	// cycle becomes the configuration's current quarantine.
	Stage []StagedDelete
	// StageLog, when set, is the log entry written for each of Stage (its
	// type, name, DN and anchor filled in from the staged delete), after Log.
	StageLog *LogEntry
	// Discard lists anchors whose pending staged delete returned to scope.
	Discard []string
	Notify  *Notification // queued with the cycle, if any
	// Digest, on a Succeeded cycle, fingerprints the source the cycle
	// made the target equal to; it is kept for the next cycle.
	Digest *SourceDigest
	// KeepDigest, on a Succeeded cycle that changed nothing because the
	// source matched the stored digest, carries that digest over.
	KeepDigest bool
}

// ApplyCycle records a cycle and its changes in one transaction and sets the
// configuration's status from the outcome; it returns the new cycle's ID.
// A Failed cycle carries no changes and is recorded whatever the generation.
// While a quarantine is pending the status stays quarantined whatever the
// outcome: only Allow deletes and Restart sync end it.
func (s *Store) ApplyCycle(ctx context.Context, ch *CycleChanges) (int64, error) {
	c := &ch.Cycle
	if (ch.Digest != nil || ch.KeepDigest) && (c.Outcome != OutcomeSucceeded || len(ch.Stage) > 0) {
		return 0, errors.New("store: apply cycle: only a cycle that made the target equal to its source has a digest")
	}
	if c.Outcome == OutcomeFailed && (ch.Stream != nil || len(ch.Upserts) > 0 || len(ch.Deletes) > 0 || len(ch.Stage) > 0 || len(ch.Discard) > 0) {
		return 0, errors.New("store: apply cycle: a failed cycle changes nothing")
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var gen, quarantine int64
		if err := tx.QueryRowContext(ctx, `SELECT generation, quarantine_cycle_id FROM configurations WHERE id = ?`,
			c.ConfigID).Scan(&gen, &quarantine); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if c.Outcome != OutcomeFailed && gen != ch.Generation {
			return Errorf(Conflict, "the configuration changed while the cycle ran (allow deletes, restart or another cycle)")
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO cycles (config_id, trigger, outcome, read_count, creates, updates,
			deletes, staged_deletes, failures, discarded, threshold, error, started_at, finished_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ConfigID, c.Trigger, c.Outcome, c.Read, c.Creates, c.Updates, c.Deletes, c.StagedDeletes, c.Failures,
			c.Discarded, c.Threshold, c.Error, ms(c.StartedAt), ms(c.FinishedAt))
		if err != nil {
			return err
		}
		if c.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		if ch.Stream != nil {
			if ch.StreamLog == nil {
				return errors.New("a stream of objects without its log entry")
			}
			if err := applyStream(ctx, tx, c.ConfigID, c.ID, ch.Stream, ch.StreamLog); err != nil {
				return err
			}
		}
		if err := applyObjects(ctx, tx, c.ConfigID, ch.Upserts, ch.Deletes); err != nil {
			return err
		}
		if ch.Stream != nil || len(ch.Upserts) > 0 || len(ch.Deletes) > 0 {
			if err := recount(ctx, tx, c.ConfigID); err != nil {
				return err
			}
		}
		if err := insertLog(ctx, tx, c.ConfigID, c.ID, ch.Log); err != nil {
			return err
		}
		now := ms(c.FinishedAt)
		if len(ch.Discard) > 0 {
			stmt, err := tx.PrepareContext(ctx, `UPDATE staged_deletes SET state = 'discarded', reason = 'returned to scope',
				decided_by = 'syncguard', decided_at = ? WHERE config_id = ? AND anchor = ? AND state = 'pending'`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for _, a := range ch.Discard {
				if _, err := stmt.ExecContext(ctx, now, c.ConfigID, a); err != nil {
					return err
				}
			}
		}
		if len(ch.Stage) > 0 {
			// A new quarantine supersedes whatever was still pending.
			if _, err := tx.ExecContext(ctx, `UPDATE staged_deletes SET state = 'discarded',
				reason = 'superseded by cycle ' || ?, decided_by = 'syncguard', decided_at = ?
				WHERE config_id = ? AND state = 'pending'`, c.ID, now, c.ConfigID); err != nil {
				return err
			}
			if err := insertStaged(ctx, tx, c.ConfigID, c.ID, ch.Stage); err != nil {
				return err
			}
			if ch.StageLog != nil {
				b := newLogBatch(ctx, tx, c.ConfigID, c.ID, ch.StageLog)
				for i := range ch.Stage {
					d := &ch.Stage[i]
					if err := b.add(d.Type, d.Name, d.DN, d.Anchor); err != nil {
						return err
					}
				}
				if err := b.flush(); err != nil {
					return err
				}
			}
			quarantine = c.ID
		}
		status, statusErr := StatusHealthy, ""
		switch {
		case quarantine != 0:
			status = StatusQuarantined
		case c.Outcome == OutcomeFailed:
			status, statusErr = StatusError, c.Error
		}
		bump := int64(1)
		if c.Outcome == OutcomeFailed {
			bump = 0
		}
		if _, err := tx.ExecContext(ctx, `UPDATE configurations SET status = ?, status_error = ?, quarantine_cycle_id = ?,
			generation = generation + ?, agent_id = coalesce(nullif(?, 0), agent_id) WHERE id = ?`,
			status, statusErr, quarantine, bump, ch.AgentID, c.ConfigID); err != nil {
			return err
		}
		if quarantine == 0 {
			if err := writeDigest(ctx, tx, c.ConfigID, gen+bump, ch); err != nil {
				return err
			}
		}
		// The cycle ends when its changes are written, not when planning ended.
		if fin := s.now(); fin.After(c.FinishedAt) {
			c.FinishedAt = fin
			if _, err := tx.ExecContext(ctx, `UPDATE cycles SET finished_at = ? WHERE id = ?`, ms(fin), c.ID); err != nil {
				return err
			}
		}
		if ch.Notify != nil {
			ch.Notify.ConfigID, ch.Notify.CycleID = c.ConfigID, c.ID
			if err := insertNotification(ctx, tx, ch.Notify, c.FinishedAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: apply cycle: %w", err)
	}
	return c.ID, nil
}

const upsertTail = `ON CONFLICT (config_id, anchor) DO UPDATE SET type = excluded.type, dn = excluded.dn,
	name = excluded.name, attributes = excluded.attributes, hash = excluded.hash`

// applyStream upserts the objects of stream, each with its log entry.
func applyStream(ctx context.Context, tx *sql.Tx, configID, cycleID int64, stream func(put func(*TargetObject) error) error, l *LogEntry) error {
	objs := newBatchInsert(ctx, tx, `INSERT INTO target_objects (config_id, anchor, type, dn, name, attributes, hash)`, upsertTail, 7)
	logs := newLogBatch(ctx, tx, configID, cycleID, l)
	err := stream(func(o *TargetObject) error {
		attrs := o.Encoded
		if attrs == "" {
			enc, err := json.Marshal(o.Attributes)
			if err != nil {
				return fmt.Errorf("attributes of %s: %w", o.DN, err)
			}
			attrs = string(enc)
		}
		if err := objs.add(configID, o.Anchor, o.Type, o.DN, o.Name, attrs, o.Hash); err != nil {
			return err
		}
		return logs.add(o.Type, o.Name, o.DN, o.Anchor)
	})
	return errors.Join(err, objs.flush(), logs.flush())
}

// newLogBatch inserts log entries that differ from l only in their object
// (type, name, DN, anchor: what add takes).
func newLogBatch(ctx context.Context, tx *sql.Tx, configID, cycleID int64, l *LogEntry) *batchInsert {
	return newFixedBatchInsert(ctx, tx, `INSERT INTO provisioning_log (config_id, cycle_id, time, action, status, details,
		object_type, name, dn, anchor)`, []any{configID, cycleID, ms(l.Time), l.Action, l.Status, l.Details}, 4)
}

func applyObjects(ctx context.Context, tx *sql.Tx, configID int64, upserts []TargetObject, deletes []string) error {
	if len(upserts) > 0 {
		b := newBatchInsert(ctx, tx, `INSERT INTO target_objects (config_id, anchor, type, dn, name, attributes, hash)`, upsertTail, 7)
		// In anchor order: the target directory is keyed by anchor, and
		// anchors (GUIDs, UUIDs) come in random order; sorted, a first
		// cycle appends to the B-tree instead of touching pages all over
		// a table far larger than the page cache.
		order := make([]int32, len(upserts))
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int { return strings.Compare(upserts[a].Anchor, upserts[b].Anchor) })
		for _, i := range order {
			o := &upserts[i]
			attrs := o.Encoded
			if attrs == "" {
				enc, err := json.Marshal(o.Attributes)
				if err != nil {
					return fmt.Errorf("attributes of %s: %w", o.DN, err)
				}
				attrs = string(enc)
			}
			if err := b.add(configID, o.Anchor, o.Type, o.DN, o.Name, attrs, o.Hash); err != nil {
				return err
			}
		}
		if err := b.flush(); err != nil {
			return err
		}
	}
	if len(deletes) > 0 {
		var full *sql.Stmt
		defer func() {
			if full != nil {
				full.Close()
			}
		}()
		args := make([]any, 0, batchRows+1)
		for len(deletes) > 0 {
			part := deletes[:min(batchRows, len(deletes))]
			deletes = deletes[len(part):]
			args = append(args[:0], configID)
			for _, a := range part {
				args = append(args, a)
			}
			q := `DELETE FROM target_objects WHERE config_id = ? AND anchor IN (?` + strings.Repeat(", ?", len(part)-1) + `)`
			var err error
			switch {
			case len(part) < batchRows:
				_, err = tx.ExecContext(ctx, q, args...)
			case full == nil:
				if full, err = tx.PrepareContext(ctx, q); err == nil {
					_, err = full.ExecContext(ctx, args...)
				}
			default:
				_, err = full.ExecContext(ctx, args...)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

const cycleColumns = `id, config_id, trigger, outcome, read_count, creates, updates, deletes, staged_deletes,
	failures, discarded, threshold, error, started_at, finished_at`

func scanCycle(row scanner) (*Cycle, error) {
	var c Cycle
	var started, finished int64
	if err := row.Scan(&c.ID, &c.ConfigID, &c.Trigger, &c.Outcome, &c.Read, &c.Creates, &c.Updates, &c.Deletes,
		&c.StagedDeletes, &c.Failures, &c.Discarded, &c.Threshold, &c.Error, &started, &finished); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	c.StartedAt, c.FinishedAt = fromMS(started), fromMS(finished)
	return &c, nil
}

// Cycle returns one cycle of a configuration, or ErrNotFound.
func (s *Store) Cycle(ctx context.Context, configID, id int64) (*Cycle, error) {
	c, err := scanCycle(s.r.QueryRowContext(ctx, `SELECT `+cycleColumns+` FROM cycles WHERE config_id = ? AND id = ?`, configID, id))
	if err != nil {
		return nil, fmt.Errorf("store: cycle %d: %w", id, err)
	}
	return c, nil
}

// Cycles returns the most recent cycles of a configuration, newest first.
func (s *Store) Cycles(ctx context.Context, configID int64, limit int) ([]*Cycle, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+cycleColumns+` FROM cycles WHERE config_id = ? ORDER BY id DESC LIMIT ?`, configID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: cycles: %w", err)
	}
	defer rows.Close()
	var out []*Cycle
	for rows.Next() {
		c, err := scanCycle(rows)
		if err != nil {
			return nil, fmt.Errorf("store: cycles: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// LastCycle returns a configuration's newest cycle, or ErrNotFound.
func (s *Store) LastCycle(ctx context.Context, configID int64) (*Cycle, error) {
	cs, err := s.Cycles(ctx, configID, 1)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("store: last cycle of %d: %w", configID, ErrNotFound)
	}
	return cs[0], nil
}
