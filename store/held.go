package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The hold before deletions become final (SPEC section 10). With a hold,
// a deletion syncguard applies — one allowed by an admin, or one of a
// cycle under the limits — takes the object out of the target directory
// copy into the held objects (holdObjects), where it keeps its attributes
// and the groups that named it, and disables it in the target (a Disable
// entry and export). When its hold ends the purge deletes it for good
// (PurgeHeld: a Delete entry and export). Until then Restore puts it back
// as it was (RestoreHeld), and so does a cycle that finds it in the
// source again, or recreated in its place (restoreReturned): a Restore
// entry, and a put that brings the held object in the target back rather
// than creating another.

// MaxHold is the longest hold: 90 days.
const MaxHold = 90 * 24 * time.Hour

// HeldBySyncguard is who allowed a deletion the guard let through under
// its limits.
const HeldBySyncguard = "syncguard"

// Hold is how long deletions are held before they become final, from when.
type Hold struct {
	Since time.Time
	For   time.Duration
}

// On reports whether deletions are held at all.
func (h Hold) On() bool { return h.For > 0 }

// Until is when the hold ends: its objects are purged then.
func (h Hold) Until() time.Time { return h.Since.Add(h.For) }

// String words the hold for a log entry: "held until 2026-12-03 13:00 UTC (72h)".
func (h Hold) String() string {
	return fmt.Sprintf("held until %s (%s)", h.Until().UTC().Format("2006-01-02 15:04 UTC"), HoldText(h.For))
}

// HoldText words the length of a hold as admins type it: "72h", "1h30m",
// "45m"; "off" for none.
func HoldText(d time.Duration) string {
	if d <= 0 {
		return "off"
	}
	return TypedDuration(d)
}

// TypedDuration writes a duration as people type it: 2m, 90s, 1h30m, 72h.
func TypedDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// HeldObject is one object on hold: gone from the target directory copy,
// disabled in the target, purged at PurgeAt unless restored first.
type HeldObject struct {
	ID                     int64 // grows with each object held
	ConfigID               int64
	Anchor, Type, DN, Name string
	OU                     string // where it was: the parent of DN
	Cause                  Cause  // why it went
	CycleID                int64  // the cycle that deleted it, or whose staged deletion was allowed
	AllowedBy              string // an admin, or HeldBySyncguard under the limits
	DeletedAt, PurgeAt     time.Time
	Hold                   time.Duration
}

// holdObjects holds the deletions of objs (their anchors, OUs and causes;
// the rest is read from the target directory copy) for h, allowed by by,
// in the transaction of cycle cycleID or of the Allow deletes of its
// quarantine: each object leaves the copy for the held objects, with the
// groups that name it there now. The caller writes their Disable entries.
func holdObjects(ctx context.Context, tx *sql.Tx, configID, cycleID int64, objs []StagedDelete, h Hold, by string) error {
	if len(objs) == 0 {
		return nil
	}
	fixed := []any{cycleID, by, ms(h.Since), ms(h.Until()), h.For.Milliseconds()}
	for part := range slices.Chunk(objs, batchRows) {
		args := slices.Clone(fixed)
		for _, o := range part {
			args = append(args, o.Anchor, strings.TrimSpace(o.OU), string(o.Cause))
		}
		args = append(args, configID)
		if _, err := tx.ExecContext(ctx, `INSERT INTO held_objects (config_id, anchor, type, dn, name, attributes, hash,
			ou, cause, cycle_id, allowed_by, deleted_at, purge_at, hold_ms)
			SELECT t.config_id, t.anchor, t.type, t.dn, t.name, t.attributes, t.hash, v.column2, v.column3, ?, ?, ?, ?, ?
			FROM (VALUES (?, ?, ?)`+strings.Repeat(", (?, ?, ?)", len(part)-1)+`) v, target_objects t
			WHERE t.config_id = ? AND t.anchor = v.column1
			ON CONFLICT (config_id, anchor) DO UPDATE SET type = excluded.type, dn = excluded.dn, name = excluded.name,
				attributes = excluded.attributes, hash = excluded.hash, member_of = '', ou = excluded.ou,
				cause = excluded.cause, cycle_id = excluded.cycle_id, allowed_by = excluded.allowed_by,
				deleted_at = excluded.deleted_at, purge_at = excluded.purge_at, hold_ms = excluded.hold_ms`, args...); err != nil {
			return fmt.Errorf("hold deletions: %w", err)
		}
	}
	// The groups that name each held object, in one pass over the groups.
	if _, err := tx.ExecContext(ctx, `WITH m AS (SELECT j.value AS member, json_group_array(g.anchor) AS groups
			FROM target_objects g, json_each(g.attributes, '$.members') j
			WHERE g.config_id = ?1 AND g.type = 'group' AND j.value IN
				(SELECT anchor FROM held_objects WHERE config_id = ?1 AND cycle_id = ?2 AND deleted_at = ?3)
			GROUP BY j.value)
		UPDATE held_objects SET member_of = m.groups FROM m
		WHERE held_objects.config_id = ?1 AND held_objects.anchor = m.member`, configID, cycleID, ms(h.Since)); err != nil {
		return fmt.Errorf("hold deletions: memberships: %w", err)
	}
	anchors := make([]string, len(objs))
	for i := range objs {
		anchors[i] = objs[i].Anchor
	}
	return deleteObjects(ctx, tx, configID, anchors)
}

// configHold reads a configuration's hold inside a transaction.
func configHold(ctx context.Context, tx *sql.Tx, configID int64) (time.Duration, error) {
	var hold int64
	err := tx.QueryRowContext(ctx, `SELECT hold_ms FROM configurations WHERE id = ?`, configID).Scan(&hold)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return time.Duration(hold) * time.Millisecond, err
}

// changeMark is what a change to a configuration's target directory made
// outside a cycle (a restore, a purge) needs to log and export it: the
// cycle its entries go with (the newest; 0 before the first), the log's
// mark before them, and whether the configuration exports.
type changeMark struct {
	cycle, mark int64
	exporting   bool
}

// markChange reads a changeMark inside the change's transaction.
func markChange(ctx context.Context, tx *sql.Tx, configID int64) (changeMark, error) {
	var m changeMark
	var err error
	if m.exporting, _, err = exportingTarget(ctx, tx, configID); err != nil {
		return m, err
	}
	if m.mark, err = logMark(ctx, tx); err != nil {
		return m, err
	}
	err = tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM cycles WHERE config_id = ?`, configID).Scan(&m.cycle)
	return m, err
}

// export queues the exports of the change's entries, if the configuration
// exports.
func (m changeMark) export(ctx context.Context, tx *sql.Tx, configID int64) error {
	if !m.exporting {
		return nil
	}
	return queueExports(ctx, tx, configID, m.mark)
}

// heldIndex is what a cycle's creates need to know of a configuration's
// held objects: their anchors, and by type and DN (lower-cased) the
// newest one's anchor.
type heldIndex struct {
	anchors map[string]bool
	byDN    map[string]string
}

// heldObjectsIndex reads, inside a cycle's transaction, the index of a
// configuration's held objects (nil when it holds none).
func heldObjectsIndex(ctx context.Context, tx *sql.Tx, configID int64) (*heldIndex, error) {
	rows, err := tx.QueryContext(ctx, `SELECT anchor, type, dn FROM held_objects WHERE config_id = ? ORDER BY id`, configID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var h *heldIndex
	for rows.Next() {
		var a, typ, dn string
		if err := rows.Scan(&a, &typ, &dn); err != nil {
			return nil, err
		}
		if h == nil {
			h = &heldIndex{anchors: map[string]bool{}, byDN: map[string]string{}}
		}
		h.anchors[a], h.byDN[typ+"\x00"+strings.ToLower(dn)] = true, a
	}
	return h, rows.Err()
}

// returned says whether a created object is a held one back in the
// source: with its anchor, or recreated at the source in its place (the
// same type at the same DN, with another anchor: the held object is
// restored and takes the new anchor, as a recreated object is updated
// rather than deleted and created). It returns the held object's anchor.
func (h *heldIndex) returned(o *TargetObject) (string, bool) {
	if h == nil {
		return "", false
	}
	if h.anchors[o.Anchor] {
		return o.Anchor, true
	}
	a, ok := h.byDN[o.Type+"\x00"+strings.ToLower(o.DN)]
	if ok {
		delete(h.byDN, o.Type+"\x00"+strings.ToLower(o.DN)) // one held object comes back once
	}
	return a, ok
}

// restoreReturned ends the hold of the objects a cycle found in the
// source again (it created them with a Restore entry): they are no longer
// held, one recreated with another anchor takes it over in the target
// (its link, its queued export), and the cycle counts them as restored,
// not created.
func restoreReturned(ctx context.Context, tx *sql.Tx, c *Cycle, back []Reanchor) error {
	if len(back) == 0 {
		return nil
	}
	anchors := make([]string, len(back))
	var re []Reanchor
	for i, b := range back {
		anchors[i] = b.From
		if b.From != b.To {
			re = append(re, b)
		}
	}
	for part := range slices.Chunk(anchors, batchRows) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM held_objects WHERE config_id = ? AND anchor IN (?`+
			strings.Repeat(",?", len(part)-1)+`)`, anchorArgs(nil, c.ConfigID, part)...); err != nil {
			return err
		}
	}
	if err := reanchorLinks(ctx, tx, c.ConfigID, re); err != nil {
		return err
	}
	c.Restores = len(back)
	c.Creates = max(c.Creates-c.Restores, 0)
	_, err := tx.ExecContext(ctx, `UPDATE cycles SET creates = ?, restores = ? WHERE id = ?`, c.Creates, c.Restores, c.ID)
	return err
}

const heldColumns = `id, config_id, anchor, type, dn, name, ou, cause, cycle_id, allowed_by, deleted_at, purge_at, hold_ms`

func scanHeld(row scanner) (HeldObject, error) {
	var h HeldObject
	var deleted, purge, hold int64
	err := row.Scan(&h.ID, &h.ConfigID, &h.Anchor, &h.Type, &h.DN, &h.Name, &h.OU, &h.Cause, &h.CycleID, &h.AllowedBy,
		&deleted, &purge, &hold)
	h.DeletedAt, h.PurgeAt, h.Hold = fromMS(deleted), fromMS(purge), time.Duration(hold)*time.Millisecond
	return h, err
}

// HeldQuery selects a configuration's held objects, newest first. Zero
// fields do not filter.
type HeldQuery struct {
	ConfigID int64
	OUs      []string // only those that were in one of these OUs (as HeldOUs spells them)
	Anchors  []string // only these
	UpTo     int64    // only those with an ID up to this
	Before   int64    // the keyset cursor: only those with a smaller ID
	Limit    int      // 0: 100
}

// where is q as a WHERE clause and its arguments.
func (q *HeldQuery) where() (string, []any) {
	w, args := `config_id = ?`, []any{q.ConfigID}
	in := func(col string, vals []string) {
		w += ` AND ` + col + ` IN (?` + strings.Repeat(",?", len(vals)-1) + `)`
		for _, v := range vals {
			args = append(args, v)
		}
	}
	if len(q.OUs) > 0 {
		in("ou", q.OUs)
	}
	if len(q.Anchors) > 0 {
		in("anchor", q.Anchors)
	}
	if q.UpTo > 0 {
		w, args = w+` AND id <= ?`, append(args, q.UpTo)
	}
	if q.Before > 0 {
		w, args = w+` AND id < ?`, append(args, q.Before)
	}
	return w, args
}

// HeldObjects returns the held objects q selects, newest first. Anchors
// and OUs are at most a few thousand (SQLite binds up to 32766 values).
func (s *Store) HeldObjects(ctx context.Context, q HeldQuery) ([]HeldObject, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	w, args := q.where()
	return queryRows(ctx, s.r, "held objects", scanHeld, `SELECT `+heldColumns+` FROM held_objects WHERE `+w+
		` ORDER BY id DESC LIMIT ?`, append(args, q.Limit)...)
}

// HeldSummary is what a configuration holds at a glance.
type HeldSummary struct {
	Objects   int
	NextPurge time.Time // when the first of them is purged (zero: none held)
	Newest    int64     // the ID of the newest (0: none held)
}

// HeldSummary counts a configuration's held objects (or those q selects;
// its paging fields do not count).
func (s *Store) HeldSummary(ctx context.Context, q HeldQuery) (HeldSummary, error) {
	q.Before = 0
	w, args := q.where()
	var h HeldSummary
	var next int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*), coalesce(min(purge_at), 0), coalesce(max(id), 0)
		FROM held_objects WHERE `+w, args...).Scan(&h.Objects, &next, &h.Newest); err != nil {
		return h, fmt.Errorf("store: held objects of %d: %w", q.ConfigID, err)
	}
	h.NextPurge = fromMS(next)
	return h, nil
}

// HeldOUs counts a configuration's held objects by the OU they were in.
func (s *Store) HeldOUs(ctx context.Context, configID int64) ([]Count, error) {
	return queryRows(ctx, s.r, "held OUs", func(row scanner) (Count, error) {
		var c Count
		return c, row.Scan(&c.Label, &c.N)
	}, `SELECT ou, count(*) FROM held_objects WHERE config_id = ? GROUP BY ou ORDER BY ou`, configID)
}

// NextPurge returns when the first held object of any configuration is
// due to be purged (zero: none is held).
func (s *Store) NextPurge(ctx context.Context) (time.Time, error) {
	var next int64
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(min(purge_at), 0) FROM held_objects`).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("store: next purge: %w", err)
	}
	return fromMS(next), nil
}

// memberOf decodes a held object's member_of.
func memberOf(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	err := json.Unmarshal([]byte(s), &out)
	return out, err
}

// HeldRestore says which held objects RestoreHeld puts back (the
// filters of HeldQuery; none: every one), and who asks.
type HeldRestore struct {
	HeldQuery
	Actor string
}

// Restored is what RestoreHeld did.
type Restored struct {
	Objects int // objects back in the target directory
	Groups  int // groups that got back members they had named
}

// heldRef is what a restore needs of a held object besides what it copies.
type heldRef struct {
	id               int64
	anchor, name     string
	memberOf         []string
	deleted, purgeAt int64
}

// RestoreHeld puts the held objects r selects back in the target
// directory as they were when held — attributes, DN, and their places in
// the groups of the copy that named them — in one transaction: each with
// a Restore entry (with a target, a put that brings the held object back),
// each group given back a member with an Update; the configuration's
// generation moves (a cycle planned before plans again, and the next
// cycle reads the whole source: an object the source still lacks is a
// deletion again, counted by the guard), and the restore is audited.
// Objects no longer held (purged, or restored already) are left out: a
// second restore of the same objects restores nothing.
func (s *Store) RestoreHeld(ctx context.Context, r HeldRestore) (Restored, error) {
	now := s.now()
	var out Restored
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var name string
		if err := tx.QueryRowContext(ctx, `SELECT name FROM configurations WHERE id = ?`, r.ConfigID).Scan(&name); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		refs, err := heldRefs(ctx, tx, r.HeldQuery)
		if err != nil || len(refs) == 0 {
			return err
		}
		m, err := markChange(ctx, tx, r.ConfigID)
		if err != nil {
			return err
		}
		if err := unhold(ctx, tx, r.ConfigID, m.cycle, now, r.Actor, refs); err != nil {
			return err
		}
		out.Objects = len(refs)
		if out.Groups, err = restoreMemberships(ctx, tx, r.ConfigID, m.cycle, now, refs); err != nil {
			return err
		}
		if err := recount(ctx, tx, r.ConfigID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE configurations SET generation = generation + 1 WHERE id = ?`, r.ConfigID); err != nil {
			return err
		}
		details := fmt.Sprintf("%d deleted objects restored from the hold", out.Objects)
		if out.Groups > 0 {
			details += fmt.Sprintf("; %d groups got members back", out.Groups)
		}
		if err := addAudit(ctx, tx, &AuditEvent{Time: now, Actor: r.Actor, Action: "Restored deleted objects",
			ConfigID: r.ConfigID, ConfigName: name, Details: details}); err != nil {
			return err
		}
		return m.export(ctx, tx, r.ConfigID)
	})
	if err != nil {
		return Restored{}, fmt.Errorf("store: restore held objects of %d: %w", r.ConfigID, err)
	}
	return out, nil
}

// heldRefs reads, inside a transaction, the held objects q selects.
func heldRefs(ctx context.Context, tx *sql.Tx, q HeldQuery) ([]heldRef, error) {
	q.Before = 0
	w, args := q.where()
	rows, err := tx.QueryContext(ctx, `SELECT id, anchor, name, member_of, deleted_at, purge_at FROM held_objects
		WHERE `+w+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []heldRef
	for rows.Next() {
		var h heldRef
		var groups string
		if err := rows.Scan(&h.id, &h.anchor, &h.name, &groups, &h.deleted, &h.purgeAt); err != nil {
			return nil, err
		}
		if h.memberOf, err = memberOf(groups); err != nil {
			return nil, fmt.Errorf("groups of held %s: %w", h.anchor, err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// unhold moves held objects back into the target directory copy, each
// with a Restore entry saying who restored it.
func unhold(ctx context.Context, tx *sql.Tx, configID, cycleID int64, now time.Time, actor string, refs []heldRef) error {
	for part := range slices.Chunk(refs, batchRows) {
		ids := make([]any, len(part))
		for i := range part {
			ids[i] = part[i].id
		}
		in := ` WHERE id IN (?` + strings.Repeat(",?", len(part)-1) + `)`
		if _, err := tx.ExecContext(ctx, `INSERT INTO target_objects (config_id, anchor, type, dn, name, attributes, hash)
			SELECT config_id, anchor, type, dn, name, attributes, hash FROM held_objects`+in+` `+upsertTail, ids...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO provisioning_log (config_id, cycle_id, time, action, status,
			object_type, name, dn, anchor, details)
			SELECT config_id, ?, ?, 'Restore', 'Success', type, name, dn, anchor,
				'restored by ' || ? || ' from the hold (deleted ' ||
				strftime('%Y-%m-%d %H:%M UTC', deleted_at / 1000, 'unixepoch') || ', held until ' ||
				strftime('%Y-%m-%d %H:%M UTC', purge_at / 1000, 'unixepoch') || ')'
			FROM held_objects`+in+` ORDER BY type DESC, id`, append([]any{cycleID, ms(now), actor}, ids...)...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM held_objects`+in, ids...); err != nil {
			return err
		}
	}
	return nil
}

// restoreMemberships gives the groups of the target directory copy back
// the restored objects they named when those were held. Each group that
// changes gets an Update entry (its members follow in the target), and a
// content hash no source gives: the next cycle compares it with the
// source again. It returns how many groups changed.
func restoreMemberships(ctx context.Context, tx *sql.Tx, configID, cycleID int64, now time.Time, refs []heldRef) (int, error) {
	back, names := map[string][]string{}, map[string]string{}
	for _, h := range refs {
		names[h.anchor] = h.name
		for _, g := range h.memberOf {
			back[g] = append(back[g], h.anchor)
		}
	}
	var entries []LogEntry
	for _, g := range slices.Sorted(maps.Keys(back)) {
		var o TargetObject
		var attrs string
		err := tx.QueryRowContext(ctx, `SELECT type, dn, name, attributes FROM target_objects WHERE config_id = ? AND anchor = ?`,
			configID, g).Scan(&o.Type, &o.DN, &o.Name, &attrs)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && o.Type != "group") {
			continue // the group is gone (or held itself: restored, it names them still)
		}
		if err != nil {
			return 0, err
		}
		if o.Attributes, err = decodeAttributes(attrs); err != nil {
			return 0, fmt.Errorf("group %s: %w", g, err)
		}
		members := o.Attributes["members"]
		var added []string
		for _, m := range back[g] {
			if !slices.Contains(members, m) {
				members, added = append(members, m), append(added, names[m])
			}
		}
		if len(added) == 0 {
			continue
		}
		slices.Sort(members)
		o.Attributes["members"] = members
		enc, err := json.Marshal(o.Attributes)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE target_objects SET attributes = ?, hash = 'restored' WHERE config_id = ? AND anchor = ?`,
			string(enc), configID, g); err != nil {
			return 0, err
		}
		slices.Sort(added)
		entries = append(entries, LogEntry{Time: now, Action: ActionUpdate, Status: LogSuccess, Type: o.Type, Name: o.Name,
			DN: o.DN, Anchor: g, Details: "members restored: " + strings.Join(added, ", ")})
	}
	return len(entries), insertLog(ctx, tx, configID, cycleID, entries)
}

// Purged is what PurgeHeld did.
type Purged struct {
	Objects int
	Configs []int64 // the configurations whose held objects were purged
}

// PurgeHeld deletes for good up to limit held objects whose hold ended by
// now — of one configuration, or of all with configID 0 — in one
// transaction: each leaves the held objects with a Delete entry ("purged
// after the hold of 72h") and, with a target, a delete export of the
// object held there. A purge killed midway leaves each object held or
// purged, never both.
func (s *Store) PurgeHeld(ctx context.Context, configID int64, now time.Time, limit int) (Purged, error) {
	var out Purged
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+heldColumns+` FROM held_objects WHERE purge_at <= ? AND (? = 0 OR config_id = ?)
			ORDER BY purge_at, id LIMIT ?`, ms(now), configID, configID, limit)
		if err != nil {
			return err
		}
		byConfig := map[int64][]HeldObject{}
		for rows.Next() {
			h, err := scanHeld(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if byConfig[h.ConfigID] == nil {
				out.Configs = append(out.Configs, h.ConfigID)
			}
			byConfig[h.ConfigID] = append(byConfig[h.ConfigID], h)
			out.Objects++
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, id := range out.Configs {
			if err := purgeHeld(ctx, tx, id, now, byConfig[id]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Purged{}, fmt.Errorf("store: purge held objects: %w", err)
	}
	return out, nil
}

// purgeHeld purges the held objects of one configuration.
func purgeHeld(ctx context.Context, tx *sql.Tx, configID int64, now time.Time, objs []HeldObject) error {
	m, err := markChange(ctx, tx, configID)
	if err != nil {
		return err
	}
	entries := make([]LogEntry, len(objs))
	ids := make([]int64, len(objs))
	for i, o := range objs {
		ids[i] = o.ID
		entries[i] = LogEntry{Time: now, Action: ActionDelete, Status: LogSuccess, Type: o.Type, Name: o.Name, DN: o.DN,
			Anchor: o.Anchor, Cause: o.Cause, Details: fmt.Sprintf("purged after the hold of %s (deleted %s, allowed by %s)",
				HoldText(o.Hold), o.DeletedAt.UTC().Format("2006-01-02 15:04 UTC"), o.AllowedBy)}
	}
	if err := insertLog(ctx, tx, configID, m.cycle, entries); err != nil {
		return err
	}
	if err := inChunks(ids, func(part []int64) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM held_objects WHERE id IN (?`+strings.Repeat(",?", len(part)-1)+`)`,
			int64Args(part)...)
		return err
	}); err != nil {
		return err
	}
	return m.export(ctx, tx, configID)
}
