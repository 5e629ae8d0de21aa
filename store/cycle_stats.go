package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CycleDurationBuckets are the upper bounds of the cycle duration
// histogram: from a no-change cycle of a small directory (well under a
// second) to a first cycle of a million objects (tens of seconds) and a
// source that times out (minutes). The cycle_stats table keeps its counts
// by these bounds: changing them needs a migration that counts the cycles
// table again.
var CycleDurationBuckets = []time.Duration{
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour,
}

// bucketOf is the bucket_ms of a duration: the first bound it does not
// exceed, -1 above the last.
func bucketOf(d time.Duration) int64 {
	for _, b := range CycleDurationBuckets {
		if d <= b {
			return b.Milliseconds()
		}
	}
	return -1
}

// CycleStat counts the cycles of one configuration with one outcome.
type CycleStat struct {
	ConfigID int64
	Outcome  string
	Cycles   int64
	Total    time.Duration // of all those cycles
	// Buckets counts the cycles by the bound of their bucket (in
	// CycleDurationBuckets); those above the last are in Cycles only.
	Buckets map[time.Duration]int64
}

// countCycle adds a recorded cycle to its statistics, in its transaction.
func countCycle(ctx context.Context, tx *sql.Tx, c *Cycle) error {
	d := max(c.FinishedAt.Sub(c.StartedAt), 0)
	_, err := tx.ExecContext(ctx, `INSERT INTO cycle_stats (config_id, outcome, bucket_ms, cycles, total_ms)
		VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (config_id, outcome, bucket_ms) DO UPDATE SET cycles = cycles + 1, total_ms = total_ms + excluded.total_ms`,
		c.ConfigID, c.Outcome, bucketOf(d), d.Milliseconds())
	return err
}

// countPastCycles fills cycle_stats from the cycles recorded before it
// existed (migration 010).
func countPastCycles(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT config_id, outcome, started_at, finished_at FROM cycles`)
	if err != nil {
		return err
	}
	var cycles []Cycle
	for rows.Next() {
		var c Cycle
		var started, finished int64
		if err := rows.Scan(&c.ConfigID, &c.Outcome, &started, &finished); err != nil {
			rows.Close()
			return err
		}
		c.StartedAt, c.FinishedAt = fromMS(started), fromMS(finished)
		cycles = append(cycles, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for i := range cycles {
		if err := countCycle(ctx, tx, &cycles[i]); err != nil {
			return err
		}
	}
	return nil
}

// cycleStats reads the cycle counts of every configuration, by outcome.
func cycleStats(ctx context.Context, tx *sql.Tx) ([]CycleStat, error) {
	rows, err := tx.QueryContext(ctx, `SELECT config_id, outcome, bucket_ms, cycles, total_ms FROM cycle_stats
		ORDER BY config_id, outcome, bucket_ms`)
	if err != nil {
		return nil, fmt.Errorf("store: cycle stats: %w", err)
	}
	defer rows.Close()
	var out []CycleStat
	for rows.Next() {
		var id, bucket, n, total int64
		var outcome string
		if err := rows.Scan(&id, &outcome, &bucket, &n, &total); err != nil {
			return nil, fmt.Errorf("store: cycle stats: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ConfigID != id || out[len(out)-1].Outcome != outcome {
			out = append(out, CycleStat{ConfigID: id, Outcome: outcome, Buckets: map[time.Duration]int64{}})
		}
		st := &out[len(out)-1]
		st.Cycles += n
		st.Total += time.Duration(total) * time.Millisecond
		if bucket >= 0 {
			st.Buckets[time.Duration(bucket)*time.Millisecond] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: cycle stats: %w", err)
	}
	return out, nil
}
