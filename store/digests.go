package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SumSize is the size of one record's fingerprint in SourceDigest.Sums.
const SumSize = 16

// SourceDigest fingerprints the source records a configuration's target
// directory was last made equal to.
type SourceDigest struct {
	// Generation is the configuration generation the digest holds for:
	// any later change to the target directory makes it stale.
	Generation int64
	// Fingerprint names the source, scope and planner the records were
	// planned with; another one makes the digest meaningless.
	Fingerprint string
	InScope     int    // users and groups in scope among the records
	Sums        []byte // SumSize bytes per record, in source order
}

// SourceDigest returns the source digest of a configuration, or
// ErrNotFound when there is none.
func (s *Store) SourceDigest(ctx context.Context, configID int64) (*SourceDigest, error) {
	var d SourceDigest
	err := s.r.QueryRowContext(ctx, `SELECT generation, fingerprint, in_scope, sums FROM source_digests WHERE config_id = ?`,
		configID).Scan(&d.Generation, &d.Fingerprint, &d.InScope, &d.Sums)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: source digest: %w", err)
	}
	return &d, nil
}

// writeDigest keeps, in the transaction of a cycle that left the target
// equal to its source, the digest of that source for generation gen (the
// configuration's after the cycle): an Applied cycle's new digest, or the
// stored one carried over by an Unchanged cycle. Other cycles keep none.
func writeDigest(ctx context.Context, tx *sql.Tx, w *CycleWrite, gen int64) error {
	switch ch := w.Changes.(type) {
	case Applied:
		d := ch.Digest
		if d == nil {
			return nil
		}
		if len(d.Sums)%SumSize != 0 {
			return fmt.Errorf("source digest of %d bytes, not a multiple of %d", len(d.Sums), SumSize)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO source_digests (config_id, generation, fingerprint, in_scope, sums)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (config_id) DO UPDATE SET generation = excluded.generation,
			fingerprint = excluded.fingerprint, in_scope = excluded.in_scope, sums = excluded.sums`,
			w.Cycle.ConfigID, gen, d.Fingerprint, d.InScope, d.Sums)
		return err
	case Unchanged:
		_, err := tx.ExecContext(ctx, `UPDATE source_digests SET generation = ? WHERE config_id = ? AND generation = ?`,
			gen, w.Cycle.ConfigID, w.Generation)
		return err
	}
	return nil
}
