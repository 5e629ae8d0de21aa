package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Notification states.
const (
	MailPending = "pending"
	MailSent    = "sent"
	MailFailed  = "failed"
)

// Notification is an email in the durable outbox.
type Notification struct {
	ID            int64
	ConfigID      int64
	CycleID       int64
	To            string
	Subject       string
	Body          string
	Status        string
	Attempts      int
	LastError     string
	CreatedAt     time.Time
	NextAttemptAt time.Time
	SentAt        time.Time
}

func insertNotification(ctx context.Context, tx *sql.Tx, n *Notification, now time.Time) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO notifications (config_id, cycle_id, recipient, subject, body, created_at, next_attempt_at)
		VALUES (nullif(?, 0), ?, ?, ?, ?, ?, ?)`, n.ConfigID, n.CycleID, n.To, n.Subject, n.Body, ms(now), ms(now))
	if err != nil {
		return err
	}
	n.Status, n.CreatedAt, n.NextAttemptAt = MailPending, now, now
	n.ID, err = res.LastInsertId()
	return err
}

// queueNotification queues n, if any, with cycle c, as of its end.
func queueNotification(ctx context.Context, tx *sql.Tx, c *Cycle, n *Notification) error {
	if n == nil {
		return nil
	}
	n.ConfigID, n.CycleID = c.ConfigID, c.ID
	return insertNotification(ctx, tx, n, c.FinishedAt)
}

const notificationColumns = `id, coalesce(config_id, 0), cycle_id, recipient, subject, body, status, attempts, last_error,
	created_at, next_attempt_at, sent_at`

func scanNotification(row scanner) (*Notification, error) {
	var n Notification
	var created, next, sent int64
	if err := row.Scan(&n.ID, &n.ConfigID, &n.CycleID, &n.To, &n.Subject, &n.Body, &n.Status, &n.Attempts, &n.LastError,
		&created, &next, &sent); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	n.CreatedAt, n.NextAttemptAt, n.SentAt = fromMS(created), fromMS(next), fromMS(sent)
	return &n, nil
}

func (s *Store) notifications(ctx context.Context, q string, args ...any) ([]*Notification, error) {
	return queryRows(ctx, s.r, "notifications", scanNotification, `SELECT `+notificationColumns+` FROM notifications `+q, args...)
}

// Notifications returns the newest notifications of the outbox, newest first.
func (s *Store) Notifications(ctx context.Context, limit int) ([]*Notification, error) {
	return s.notifications(ctx, `ORDER BY id DESC LIMIT ?`, limit)
}

// DueNotifications returns pending notifications whose next attempt is due
// and that no sender holds, oldest first.
func (s *Store) DueNotifications(ctx context.Context, now time.Time, limit int) ([]*Notification, error) {
	return s.notifications(ctx, `WHERE status = 'pending' AND next_attempt_at <= ? AND claimed_until <= ? ORDER BY id LIMIT ?`,
		ms(now), ms(now), limit)
}

// NextNotificationDue returns when the earliest pending notification is due
// (the zero time when none is pending).
func (s *Store) NextNotificationDue(ctx context.Context) (time.Time, error) {
	var at sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(max(next_attempt_at, claimed_until)) FROM notifications WHERE status = 'pending'`).
		Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("store: next notification: %w", err)
	}
	return fromMS(at.Int64), nil
}

// ClaimNotification takes a pending notification for one delivery attempt
// until the given time, so that two senders never deliver it at once. It
// reports whether the claim succeeded.
func (s *Store) ClaimNotification(ctx context.Context, id int64, until time.Time) (bool, error) {
	now := s.now()
	res, err := s.w.ExecContext(ctx, `UPDATE notifications SET claimed_until = ?
		WHERE id = ? AND status = 'pending' AND claimed_until <= ?`, ms(until), id, ms(now))
	if err != nil {
		return false, fmt.Errorf("store: claim notification %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// NotificationSent records a delivered notification.
func (s *Store) NotificationSent(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_at = ?,
		last_error = '', claimed_until = 0 WHERE id = ?`, ms(at), id); err != nil {
		return fmt.Errorf("store: notification %d sent: %w", id, err)
	}
	return nil
}

// NotificationFailed records a failed attempt: with giveUp the notification
// is marked failed for good, otherwise it is retried at next.
func (s *Store) NotificationFailed(ctx context.Context, id int64, errText string, next time.Time, giveUp bool) error {
	status := MailPending
	if giveUp {
		status = MailFailed
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE notifications SET status = ?, attempts = attempts + 1, last_error = ?,
		next_attempt_at = ?, claimed_until = 0 WHERE id = ?`, status, errText, ms(next), id); err != nil {
		return fmt.Errorf("store: notification %d failed: %w", id, err)
	}
	return nil
}

// CycleNotifications returns the notifications queued with a cycle (a
// quarantine's mail, then its reminders), oldest first.
func (s *Store) CycleNotifications(ctx context.Context, configID, cycleID int64) ([]*Notification, error) {
	return s.notifications(ctx, `WHERE config_id = ? AND cycle_id = ? ORDER BY id LIMIT 100`, configID, cycleID)
}

// QueueReminder queues n as a reminder of the pending quarantine of a
// configuration when the quarantine is still pending and its last
// reminder (or, before any, the quarantine itself) is at least every old;
// it reports whether it queued it. Two processes checking at once queue
// one reminder.
func (s *Store) QueueReminder(ctx context.Context, configID, quarantine int64, every time.Duration, n *Notification) (bool, error) {
	now := s.now()
	queued := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var current, reminded, stopped int64
		err := tx.QueryRowContext(ctx, `SELECT f.quarantine_cycle_id, f.reminded_at, coalesce(c.finished_at, 0)
			FROM configurations f LEFT JOIN cycles c ON c.id = f.quarantine_cycle_id WHERE f.id = ?`, configID).
			Scan(&current, &reminded, &stopped)
		if err != nil {
			return err
		}
		if current != quarantine || current == 0 || every <= 0 || now.Sub(fromMS(max(reminded, stopped))) < every {
			return nil
		}
		n.ConfigID, n.CycleID = configID, quarantine
		if err := insertNotification(ctx, tx, n, now); err != nil {
			return err
		}
		queued = true
		_, err = tx.ExecContext(ctx, `UPDATE configurations SET reminded_at = ? WHERE id = ?`, ms(now), configID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: queue reminder: %w", err)
	}
	return queued, nil
}
