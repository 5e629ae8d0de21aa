package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// recordLinks keeps what the target answered of each object: the link of
// a put or a disable (held), none after a delete or when the object was
// not there to disable.
func recordLinks(ctx context.Context, tx *sql.Tx, configID int64, results []ExportResult) error {
	b := newBatchInsert(ctx, tx, `INSERT INTO target_links (config_id, anchor, link, held)`,
		`ON CONFLICT (config_id, anchor) DO UPDATE SET link = excluded.link, held = excluded.held`, 4)
	var gone []string
	for i := range results {
		x := &results[i]
		if !x.Sent || x.Err != "" || x.Skip != "" {
			continue
		}
		if x.Kind == ExportDelete || x.Link == "" {
			gone = append(gone, x.Anchor)
			continue
		}
		if err := b.add(configID, x.Anchor, x.Link, boolInt(x.Kind == ExportDisable)); err != nil {
			return err
		}
	}
	if err := b.flush(); err != nil {
		return err
	}
	args := make([]any, 0, batchRows+1)
	for len(gone) > 0 {
		part := gone[:min(batchRows, len(gone))]
		gone = gone[len(part):]
		args = anchorArgs(args, configID, part)
		if _, err := tx.ExecContext(ctx, `DELETE FROM target_links WHERE config_id = ? AND anchor IN (?`+
			strings.Repeat(",?", len(part)-1)+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// TargetRef is what a group's export needs of one of its members (and a
// user's of its manager): its source DN in the target directory copy and
// its link in the target ("" when it has none).
type TargetRef struct {
	DN, Link string
}

// TargetRefs returns the references of the given anchors that are in a
// configuration's target directory copy, by anchor.
func (s *Store) TargetRefs(ctx context.Context, configID int64, anchors []string) (map[string]TargetRef, error) {
	out := make(map[string]TargetRef, len(anchors))
	args := make([]any, 0, 501)
	for len(anchors) > 0 {
		part := anchors[:min(500, len(anchors))]
		anchors = anchors[len(part):]
		args = anchorArgs(args, configID, part)
		rows, err := s.r.QueryContext(ctx, `SELECT t.anchor, t.dn, coalesce(k.link, '') FROM target_objects t
			LEFT JOIN target_links k ON k.config_id = t.config_id AND k.anchor = t.anchor
			WHERE t.config_id = ? AND t.anchor IN (?`+strings.Repeat(",?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: target refs: %w", err)
		}
		for rows.Next() {
			var a string
			var r TargetRef
			if err := rows.Scan(&a, &r.DN, &r.Link); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: target refs: %w", err)
			}
			out[a] = r
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("store: target refs: %w", err)
		}
	}
	return out, nil
}

// TargetLinks counts the objects a configuration's target is known to
// hold (those syncguard created or matched there).
func (s *Store) TargetLinks(ctx context.Context, configID int64) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM target_links WHERE config_id = ?`, configID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: target links of %d: %w", configID, err)
	}
	return n, nil
}

// reanchorLinks moves what is known of a re-anchored object in the target
// (its link, its queued export) to its new anchor: the object recreated
// at the source is the one syncguard wrote, updated in place (SCIM takes
// the new externalId), never created a second time.
func reanchorLinks(ctx context.Context, tx *sql.Tx, configID int64, re []Reanchor) error {
	for _, r := range re {
		for _, q := range []string{`UPDATE target_links SET anchor = ? WHERE config_id = ? AND anchor = ?`,
			`UPDATE exports SET anchor = ? WHERE config_id = ? AND anchor = ?`} {
			if _, err := tx.ExecContext(ctx, q, r.To, configID, r.From); err != nil {
				return fmt.Errorf("re-anchor %s in the target: %w", r.From, err)
			}
		}
	}
	return nil
}
