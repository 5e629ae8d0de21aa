package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CycleLock is the lease a process holds while it runs a cycle of a
// configuration; it also carries the cycle's progress for the portal.
type CycleLock struct {
	ConfigID   int64
	Holder     string
	PID        int
	Host       string
	AcquiredAt time.Time
	ExpiresAt  time.Time
	Phase      string
	Read       int
	Planned    int
	Applied    int
}

// AcquireCycleLock takes the cycle lease of a configuration for holder until
// the given time; a lease whose holder stopped renewing it (it died) is taken
// over once expired. It reports whether holder now has it.
func (s *Store) AcquireCycleLock(ctx context.Context, configID int64, holder string, pid int, host string, until time.Time) (bool, error) {
	now := ms(s.now())
	res, err := s.w.ExecContext(ctx, `INSERT INTO cycle_locks (config_id, holder, pid, host, acquired_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (config_id) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, host = excluded.host,
		acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, phase = 'reading', read_count = 0,
		planned = 0, applied = 0
		WHERE cycle_locks.expires_at <= ? OR cycle_locks.holder = excluded.holder`,
		configID, holder, pid, host, now, ms(until), now)
	if err != nil {
		return false, fmt.Errorf("store: acquire cycle lock %d: %w", configID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RenewCycleLock extends holder's lease and records progress; it reports
// false when holder no longer has the lease.
func (s *Store) RenewCycleLock(ctx context.Context, configID int64, holder string, until time.Time, phase string, read, planned, applied int) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE cycle_locks SET expires_at = ?, phase = ?, read_count = ?, planned = ?, applied = ?
		WHERE config_id = ? AND holder = ?`, ms(until), phase, read, planned, applied, configID, holder)
	if err != nil {
		return false, fmt.Errorf("store: renew cycle lock %d: %w", configID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseCycleLock gives up holder's lease.
func (s *Store) ReleaseCycleLock(ctx context.Context, configID int64, holder string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM cycle_locks WHERE config_id = ? AND holder = ?`, configID, holder); err != nil {
		return fmt.Errorf("store: release cycle lock %d: %w", configID, err)
	}
	return nil
}

// ActiveCycleLock returns the unexpired lease of a configuration, or ErrNotFound.
func (s *Store) ActiveCycleLock(ctx context.Context, configID int64) (*CycleLock, error) {
	var l CycleLock
	var acq, exp int64
	err := s.r.QueryRowContext(ctx, `SELECT config_id, holder, pid, host, acquired_at, expires_at, phase, read_count, planned, applied
		FROM cycle_locks WHERE config_id = ? AND expires_at > ?`, configID, ms(s.now())).
		Scan(&l.ConfigID, &l.Holder, &l.PID, &l.Host, &acq, &exp, &l.Phase, &l.Read, &l.Planned, &l.Applied)
	if err == sql.ErrNoRows {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: cycle lock %d: %w", configID, err)
	}
	l.AcquiredAt, l.ExpiresAt = fromMS(acq), fromMS(exp)
	return &l, nil
}

// TakeOverCycleLock gives the lease of a configuration to holder when it is
// still held by deadHolder (whose process is known to be gone). It reports
// whether holder now has it.
func (s *Store) TakeOverCycleLock(ctx context.Context, configID int64, deadHolder, holder string, pid int, host string, until time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE cycle_locks SET holder = ?, pid = ?, host = ?, acquired_at = ?, expires_at = ?,
		phase = 'reading', read_count = 0, planned = 0, applied = 0 WHERE config_id = ? AND holder = ?`,
		holder, pid, host, ms(s.now()), ms(until), configID, deadHolder)
	if err != nil {
		return false, fmt.Errorf("store: take over cycle lock %d: %w", configID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
