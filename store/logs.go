package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Provisioning log actions and statuses.
const (
	ActionCreate       = "Create"
	ActionUpdate       = "Update"
	ActionDelete       = "Delete"
	ActionStagedDelete = "StagedDelete"

	LogSuccess = "Success"
	LogFailure = "Failure"
	LogSkipped = "Skipped"
	LogStaged  = "Staged"
)

// LogEntry is one provisioning log entry: one object, one action.
type LogEntry struct {
	ID       int64
	ConfigID int64
	CycleID  int64
	Time     time.Time
	Action   string
	Status   string
	Type     string
	Name     string
	DN       string
	Anchor   string
	Details  string
}

// LogQuery selects provisioning log entries of one configuration, newest first.
// Zero fields do not filter. Before is the keyset cursor: only entries with a
// smaller ID are returned.
type LogQuery struct {
	ConfigID int64
	Action   string
	Status   string
	Type     string
	Cycle    int64
	From, To time.Time // From inclusive, To exclusive
	Text     string    // substring of the name or DN, case-insensitive
	Before   int64
	Limit    int
}

func insertLog(ctx context.Context, tx *sql.Tx, configID, cycleID int64, entries []LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO provisioning_log (config_id, cycle_id, time, action, status,
		object_type, name, dn, anchor, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range entries {
		e := &entries[i]
		e.ConfigID, e.CycleID = configID, cycleID
		res, err := stmt.ExecContext(ctx, configID, cycleID, ms(e.Time), e.Action, e.Status, e.Type, e.Name, e.DN, e.Anchor, e.Details)
		if err != nil {
			return err
		}
		if e.ID, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	return nil
}

// Logs returns the entries q selects, newest first.
func (s *Store) Logs(ctx context.Context, q LogQuery) ([]LogEntry, error) {
	where := []string{"config_id = ?"}
	args := []any{q.ConfigID}
	if q.Action != "" {
		where, args = append(where, "action = ?"), append(args, q.Action)
	}
	if q.Status != "" {
		where, args = append(where, "status = ?"), append(args, q.Status)
	}
	if q.Type != "" {
		where, args = append(where, "object_type = ?"), append(args, q.Type)
	}
	if q.Cycle != 0 {
		where, args = append(where, "cycle_id = ?"), append(args, q.Cycle)
	}
	if !q.From.IsZero() {
		where, args = append(where, "time >= ?"), append(args, ms(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "time < ?"), append(args, ms(q.To))
	}
	if q.Text != "" {
		like := "%" + escapeLike(strings.ToLower(q.Text)) + "%"
		where, args = append(where, `(lower(name) LIKE ? ESCAPE '\' OR lower(dn) LIKE ? ESCAPE '\')`), append(args, like, like)
	}
	if q.Before > 0 {
		where, args = append(where, "id < ?"), append(args, q.Before)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, `SELECT id, config_id, cycle_id, time, action, status, object_type, name, dn, anchor, details
		FROM provisioning_log WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: logs: %w", err)
	}
	defer rows.Close()
	out := make([]LogEntry, 0, limit)
	for rows.Next() {
		e, err := scanLog(rows)
		if err != nil {
			return nil, fmt.Errorf("store: logs: %w", err)
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// LogEntry returns one entry of a configuration's provisioning log, or ErrNotFound.
func (s *Store) LogEntry(ctx context.Context, configID, id int64) (*LogEntry, error) {
	e, err := scanLog(s.r.QueryRowContext(ctx, `SELECT id, config_id, cycle_id, time, action, status, object_type, name, dn, anchor, details
		FROM provisioning_log WHERE config_id = ? AND id = ?`, configID, id))
	if err != nil {
		return nil, fmt.Errorf("store: log entry %d: %w", id, err)
	}
	return e, nil
}

func scanLog(row scanner) (*LogEntry, error) {
	var e LogEntry
	var t int64
	if err := row.Scan(&e.ID, &e.ConfigID, &e.CycleID, &t, &e.Action, &e.Status, &e.Type, &e.Name, &e.DN, &e.Anchor, &e.Details); err != nil {
		if err == sql.ErrNoRows {
			return nil, ErrNotFound
		}
		return nil, err
	}
	e.Time = fromMS(t)
	return &e, nil
}

// PruneLogs deletes provisioning log entries older than before, except those
// of a cycle whose staged deletes are still pending. It returns how many went.
func (s *Store) PruneLogs(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM provisioning_log WHERE time < ?
		AND cycle_id NOT IN (SELECT quarantine_cycle_id FROM configurations WHERE quarantine_cycle_id <> 0)`, ms(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune logs: %w", err)
	}
	return res.RowsAffected()
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
