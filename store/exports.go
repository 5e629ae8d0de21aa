package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Export kinds: what an export asks of the target. A put makes the target
// hold the object as the target directory copy has it when the export is
// sent (a create, an update, a move, a restore); a delete removes it; a
// disable holds it for the hold before deletions become final (SPEC
// section 10).
const (
	ExportPut     = "put"
	ExportDelete  = "delete"
	ExportDisable = "disable"
)

// The phases exports are sent in: users, then the groups that name them,
// then deletions (and disables).
const (
	PhaseUsers   = 1
	PhaseGroups  = 2
	PhaseDeletes = 3
)

// Export is one export claimed for sending: what the queue and its log
// entry say of the object, and its link in the target.
type Export struct {
	LogID  int64 // the provisioning log entry that carries its result
	Anchor string
	Kind   string
	Phase  int
	// Attempts counts the sends before this one: an export sent before,
	// whose answer may have been lost, looks before it creates.
	Attempts int
	// Type, Name and DN are the object as its log entry knew it: what a
	// delete sends.
	Type, Name, DN string
	// Link is the object's identity in the target ("" when it is not
	// known to be there); Held, that it is disabled for the hold.
	Link string
	Held bool
	// Object is, for a put, the object as the target directory copy has
	// it now; nil when it is no longer there.
	Object *TargetObject
}

// exportingTarget reads, inside a transaction, whether the configuration
// exports (it has a target) and whether its whole copy is still to be
// exported.
func exportingTarget(ctx context.Context, tx *sql.Tx, configID int64) (exporting, full bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT full_export FROM targets WHERE config_id = ?`, configID).Scan(&full)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	return err == nil, full, err
}

// logMark is the highest provisioning log id: the entries a transaction
// writes after reading it are above it.
func logMark(ctx context.Context, tx *sql.Tx) (int64, error) {
	var mark int64
	err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM provisioning_log`).Scan(&mark)
	return mark, err
}

// queueExports queues one export for each change (a Success entry of
// configID's log above mark), in the transaction that wrote them. An
// export still queued for the same object is replaced (a put sends the
// object as it is at send time, and the newest change decides between
// put and delete): its entry is Skipped, and the new export inherits its
// attempts so that an answer lost in a crash still makes it look first.
func queueExports(ctx context.Context, tx *sql.Tx, configID, mark int64) error {
	var queued bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM exports WHERE config_id = ?)`, configID).Scan(&queued); err != nil {
		return err
	}
	attempts := "0"
	if queued {
		attempts = `coalesce((SELECT max(o.attempts) FROM exports o WHERE o.config_id = l.config_id AND o.anchor = l.anchor), 0)`
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO exports (log_id, config_id, anchor, kind, phase, attempts, details)
		SELECT l.id, l.config_id, l.anchor,
			CASE l.action WHEN 'Delete' THEN 'delete' WHEN 'Disable' THEN 'disable' ELSE 'put' END,
			CASE WHEN l.action IN ('Delete', 'Disable') THEN 3 WHEN l.object_type = 'group' THEN 2 ELSE 1 END,
			`+attempts+`, l.details
		FROM provisioning_log l WHERE l.id > ? AND l.config_id = ? AND l.status = 'Success'
		AND l.action IN ('Create', 'Update', 'Delete', 'Restore', 'Disable')`, mark, configID); err != nil {
		return err
	}
	if !queued {
		return nil
	}
	const replaced = `SELECT o.log_id FROM exports o WHERE o.config_id = ?1 AND o.log_id <= ?2
		AND o.anchor IN (SELECT n.anchor FROM exports n WHERE n.config_id = ?1 AND n.log_id > ?2)`
	if _, err := tx.ExecContext(ctx, `UPDATE provisioning_log SET status = 'Skipped',
		details = details || '; not sent: replaced by a later change of the object'
		WHERE id IN (`+replaced+`) AND status = 'Success'`, configID, mark); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM exports WHERE log_id IN (`+replaced+`)`, configID, mark)
	return err
}

// retryFailedExports queues again, once per cycle the guard lets
// through, the exports the target refused: their entries read Pending
// again, with their details as they were before the refusal.
func retryFailedExports(ctx context.Context, tx *sql.Tx, configID int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE provisioning_log SET status = 'Success',
		details = (SELECT e.details FROM exports e WHERE e.log_id = provisioning_log.id)
		WHERE id IN (SELECT log_id FROM exports WHERE config_id = ? AND state = 'failed')`, configID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE exports SET state = 'pending' WHERE config_id = ? AND state = 'failed'`, configID)
	return err
}

// queueFullExport exports the whole target directory copy to a target
// that was added or changed: a Create entry for every object no export
// is queued for, logged with cycle c.
func queueFullExport(ctx context.Context, tx *sql.Tx, c *Cycle) error {
	mark, err := logMark(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO provisioning_log (config_id, cycle_id, time, action, status,
		object_type, name, dn, anchor, details)
		SELECT t.config_id, ?, ?, 'Create', 'Success', t.type, t.name, t.dn, t.anchor, 'exported to the new target'
		FROM target_objects t WHERE t.config_id = ?
		AND NOT EXISTS (SELECT 1 FROM exports e WHERE e.config_id = t.config_id AND e.anchor = t.anchor)
		ORDER BY t.type DESC, t.anchor`, c.ID, ms(c.FinishedAt), c.ConfigID); err != nil {
		return err
	}
	if err := queueExports(ctx, tx, c.ConfigID, mark); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE targets SET full_export = 0 WHERE config_id = ?`, c.ConfigID)
	return err
}

// exportCycle is the step of a cycle the guard let through that feeds
// the target: the refused exports are tried again, the cycle's changes
// (its Pending entries above mark) are queued, and a new target gets the
// whole copy. Nothing happens without a target.
func exportCycle(ctx context.Context, tx *sql.Tx, c *Cycle, exporting, full bool, mark int64) error {
	if !exporting {
		return nil
	}
	if err := retryFailedExports(ctx, tx, c.ConfigID); err != nil {
		return err
	}
	if err := queueExports(ctx, tx, c.ConfigID, mark); err != nil {
		return err
	}
	if full {
		return queueFullExport(ctx, tx, c)
	}
	return nil
}

// dropExports drops a configuration's queue and links: the target they
// were for is gone or another (why says which, in the dropped entries).
func dropExports(ctx context.Context, tx *sql.Tx, configID int64, why string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE provisioning_log SET status = 'Skipped', details = details || ?
		WHERE id IN (SELECT log_id FROM exports WHERE config_id = ?) AND status IN ('Success', 'Failure')`,
		"; not sent: "+why, configID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM exports WHERE config_id = ?`, configID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM target_links WHERE config_id = ?`, configID)
	return err
}

// ExportClaim says which exports ClaimExports takes.
type ExportClaim struct {
	ConfigID int64
	Epoch    int64  // the target's epoch the exporter writes to
	Holder   string // the holder of the export lease
	Phase    int    // exports of this phase only
	After    int64  // with a log id above this
	Limit    int
}

// ErrExportLease means the exporter no longer holds the configuration's
// export lease, or its target changed: it must stop.
var ErrExportLease = errors.New("store: the export lease was lost or the target changed")

// NextExportPhase returns the lowest phase above after that has pending
// exports (0 when none has).
func (s *Store) NextExportPhase(ctx context.Context, configID int64, after int) (int, error) {
	var phase int
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(min(phase), 0) FROM exports
		WHERE config_id = ? AND state = 'pending' AND phase > ?`, configID, after).Scan(&phase); err != nil {
		return 0, fmt.Errorf("store: next export phase of %d: %w", configID, err)
	}
	return phase, nil
}

// ClaimExports returns up to Limit pending exports of one phase, in queue
// order, and counts an attempt for each before it is sent. It fails with
// ErrExportLease when Holder does not hold the lease of a target of Epoch.
func (s *Store) ClaimExports(ctx context.Context, q ExportClaim) ([]Export, error) {
	var out []Export
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := checkLease(ctx, tx, q.ConfigID, q.Epoch, q.Holder); err != nil {
			return err
		}
		// A put sends the object as the copy has it now; the others what
		// their log entry knew.
		rows, err := tx.QueryContext(ctx, `SELECT e.log_id, e.anchor, e.kind, e.phase, e.attempts,
			coalesce(t.type, l.object_type, ''), coalesce(t.name, l.name, ''), coalesce(t.dn, l.dn, ''), t.attributes,
			coalesce(k.link, ''), coalesce(k.held, 0)
			FROM exports e LEFT JOIN provisioning_log l ON e.kind <> 'put' AND l.id = e.log_id
			LEFT JOIN target_objects t ON e.kind = 'put' AND t.config_id = e.config_id AND t.anchor = e.anchor
			LEFT JOIN target_links k ON k.config_id = e.config_id AND k.anchor = e.anchor
			WHERE e.config_id = ? AND e.state = 'pending' AND e.phase = ? AND e.log_id > ? ORDER BY e.log_id LIMIT ?`,
			q.ConfigID, q.Phase, q.After, q.Limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			var x Export
			var attrs sql.NullString
			if err := rows.Scan(&x.LogID, &x.Anchor, &x.Kind, &x.Phase, &x.Attempts, &x.Type, &x.Name, &x.DN, &attrs,
				&x.Link, &x.Held); err != nil {
				rows.Close()
				return err
			}
			if attrs.Valid {
				x.Object = &TargetObject{Anchor: x.Anchor, Type: x.Type, DN: x.DN, Name: x.Name}
				if x.Object.Attributes, err = decodeAttributes(attrs.String); err != nil {
					rows.Close()
					return fmt.Errorf("target object %s: %w", x.Anchor, err)
				}
			}
			out = append(out, x)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil || len(out) == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE exports SET attempts = attempts + 1 WHERE config_id = ? AND state = 'pending'
			AND phase = ? AND log_id > ? AND log_id <= ?`, q.ConfigID, q.Phase, q.After, out[len(out)-1].LogID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim exports of %d: %w", q.ConfigID, err)
	}
	return out, nil
}

// checkLease fails with ErrExportLease unless holder holds the export
// lease of configID's target of epoch.
func checkLease(ctx context.Context, tx *sql.Tx, configID, epoch int64, holder string) error {
	var ok bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM targets WHERE config_id = ? AND epoch = ? AND lease_holder = ?)`,
		configID, epoch, holder).Scan(&ok)
	if err == nil && !ok {
		err = ErrExportLease
	}
	return err
}

// updateExports runs stmt (an UPDATE or DELETE without WHERE) on the
// given log ids, in chunks: stmt + " WHERE log_id IN (…)". Extra
// arguments come first.
func updateExports(ctx context.Context, tx *sql.Tx, stmt string, ids []int64, args ...any) error {
	return inChunks(ids, func(part []int64) error {
		a := append(args[:len(args):len(args)], int64Args(part)...)
		_, err := tx.ExecContext(ctx, stmt+` WHERE log_id IN (?`+strings.Repeat(",?", len(part)-1)+`)`, a...)
		return err
	})
}

// inChunks calls fn with ids in parts of at most batchRows.
func inChunks(ids []int64, fn func([]int64) error) error {
	for len(ids) > 0 {
		part := ids[:min(batchRows, len(ids))]
		ids = ids[len(part):]
		if err := fn(part); err != nil {
			return err
		}
	}
	return nil
}

func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// ExportResult is the target's answer to one claimed export.
type ExportResult struct {
	Export
	// Sent is false for an export claimed but never sent (the exporter
	// stopped first): its attempt does not count.
	Sent bool
	// Err is the target's refusal in its own words ("" on success);
	// Transient, that it is to be tried again later rather than failed.
	Err       string
	Transient bool
	// Link is the object's link after a successful put or disable.
	Link string
	// Skip, when set, says why the export was dropped unsent (a put whose
	// object left the copy before it went): its entry is Skipped.
	Skip string
}

// ExportReport is what one exporter records at once.
type ExportReport struct {
	ConfigID, Epoch int64
	Holder          string
	At              time.Time
	Results         []ExportResult
	// Unreachable, when set, is the transient error that stopped the
	// exporter: the target is tried again at RetryAt (RetryAsked: as it
	// asked).
	Unreachable string
	RetryAt     time.Time
	RetryAsked  bool
}

// RecordExports records the target's answers in one transaction: a
// success ends its export (its entry Success, the object's link kept or
// dropped); a refusal fails it (its entry Failure, with the target's
// words after its details); a transient error leaves it pending. The
// target's state follows. An export replaced meanwhile by a later change
// (queueExports) still leaves its link. Answers for another epoch (the
// target changed) are dropped.
func (s *Store) RecordExports(ctx context.Context, r *ExportReport) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := checkLease(ctx, tx, r.ConfigID, r.Epoch, r.Holder); err != nil {
			return err
		}
		if err := recordLinks(ctx, tx, r.ConfigID, r.Results); err != nil {
			return err
		}
		if err := recordOutcomes(ctx, tx, r.Results); err != nil {
			return err
		}
		if err := requeueGroups(ctx, tx, r.ConfigID, r.At, relinked(r.Results)); err != nil {
			return err
		}
		return recordTargetState(ctx, tx, r)
	})
	if err != nil {
		return fmt.Errorf("store: record exports of %d: %w", r.ConfigID, err)
	}
	return nil
}

// relinked returns the anchors of the objects whose link the answers
// changed: now in the target (a SCIM id, where members are named by id),
// or renamed or moved there (an LDAP DN).
func relinked(results []ExportResult) []string {
	var out []string
	for i := range results {
		x := &results[i]
		if x.Sent && x.Err == "" && x.Skip == "" && x.Kind != ExportDelete && x.Link != x.Export.Link {
			out = append(out, x.Anchor)
		}
	}
	return out
}

// requeueGroups queues a put of every group that names one of relinked
// and has no export pending, so that its members in the target follow
// their links: a member exported after its group joins it, a member
// moved in an LDAP target is named by its new DN. Its entry, an Update,
// goes with the configuration's last cycle.
func requeueGroups(ctx context.Context, tx *sql.Tx, configID int64, at time.Time, relinked []string) error {
	if len(relinked) == 0 {
		return nil
	}
	var settled bool // some group has no export pending (a first export queues every group)
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM target_objects t WHERE t.config_id = ? AND t.type = 'group'
		AND NOT EXISTS (SELECT 1 FROM exports e WHERE e.config_id = t.config_id AND e.anchor = t.anchor AND e.state = 'pending'))`,
		configID).Scan(&settled); err != nil || !settled {
		return err
	}
	mark, err := logMark(ctx, tx)
	if err != nil {
		return err
	}
	moved := relinked
	for len(moved) > 0 {
		part := moved[:min(batchRows, len(moved))]
		moved = moved[len(part):]
		args := append([]any{ms(at), configID}, anchorArgs(nil, configID, part)[1:]...)
		if _, err := tx.ExecContext(ctx, `INSERT INTO provisioning_log (config_id, cycle_id, time, action, status,
			object_type, name, dn, anchor, details)
			SELECT t.config_id, coalesce((SELECT max(id) FROM cycles WHERE config_id = t.config_id), 0), ?, 'Update',
				'Success', t.type, t.name, t.dn, t.anchor, 'its members follow their objects in the target'
			FROM target_objects t WHERE t.config_id = ? AND t.type = 'group'
			AND NOT EXISTS (SELECT 1 FROM exports e WHERE e.config_id = t.config_id AND e.anchor = t.anchor AND e.state = 'pending')
			AND EXISTS (SELECT 1 FROM json_each(t.attributes, '$.members') j WHERE j.value IN (?`+
			strings.Repeat(",?", len(part)-1)+`))`, args...); err != nil {
			return err
		}
	}
	return queueExports(ctx, tx, configID, mark)
}

// recordOutcomes ends the exports that succeeded, fails the refused ones
// and gives back the attempts of those never sent.
func recordOutcomes(ctx context.Context, tx *sql.Tx, results []ExportResult) error {
	var done, unsent []int64
	for i := range results {
		x := &results[i]
		switch {
		case !x.Sent:
			unsent = append(unsent, x.LogID)
		case x.Skip != "":
			if _, err := tx.ExecContext(ctx, `UPDATE provisioning_log SET status = 'Skipped', details = details || '; not sent: ' || ?
				WHERE id = ? AND status = 'Success'`, x.Skip, x.LogID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM exports WHERE log_id = ?`, x.LogID); err != nil {
				return err
			}
		case x.Err == "":
			done = append(done, x.LogID)
		case !x.Transient:
			if _, err := tx.ExecContext(ctx, `UPDATE exports SET state = 'failed', last_error = ? WHERE log_id = ?`, x.Err, x.LogID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE provisioning_log SET status = 'Failure',
				details = (SELECT e.details FROM exports e WHERE e.log_id = ?1) || '; the target refused it: ' || ?2
				WHERE id = ?1 AND status = 'Success'`, x.LogID, x.Err); err != nil {
				return err
			}
		}
	}
	// A success leaves its entry as written: it was a Success that read
	// Pending while its export waited.
	if err := updateExports(ctx, tx, `DELETE FROM exports`, done); err != nil {
		return err
	}
	return updateExports(ctx, tx, `UPDATE exports SET attempts = max(attempts - 1, 0)`, unsent)
}

// recordTargetState records what the answers say of the target: when it
// last took an export, and whether it is unreachable (since when, why,
// when to try again) or answering again.
func recordTargetState(ctx context.Context, tx *sql.Tx, r *ExportReport) error {
	sent, answered, lastErr := false, false, ""
	for i := range r.Results {
		x := &r.Results[i]
		if x.Skip != "" {
			continue
		}
		sent = sent || (x.Sent && x.Err == "")
		answered = answered || (x.Sent && !x.Transient)
		if x.Err != "" && !x.Transient {
			lastErr = x.Err
		}
	}
	if sent {
		if _, err := tx.ExecContext(ctx, `UPDATE targets SET last_export_at = ? WHERE config_id = ?`, ms(r.At), r.ConfigID); err != nil {
			return err
		}
	}
	if r.Unreachable != "" {
		return unreachable(ctx, tx, r.ConfigID, r.Epoch, r.Unreachable, r.At, r.RetryAt, r.RetryAsked)
	}
	if !answered {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE targets SET unreachable_since = 0, failures = 0, retry_at = 0, retry_asked = 0, last_error = ?
		WHERE config_id = ?`, lastErr, r.ConfigID)
	return err
}

// ExportQueue is a configuration whose target has exports waiting.
type ExportQueue struct {
	ConfigID int64
	Pending  int
	// RetryAt is when its target is to be tried again (zero: now).
	RetryAt time.Time
}

// ExportQueues returns the configurations whose targets have pending
// exports.
func (s *Store) ExportQueues(ctx context.Context) ([]ExportQueue, error) {
	return queryRows(ctx, s.r, "export queues", func(row scanner) (ExportQueue, error) {
		var q ExportQueue
		var retry int64
		err := row.Scan(&q.ConfigID, &retry, &q.Pending)
		q.RetryAt = fromMS(retry)
		return q, err
	}, `SELECT t.config_id, t.retry_at, count(*) FROM targets t
		JOIN exports e ON e.config_id = t.config_id AND e.state = 'pending' GROUP BY t.config_id`)
}
