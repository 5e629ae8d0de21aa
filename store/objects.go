package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"unicode/utf8"
)

// TargetObject is one object of the target directory: the synced copy of an
// in-scope user or group.
type TargetObject struct {
	Anchor     string
	Type       string // "user" or "group"
	DN         string
	Name       string
	Attributes map[string][]string
	Hash       string // content hash of type, DN and attributes
	// Encoded, when set, is Attributes already encoded as a JSON object:
	// the planner encodes each object once and keeps no map of it.
	Encoded string
}

// IndexEntry is what planning needs of a target object: no attributes.
type IndexEntry struct {
	Hash string
	Type string
	DN   string
	Name string
}

// TargetHashes returns the anchors of a configuration's target directory
// with their content hash: all that planning needs to tell creates, updates
// and unchanged objects apart.
func (s *Store) TargetHashes(ctx context.Context, configID int64) (map[string]string, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM target_objects WHERE config_id = ?`, configID).Scan(&n); err != nil {
		return nil, fmt.Errorf("store: target hashes: %w", err)
	}
	out := make(map[string]string, n)
	rows, err := s.r.QueryContext(ctx, `SELECT anchor, hash FROM target_objects WHERE config_id = ?`, configID)
	if err != nil {
		return nil, fmt.Errorf("store: target hashes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, h string
		if err := rows.Scan(&a, &h); err != nil {
			return nil, fmt.Errorf("store: target hashes: %w", err)
		}
		out[a] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: target hashes: %w", err)
	}
	return out, nil
}

// TargetIndexOf calls fn with the type, DN and name (no hash) of each of
// the given anchors in a configuration's target directory. With many
// anchors, it reads the whole directory once instead and keeps the rows
// whose anchor member reports (which must hold for exactly those anchors).
func (s *Store) TargetIndexOf(ctx context.Context, configID int64, anchors []string, member func(anchor string) bool,
	fn func(anchor string, e IndexEntry)) error {
	scan := func(q string, args []any, keep func(string) bool) error {
		rows, err := s.r.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var a string
		var typ sql.RawBytes
		var e IndexEntry
		for rows.Next() {
			if err := rows.Scan(&a, &typ, &e.DN, &e.Name); err != nil {
				return err
			}
			// One string per type, not one per object: a quarantine of a
			// million objects keeps them all.
			switch e.Type = string(typ); e.Type {
			case "user":
				e.Type = "user"
			case "group":
				e.Type = "group"
			}
			if keep == nil || keep(a) {
				fn(a, e)
			}
		}
		return rows.Err()
	}
	if len(anchors) > 20_000 && member != nil {
		// Many anchors (a source that lost most of its objects): one pass
		// over the table beats tens of thousands of lookups.
		if err := scan(`SELECT anchor, type, dn, name FROM target_objects WHERE config_id = ?`, []any{configID}, member); err != nil {
			return fmt.Errorf("store: target index: %w", err)
		}
		return nil
	}
	const chunk = 500
	args := make([]any, 0, chunk+1)
	for len(anchors) > 0 {
		part := anchors[:min(chunk, len(anchors))]
		anchors = anchors[len(part):]
		args = anchorArgs(args, configID, part)
		q := `SELECT anchor, type, dn, name FROM target_objects WHERE config_id = ? AND anchor IN (?` +
			strings.Repeat(",?", len(part)-1) + `)`
		if err := scan(q, args, nil); err != nil {
			return fmt.Errorf("store: target index: %w", err)
		}
	}
	return nil
}

// TargetObjectsByAnchor returns the target objects among anchors, by anchor.
func (s *Store) TargetObjectsByAnchor(ctx context.Context, configID int64, anchors []string) (map[string]*TargetObject, error) {
	out := make(map[string]*TargetObject, len(anchors))
	const chunk = 500
	for len(anchors) > 0 {
		part := anchors[:min(chunk, len(anchors))]
		anchors = anchors[len(part):]
		args := anchorArgs(make([]any, 0, len(part)+1), configID, part)
		q := `SELECT anchor, type, dn, name, attributes, hash FROM target_objects WHERE config_id = ? AND anchor IN (?` +
			strings.Repeat(",?", len(part)-1) + `)`
		if err := s.scanObjects(ctx, q, args, func(o *TargetObject) { out[o.Anchor] = o }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// TargetObjects returns a configuration's target directory ordered by type and
// DN, calling fn for each object.
func (s *Store) TargetObjects(ctx context.Context, configID int64, fn func(*TargetObject)) error {
	return s.scanObjects(ctx, `SELECT anchor, type, dn, name, attributes, hash FROM target_objects
		WHERE config_id = ? ORDER BY type DESC, dn`, []any{configID}, fn)
}

func (s *Store) scanObjects(ctx context.Context, q string, args []any, fn func(*TargetObject)) error {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: target objects: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return fmt.Errorf("store: target objects: %w", err)
		}
		fn(o)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: target objects: %w", err)
	}
	return nil
}

// objectColumns are the columns scanObject reads, in its order.
const objectColumns = `anchor, type, dn, name, attributes, hash`

// scanObject reads a target object (objectColumns); no row is ErrNotFound.
func scanObject(row scanner) (*TargetObject, error) {
	var o TargetObject
	var attrs string
	if err := row.Scan(&o.Anchor, &o.Type, &o.DN, &o.Name, &attrs, &o.Hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	var err error
	if o.Attributes, err = decodeAttributes(attrs); err != nil {
		return nil, fmt.Errorf("target object %s: %w", o.Anchor, err)
	}
	return &o, nil
}

// decodeAttributes reads the JSON of an object's attributes. The compact
// form the planner writes ({"name":["value",…],…} without escapes) is
// read directly, its values sharing the string's memory: exporting reads
// every object it sends, and encoding/json took most of that time.
// Anything else goes to encoding/json.
func decodeAttributes(s string) (map[string][]string, error) {
	if m, ok := decodeCompact(s); ok {
		return m, nil
	}
	var m map[string][]string
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}

// decodeCompact reads {"k":["v",…],…} with no whitespace and no escape;
// ok is false for anything else.
func decodeCompact(s string) (m map[string][]string, ok bool) {
	str := func(i int) (string, int, bool) {
		if i >= len(s) || s[i] != '"' {
			return "", i, false
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 {
			return "", i, false
		}
		v, ascii := s[i+1:i+1+end], true
		for k := 0; k < len(v); k++ {
			if v[k] < 0x20 || v[k] == '\\' {
				return "", i, false // escapes, control characters: encoding/json's
			}
			ascii = ascii && v[k] < utf8.RuneSelf
		}
		if !ascii && !utf8.ValidString(v) {
			return "", i, false
		}
		return v, i + end + 2, true
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	m = make(map[string][]string, strings.Count(s, "]"))
	for i := 1; i < len(s)-1; {
		key, j, ok := str(i)
		if !ok || j+1 >= len(s) || s[j] != ':' || s[j+1] != '[' {
			return nil, false
		}
		var vals []string
		for j += 2; j < len(s) && s[j] != ']'; {
			v, k, ok := str(j)
			if !ok {
				return nil, false
			}
			vals = append(vals, v)
			switch j = k; {
			case j < len(s) && s[j] == ',':
				if j++; j < len(s) && s[j] != '"' {
					return nil, false
				}
			case j < len(s) && s[j] != ']':
				return nil, false
			}
		}
		if j >= len(s) {
			return nil, false
		}
		m[key] = vals
		if i = j + 1; i < len(s)-1 {
			if s[i] != ',' || i+1 == len(s)-1 {
				return nil, false
			}
			i++
		}
	}
	return m, true
}

// ObjectCounts returns the number of users and groups in a configuration's target directory.
func (s *Store) ObjectCounts(ctx context.Context, configID int64) (users, groups int, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT object_users, object_groups FROM configurations WHERE id = ?`, configID).Scan(&users, &groups)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("store: object counts: %w", ErrNotFound)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: object counts: %w", err)
	}
	return users, groups, nil
}

// recount stores the counts ObjectCounts returns, after a change to the
// target directory (through the index on type: no object is read).
func recount(ctx context.Context, tx *sql.Tx, configID int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE configurations SET
		object_users = (SELECT count(*) FROM target_objects WHERE config_id = ?1 AND type = 'user'),
		object_groups = (SELECT count(*) FROM target_objects WHERE config_id = ?1 AND type = 'group')
		WHERE id = ?1`, configID)
	return err
}

const upsertTail = `ON CONFLICT (config_id, anchor) DO UPDATE SET type = excluded.type, dn = excluded.dn,
	name = excluded.name, attributes = excluded.attributes, hash = excluded.hash`

// objectBatch writes target objects, replacing those with the same anchor.
type objectBatch struct {
	configID int64
	b        *batchInsert
}

func newObjectBatch(ctx context.Context, tx *sql.Tx, configID int64) *objectBatch {
	return &objectBatch{configID: configID,
		b: newBatchInsert(ctx, tx, `INSERT INTO target_objects (config_id, anchor, type, dn, name, attributes, hash)`, upsertTail, 7)}
}

// add queues o, its attributes as Encoded holds them or else encoded now.
func (ob *objectBatch) add(o *TargetObject) error {
	attrs := o.Encoded
	if attrs == "" {
		enc, err := json.Marshal(o.Attributes)
		if err != nil {
			return fmt.Errorf("attributes of %s: %w", o.DN, err)
		}
		attrs = string(enc)
	}
	return ob.b.add(ob.configID, o.Anchor, o.Type, o.DN, o.Name, attrs, o.Hash)
}

func (ob *objectBatch) flush() error { return ob.b.flush() }

// createObjects writes the objects creates hands over, each with a log
// entry like l (its object filled in); an object on hold back in the
// source (held.returned) with a Restore entry instead. It returns those,
// from the held object's anchor to the new one's.
func createObjects(ctx context.Context, tx *sql.Tx, configID, cycleID int64, creates iter.Seq2[*TargetObject, error], l *LogEntry,
	held *heldIndex) ([]Reanchor, error) {
	objs := newObjectBatch(ctx, tx, configID)
	logs := newLogBatch(ctx, tx, configID, cycleID, l)
	back := newLogBatch(ctx, tx, configID, cycleID, &LogEntry{Time: l.Time, Action: ActionRestore, Status: LogSuccess,
		Details: "back in the source during its hold: restored"})
	var restored []Reanchor
	var err error
	for o, ierr := range creates {
		if err = ierr; err == nil {
			err = objs.add(o)
		}
		if err != nil {
			break
		}
		switch from, ok := held.returned(o); {
		case !ok:
			err = logs.add(o.Type, o.Name, o.DN, o.Anchor)
		case from != o.Anchor:
			restored = append(restored, Reanchor{From: from, To: o.Anchor})
			err = insertLog(ctx, tx, configID, cycleID, []LogEntry{{Time: l.Time, Action: ActionRestore, Status: LogSuccess,
				Type: o.Type, Name: o.Name, DN: o.DN, Anchor: o.Anchor,
				Details: fmt.Sprintf("recreated at the source during its hold (re-anchored: %s → %s): restored", from, o.Anchor)}})
		default:
			restored = append(restored, Reanchor{From: from, To: o.Anchor})
			err = back.add(o.Type, o.Name, o.DN, o.Anchor)
		}
		if err != nil {
			break
		}
	}
	return restored, errors.Join(err, objs.flush(), logs.flush(), back.flush())
}

// upsertObjects writes objects, in anchor order: the target directory is
// keyed by anchor, and anchors (GUIDs, UUIDs) come in random order; sorted,
// a first cycle appends to the B-tree instead of touching pages all over a
// table far larger than the page cache.
func upsertObjects(ctx context.Context, tx *sql.Tx, configID int64, objects []TargetObject) error {
	if len(objects) == 0 {
		return nil
	}
	order := make([]int32, len(objects))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(objects[a].Anchor, objects[b].Anchor) })
	b := newObjectBatch(ctx, tx, configID)
	for _, i := range order {
		if err := b.add(&objects[i]); err != nil {
			return err
		}
	}
	return b.flush()
}

// reanchorObjects gives target objects their new anchors.
func reanchorObjects(ctx context.Context, tx *sql.Tx, configID int64, re []Reanchor) error {
	if len(re) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE target_objects SET anchor = ? WHERE config_id = ? AND anchor = ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range re {
		if _, err := stmt.ExecContext(ctx, r.To, configID, r.From); err != nil {
			return fmt.Errorf("re-anchor %s: %w", r.From, err)
		}
	}
	return nil
}

// deleteObjects deletes the objects of the given anchors.
func deleteObjects(ctx context.Context, tx *sql.Tx, configID int64, anchors []string) error {
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, batchRows+1)
	for len(anchors) > 0 {
		part := anchors[:min(batchRows, len(anchors))]
		anchors = anchors[len(part):]
		args = anchorArgs(args, configID, part)
		q := `DELETE FROM target_objects WHERE config_id = ? AND anchor IN (?` + strings.Repeat(", ?", len(part)-1) + `)`
		var err error
		switch {
		case len(part) < batchRows:
			_, err = tx.ExecContext(ctx, q, args...)
		case full == nil:
			if full, err = tx.PrepareContext(ctx, q); err == nil {
				_, err = full.ExecContext(ctx, args...)
			}
		default:
			_, err = full.ExecContext(ctx, args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// anchorArgs fills args (emptied first) with the arguments of a query on
// the objects of configID with the given anchors: configID, then the anchors.
func anchorArgs(args []any, configID int64, anchors []string) []any {
	args = append(args[:0], configID)
	for _, a := range anchors {
		args = append(args, a)
	}
	return args
}
