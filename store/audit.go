package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AuditEvent records who did what, when.
type AuditEvent struct {
	ID         int64
	Time       time.Time
	Actor      string
	Action     string
	ConfigID   int64
	ConfigName string
	Details    string
}

func addAudit(ctx context.Context, tx *sql.Tx, e *AuditEvent) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO audit_events (time, actor, action, config_id, config_name, details)
		VALUES (?, ?, ?, nullif(?, 0), ?, ?)`, ms(e.Time), e.Actor, e.Action, e.ConfigID, e.ConfigName, e.Details)
	if err != nil {
		return err
	}
	e.ID, err = res.LastInsertId()
	return err
}

// AddAudit records an audit event; a zero Time is now.
func (s *Store) AddAudit(ctx context.Context, e *AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return addAudit(ctx, tx, e) }); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// AuditEvents returns audit events newest first, older than before when it is non-zero.
func (s *Store) AuditEvents(ctx context.Context, before int64, limit int) ([]AuditEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, time, actor, action, coalesce(config_id, 0), config_name, details
		FROM audit_events WHERE (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?`, before, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit events: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.ConfigID, &e.ConfigName, &e.Details); err != nil {
			return nil, fmt.Errorf("store: audit events: %w", err)
		}
		e.Time = fromMS(t)
		out = append(out, e)
	}
	return out, rows.Err()
}
