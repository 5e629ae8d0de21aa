package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Agent is the component that talks to the sources.
type Agent struct {
	ID            int64
	Name          string
	Host          string
	Version       string
	StartedAt     time.Time
	LastHeartbeat time.Time
}

// RegisterAgent creates or refreshes the agent called name and returns its ID.
func (s *Store) RegisterAgent(ctx context.Context, name, host, version string) (int64, error) {
	now := ms(s.now())
	var id int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO agents (name, host, version, started_at, last_heartbeat) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET host = excluded.host, version = excluded.version,
		started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat RETURNING id`,
		name, host, version, now, now).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: register agent %q: %w", name, err)
	}
	return id, nil
}

// Heartbeat records that the agent is alive.
func (s *Store) Heartbeat(ctx context.Context, id int64) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE agents SET last_heartbeat = ? WHERE id = ?`, ms(s.now()), id); err != nil {
		return fmt.Errorf("store: heartbeat of agent %d: %w", id, err)
	}
	return nil
}

// Agent returns the agent with id, or ErrNotFound.
func (s *Store) Agent(ctx context.Context, id int64) (*Agent, error) {
	var a Agent
	var started, beat int64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, host, version, started_at, last_heartbeat FROM agents WHERE id = ?`, id).
		Scan(&a.ID, &a.Name, &a.Host, &a.Version, &started, &beat)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("store: agent %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: agent %d: %w", id, err)
	}
	a.StartedAt, a.LastHeartbeat = fromMS(started), fromMS(beat)
	return &a, nil
}
