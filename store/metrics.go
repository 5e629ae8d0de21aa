package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Metrics is what /metrics shows, read from the database in one snapshot:
// cycles run by any process on this database count, not only this one's.
type Metrics struct {
	Configurations []ConfigurationMetrics
	Cycles         []CycleStat
	OutboxPending  int64
}

// ConfigurationMetrics are the figures of one configuration.
type ConfigurationMetrics struct {
	ID            int64
	Name          string
	Users, Groups int64
	// Gauges holds the value of each of ConfigurationGauges, by name.
	Gauges map[string]float64
}

// Gauge is one per-configuration figure of the metrics: a query answering
// (configuration id, value) rows; a configuration without a row has 0.
type Gauge struct {
	Name, Help string
	query      string
}

// ConfigurationGauges are the per-configuration gauges of the metrics, in
// the order shown. A new figure is one line here (the portal names it
// syncguard_<Name>).
var ConfigurationGauges = []Gauge{
	{"quarantined", "1 while the configuration is quarantined (Delete threshold exceeded), else 0.",
		`SELECT id, quarantine_cycle_id <> 0 FROM configurations`},
	{"staged_deletes", "Staged deletes waiting for an admin: Allow deletes or Restart sync.",
		`SELECT f.id, c.pending - c.pending_updates FROM configurations f JOIN cycles c ON c.id = f.quarantine_cycle_id`},
	{"exports_pending", "Exports waiting to be sent to the configuration's target.",
		`SELECT config_id, count(*) FROM exports WHERE state = 'pending' GROUP BY config_id`},
	{"exports_failed", "Exports the target refused; each later cycle tries them again.",
		`SELECT config_id, count(*) FROM exports WHERE state = 'failed' GROUP BY config_id`},
	{"target_unreachable", "1 while the configuration's target fails transiently (Target unreachable), else 0.",
		`SELECT config_id, unreachable_since <> 0 FROM targets`},
}

// Metrics reads the metrics.
func (s *Store) Metrics(ctx context.Context) (*Metrics, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: metrics: %w", err)
	}
	defer tx.Rollback()
	m := &Metrics{}
	byID := map[int64]*ConfigurationMetrics{}
	rows, err := tx.QueryContext(ctx, `SELECT id, name, object_users, object_groups FROM configurations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: metrics: %w", err)
	}
	for rows.Next() {
		c := ConfigurationMetrics{Gauges: map[string]float64{}}
		if err := rows.Scan(&c.ID, &c.Name, &c.Users, &c.Groups); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: metrics: %w", err)
		}
		m.Configurations = append(m.Configurations, c)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("store: metrics: %w", err)
	}
	for i := range m.Configurations {
		byID[m.Configurations[i].ID] = &m.Configurations[i]
	}
	for _, g := range ConfigurationGauges {
		if err := readGauge(ctx, tx, g, byID); err != nil {
			return nil, fmt.Errorf("store: metrics: %s: %w", g.Name, err)
		}
	}
	if m.Cycles, err = cycleStats(ctx, tx); err != nil {
		return nil, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE status = 'pending'`).Scan(&m.OutboxPending); err != nil {
		return nil, fmt.Errorf("store: metrics: outbox: %w", err)
	}
	return m, nil
}

func readGauge(ctx context.Context, tx *sql.Tx, g Gauge, byID map[int64]*ConfigurationMetrics) error {
	for _, c := range byID {
		c.Gauges[g.Name] = 0
	}
	rows, err := tx.QueryContext(ctx, g.query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var v float64
		if err := rows.Scan(&id, &v); err != nil {
			return err
		}
		if c := byID[id]; c != nil {
			c.Gauges[g.Name] = v
		}
	}
	return rows.Err()
}
