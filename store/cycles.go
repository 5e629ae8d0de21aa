package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
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
	Restores      int // held objects back in the source, restored (not counted in Creates)
	Threshold     int // the threshold in force for this cycle
	Error         string
	// SourceUnchanged: the source gave exactly the records of the stored
	// digest, so the cycle had nothing to do and planned nothing (Unchanged).
	SourceUnchanged bool
	StartedAt       time.Time
	FinishedAt      time.Time
	// Held: the cycle ran while a quarantine was pending and applied
	// nothing (Held changes); it is no quarantine of its own.
	Held bool
	// Limits are the guard's limits in force when the cycle was planned,
	// with the plan's counts (Applied and Quarantine cycles).
	Limits []LimitCheck
	// MembershipRemovals counts the member links the plan removes from
	// groups that stay.
	MembershipRemovals int
	// A quarantine's fate: its staged changes still pending and allowed,
	// and once none is pending, how it ended (Resolution: "allowed",
	// "restarted" or "released"), by whom and when.
	Pending, Allowed int
	// PendingUpdates counts the groups' member removals among Pending.
	PendingUpdates int
	Resolution     string
	ResolvedBy     string
	ResolvedAt     time.Time
}

// LimitCheck is one of the guard's limits and what a plan counts against
// it: Kind is "all" (the threshold), "users", "groups", "memberships" or
// "percent"; a plan whose Count reaches Limit is quarantined (Reached).
type LimitCheck struct {
	Kind    string `json:"kind"`
	Limit   int    `json:"limit"`
	Count   int    `json:"count"`
	Reached bool   `json:"reached"`
}

// CycleWrite is everything one cycle writes. ApplyCycle writes it in one
// transaction: all of it or none of it.
type CycleWrite struct {
	// Cycle is the cycle's record: its counts, times and error. ApplyCycle
	// sets its Outcome from Changes, its ID, and its FinishedAt to when
	// the changes were written.
	Cycle Cycle
	// Changes is what the cycle does: exactly one of Applied, Unchanged,
	// Quarantine, Held or Failed.
	Changes Changes
	// Generation is the configuration generation the cycle planned against;
	// if it moved (Allow deletes, Restart sync, another cycle), nothing is
	// written and ApplyCycle returns a Conflict. A Failed cycle is recorded
	// whatever the generation: it changes nothing.
	Generation int64
	// AgentID is the agent that ran the cycle (0: keep the configuration's).
	AgentID int64
	// Notify, when set, is queued with the cycle.
	Notify *Notification
}

// Changes is what one cycle does; its kind gives the cycle its outcome:
//
//	Applied     Succeeded    the guard let the plan through: the target is made equal to the source
//	Unchanged   Succeeded    the source gave the records of the stored digest: nothing to do
//	Quarantine  Quarantined  the guard stopped the plan: its deletions are staged, nothing is applied
//	Held        Quarantined  a quarantine is pending: nothing is applied, only returned objects released
//	Failed      Failed       the source or the plan failed: nothing changes but the status
//
// The set is closed (the method is unexported), so a cycle can never be,
// say, Failed and apply objects. A new kind of change (exports to a real
// target, a hold before deletions become final) is a field of the kind it
// belongs to and a named step of ApplyCycle.
type Changes interface{ outcome() string }

// Applied is the changes of a cycle the guard let through. The store
// writes, in this order: Creates, Reanchors, Upserts and Deletes to the
// target directory, Log, and Digest. With a target, an export is queued
// for every change logged as a Success (it reads Pending until it is sent).
type Applied struct {
	// Creates hands over the objects the cycle creates, in anchor order
	// (the target directory's key order), each logged as CreateLog says
	// with its type, name, DN and anchor filled in. ApplyCycle ranges over
	// it once inside its transaction, so it must only hand over what is at
	// hand (a plan's spool), never read a source. Nil when none.
	Creates   iter.Seq2[*TargetObject, error]
	CreateLog LogEntry
	// Reanchors give target objects the new anchor of the object
	// recreated at the source in their place (an Upsert then writes what
	// it holds now, under the new anchor).
	Reanchors []Reanchor
	Upserts   []TargetObject // objects written as they are (updates), logged in Log
	Deletes   []string       // anchors deleted from the target directory, logged in Log
	Log       []LogEntry     // ConfigID and CycleID are filled in
	// Digest fingerprints the source the target directory is now equal
	// to, for the next cycle; nil when the source gives no fingerprints.
	Digest *SourceDigest
	// Holds are deletions held rather than applied, for Hold (SPEC
	// section 10): each object leaves the target directory for the held
	// objects, with the OU it was in and its cause, until Hold ends.
	// They are logged in Log (Disable entries). A create of an object
	// still held (back in the source) restores it: its entry is a
	// Restore, and Cycle.Restores counts it.
	Holds []StagedDelete
	Hold  Hold
}

// Reanchor is a target object that keeps its place but takes another
// anchor: the object was recreated at the source (deleted, then added
// again with a new objectGUID or entryUUID).
type Reanchor struct {
	From, To string
}

// Unchanged is the changes of a cycle whose source gave exactly the records
// of the stored digest, with the target untouched since: there is nothing
// to do, and the digest holds for the new generation too.
type Unchanged struct{}

// Quarantine is the changes of a cycle the guard stopped: its deletions
// (and, with a membership limit, the member links groups would lose) are
// staged, the cycle becomes the configuration's pending quarantine, and
// nothing else of it is applied. There must be no quarantine pending.
type Quarantine struct {
	Staged  []StagedDelete
	Members []StagedMembers
	// Log is when the staged entries are written (its Time).
	Log LogEntry
}

// Held is the changes of a cycle run while a quarantine is pending: nothing
// is applied, and the pending staged deletes of Returned (anchors of objects
// back in scope) are discarded.
type Held struct {
	Returned []string
}

// Failed is the changes of a cycle that failed: none. Cycle.Error says why.
type Failed struct{}

func (Applied) outcome() string    { return OutcomeSucceeded }
func (Unchanged) outcome() string  { return OutcomeSucceeded }
func (Quarantine) outcome() string { return OutcomeQuarantined }
func (Held) outcome() string       { return OutcomeQuarantined }
func (Failed) outcome() string     { return OutcomeFailed }

// ApplyCycle records a cycle and its changes in one transaction and sets the
// configuration's status; it returns the new cycle's ID.
func (s *Store) ApplyCycle(ctx context.Context, w *CycleWrite) (int64, error) {
	if w.Changes == nil {
		return 0, errors.New("store: apply cycle: no changes (Failed when there are none)")
	}
	c := &w.Cycle
	c.Outcome = w.Changes.outcome()
	_, c.SourceUnchanged = w.Changes.(Unchanged)
	_, c.Held = w.Changes.(Held)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		gen, quarantine, err := configState(ctx, tx, c.ConfigID)
		if err != nil {
			return err
		}
		if c.Outcome != OutcomeFailed && gen != w.Generation {
			return Errorf(Conflict, "the configuration changed while the cycle ran (allow deletes, restart or another cycle)")
		}
		if err := insertCycle(ctx, tx, c); err != nil {
			return err
		}
		if quarantine, err = writeChanges(ctx, tx, c, w.Changes, quarantine); err != nil {
			return err
		}
		next, err := setStatus(ctx, tx, c, quarantine, w.AgentID)
		if err != nil {
			return err
		}
		if quarantine == 0 {
			if err := writeDigest(ctx, tx, w, next); err != nil {
				return err
			}
		}
		if err := s.finishCycle(ctx, tx, c); err != nil {
			return err
		}
		if err := countCycle(ctx, tx, c); err != nil {
			return err
		}
		return queueNotification(ctx, tx, c, w.Notify)
	})
	if err != nil {
		return 0, fmt.Errorf("store: apply cycle: %w", err)
	}
	return c.ID, nil
}

// writeChanges writes what the cycle changes and returns the pending
// quarantine after it. A cycle the guard lets through (Applied,
// Unchanged) also feeds the configuration's target, if it has one
// (exportCycle): its changes are queued, and read Pending until sent.
func writeChanges(ctx context.Context, tx *sql.Tx, c *Cycle, changes Changes, quarantine int64) (int64, error) {
	var exporting, full bool
	var mark int64
	var err error
	if c.Outcome == OutcomeSucceeded {
		if exporting, full, err = exportingTarget(ctx, tx, c.ConfigID); err != nil {
			return quarantine, err
		}
		if mark, err = logMark(ctx, tx); err != nil {
			return quarantine, err
		}
	}
	switch ch := changes.(type) {
	case Applied:
		err = applyTarget(ctx, tx, c, &ch)
	case Quarantine:
		if quarantine != 0 {
			// The guard holds every cycle while a quarantine is pending.
			return quarantine, Errorf(Conflict, "cycle %d is still pending: a new quarantine cannot replace it", quarantine)
		}
		err = stage(ctx, tx, c, &ch)
		quarantine = c.ID
	case Held:
		var ended bool
		if ended, err = discardReturned(ctx, tx, c, quarantine, ch.Returned); ended {
			quarantine = 0
		}
	}
	if err != nil {
		return quarantine, err
	}
	return quarantine, exportCycle(ctx, tx, c, exporting, full, mark)
}

// configState reads, inside a cycle's transaction, the configuration's
// generation and pending quarantine (0: none).
func configState(ctx context.Context, tx *sql.Tx, configID int64) (gen, quarantine int64, err error) {
	err = tx.QueryRowContext(ctx, `SELECT generation, quarantine_cycle_id FROM configurations WHERE id = ?`,
		configID).Scan(&gen, &quarantine)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return gen, quarantine, err
}

// insertCycle records the cycle and sets its ID.
func insertCycle(ctx context.Context, tx *sql.Tx, c *Cycle) error {
	limits, err := encodeLimits(c.Limits)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO cycles (config_id, trigger, outcome, read_count, creates, updates,
		deletes, staged_deletes, failures, discarded, threshold, error, source_unchanged, started_at, finished_at,
		held, limits, membership_removals)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ConfigID, c.Trigger, c.Outcome, c.Read, c.Creates, c.Updates, c.Deletes, c.StagedDeletes, c.Failures,
		c.Discarded, c.Threshold, c.Error, boolInt(c.SourceUnchanged), ms(c.StartedAt), ms(c.FinishedAt),
		boolInt(c.Held), limits, c.MembershipRemovals)
	if err != nil {
		return err
	}
	c.ID, err = res.LastInsertId()
	return err
}

// encodeLimits is a cycle's limits as stored: JSON, or "" for none.
func encodeLimits(l []LimitCheck) (string, error) {
	if len(l) == 0 {
		return "", nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

// applyTarget writes an Applied cycle's objects and log entries. Held
// deletions leave before the updates: a held object keeps the groups that
// name it before this cycle.
func applyTarget(ctx context.Context, tx *sql.Tx, c *Cycle, ch *Applied) error {
	if ch.Creates != nil {
		held, err := heldObjectsIndex(ctx, tx, c.ConfigID)
		if err != nil {
			return err
		}
		restored, err := createObjects(ctx, tx, c.ConfigID, c.ID, ch.Creates, &ch.CreateLog, held)
		if err != nil {
			return err
		}
		if err := restoreReturned(ctx, tx, c, restored); err != nil {
			return err
		}
	}
	if err := reanchorObjects(ctx, tx, c.ConfigID, ch.Reanchors); err != nil {
		return err
	}
	if err := reanchorLinks(ctx, tx, c.ConfigID, ch.Reanchors); err != nil {
		return err
	}
	if err := holdObjects(ctx, tx, c.ConfigID, c.ID, ch.Holds, ch.Hold, HeldBySyncguard); err != nil {
		return err
	}
	if err := upsertObjects(ctx, tx, c.ConfigID, ch.Upserts); err != nil {
		return err
	}
	if err := deleteObjects(ctx, tx, c.ConfigID, ch.Deletes); err != nil {
		return err
	}
	if ch.Creates != nil || len(ch.Upserts) > 0 || len(ch.Deletes) > 0 || len(ch.Holds) > 0 {
		if err := recount(ctx, tx, c.ConfigID); err != nil {
			return err
		}
	}
	return insertLog(ctx, tx, c.ConfigID, c.ID, ch.Log)
}

// nextStatus is the status a configuration gets from a cycle: a pending
// quarantine stays the headline whatever the outcome (only Allow deletes
// and Restart sync end it); otherwise the outcome's own.
func nextStatus(c *Cycle, quarantine int64) (status, statusErr string) {
	switch {
	case quarantine != 0:
		return StatusQuarantined, ""
	case c.Outcome == OutcomeFailed:
		return StatusError, c.Error
	}
	return StatusHealthy, ""
}

// setStatus records the configuration's status and pending quarantine
// after cycle c and returns its generation: every cycle that is not Failed
// moves it, since it changed what the next cycle plans against.
func setStatus(ctx context.Context, tx *sql.Tx, c *Cycle, quarantine, agentID int64) (gen int64, err error) {
	status, statusErr := nextStatus(c, quarantine)
	bump := 1
	if c.Outcome == OutcomeFailed {
		bump = 0
	}
	err = tx.QueryRowContext(ctx, `UPDATE configurations SET status = ?, status_error = ?, quarantine_cycle_id = ?,
		generation = generation + ?, agent_id = coalesce(nullif(?, 0), agent_id) WHERE id = ? RETURNING generation`,
		status, statusErr, quarantine, bump, agentID, c.ConfigID).Scan(&gen)
	return gen, err
}

// finishCycle sets the cycle's end to now: it ends when its changes are
// written, not when planning ended.
func (s *Store) finishCycle(ctx context.Context, tx *sql.Tx, c *Cycle) error {
	fin := s.now()
	if !fin.After(c.FinishedAt) {
		return nil
	}
	c.FinishedAt = fin
	_, err := tx.ExecContext(ctx, `UPDATE cycles SET finished_at = ? WHERE id = ?`, ms(fin), c.ID)
	return err
}

const cycleColumns = `id, config_id, trigger, outcome, read_count, creates, updates, deletes, staged_deletes,
	failures, discarded, threshold, error, source_unchanged, started_at, finished_at, held, limits,
	membership_removals, pending, allowed, resolution, resolved_by, resolved_at, pending_updates, restores`

func scanCycle(row scanner) (*Cycle, error) {
	var c Cycle
	var started, finished, resolved int64
	var limits string
	if err := row.Scan(&c.ID, &c.ConfigID, &c.Trigger, &c.Outcome, &c.Read, &c.Creates, &c.Updates, &c.Deletes,
		&c.StagedDeletes, &c.Failures, &c.Discarded, &c.Threshold, &c.Error, &c.SourceUnchanged, &started, &finished,
		&c.Held, &limits, &c.MembershipRemovals, &c.Pending, &c.Allowed, &c.Resolution, &c.ResolvedBy, &resolved,
		&c.PendingUpdates, &c.Restores); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	c.StartedAt, c.FinishedAt, c.ResolvedAt = fromMS(started), fromMS(finished), fromMS(resolved)
	if limits != "" {
		if err := json.Unmarshal([]byte(limits), &c.Limits); err != nil {
			return nil, fmt.Errorf("limits of cycle %d: %w", c.ID, err)
		}
	}
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
	return queryRows(ctx, s.r, "cycles", scanCycle,
		`SELECT `+cycleColumns+` FROM cycles WHERE config_id = ? ORDER BY id DESC LIMIT ?`, configID, limit)
}

// FailedStreak returns how many of a configuration's newest cycles failed
// in a row (0 when the newest did not fail, or there is none) and when the
// first of them started.
func (s *Store) FailedStreak(ctx context.Context, configID int64) (n int, since time.Time, err error) {
	var first int64
	err = s.r.QueryRowContext(ctx, `SELECT count(*), coalesce(min(started_at), 0) FROM cycles
		WHERE config_id = ?1 AND id > coalesce((SELECT max(id) FROM cycles WHERE config_id = ?1 AND outcome <> 'Failed'), 0)`,
		configID).Scan(&n, &first)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store: failed cycles of %d: %w", configID, err)
	}
	return n, fromMS(first), nil
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

// LastQuarantine returns a configuration's newest quarantine (a cycle the
// guard stopped, not one held by it), pending or decided, or ErrNotFound.
func (s *Store) LastQuarantine(ctx context.Context, configID int64) (*Cycle, error) {
	c, err := scanCycle(s.r.QueryRowContext(ctx, `SELECT `+cycleColumns+` FROM cycles
		WHERE config_id = ? AND outcome = 'Quarantined' AND held = 0 ORDER BY id DESC LIMIT 1`, configID))
	if err != nil {
		return nil, fmt.Errorf("store: last quarantine of %d: %w", configID, err)
	}
	return c, nil
}
