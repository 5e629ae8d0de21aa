package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Configuration statuses as stored. "running" is not stored: it is read from
// the cycle lock.
const (
	StatusHealthy     = "healthy"
	StatusQuarantined = "quarantined"
	StatusError       = "error"
	StatusNotRun      = "not_run"
)

// Configuration is one sync job.
type Configuration struct {
	ID           int64
	Name         string
	Source       string // "ldif:PATH", "ldap://HOST:PORT" or "ldaps://HOST:PORT"
	BaseDN       string
	BindDN       string
	BindPassword string
	StartTLS     bool
	CAFile       string
	BindMethod   string   // "simple" (or empty) or "ntlm"
	TLSPin       string   // "sha256:<hex>": trust the server certificate with that fingerprint
	TLSServer    string   // the name checked in the server certificate; empty: the URL's host
	Scope        []string // in-scope OU DNs; empty means the base DN
	Interval     time.Duration
	Basics       Basics
	Status       string
	StatusError  string
	QuarantineID int64     // the cycle whose staged deletes await a decision; 0 when none
	RemindedAt   time.Time // the last reminder of the pending quarantine; zero: none yet
	Generation   int64     // bumped by every change to the target directory or quarantine
	AgentID      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Basics are the guard settings an admin edits with the pencil.
type Basics struct {
	Email     string
	Prevent   bool
	Threshold int
	// Limits besides the threshold, each 0 = off: deleted users, deleted
	// groups, member links removed from groups that stay, and deletions
	// as a percentage (1–100) of the objects in the target directory.
	ThresholdUsers, ThresholdGroups, ThresholdMemberships, ThresholdPercent int
	// RemindEvery is how often a reminder mail goes out while sync is
	// stopped; 0 = never.
	RemindEvery time.Duration
	// Hold is how long a deletion is held (disabled in the target,
	// restorable) before it becomes final; 0 deletes at once (SPEC
	// section 10).
	Hold time.Duration
}

// EffectiveScope returns the scope, or the base DN when none is set.
func (c *Configuration) EffectiveScope() []string {
	if len(c.Scope) == 0 && c.BaseDN != "" {
		return []string{c.BaseDN}
	}
	return c.Scope
}

const configColumns = `id, name, source, base_dn, bind_dn, bind_password, start_tls, ca_file, scope,
	interval_ms, email, prevent, threshold, status, status_error, quarantine_cycle_id, generation,
	coalesce(agent_id, 0), created_at, updated_at, bind_method, tls_pin, tls_server_name, threshold_users,
	threshold_groups, threshold_memberships, threshold_percent, remind_every_ms, reminded_at, hold_ms`

type scanner interface{ Scan(...any) error }

// scanConfiguration reads a configuration row; its secrets are decrypted.
func (s *Store) scanConfiguration(row scanner) (*Configuration, error) {
	var c Configuration
	var scope string
	var interval, created, updated, remind, reminded, hold int64
	var startTLS, prevent int
	b := &c.Basics
	if err := row.Scan(&c.ID, &c.Name, &c.Source, &c.BaseDN, &c.BindDN, s.unsealed(&c.BindPassword), &startTLS, &c.CAFile,
		&scope, &interval, &b.Email, &prevent, &b.Threshold, &c.Status, &c.StatusError,
		&c.QuarantineID, &c.Generation, &c.AgentID, &created, &updated, &c.BindMethod, &c.TLSPin, &c.TLSServer,
		&b.ThresholdUsers, &b.ThresholdGroups, &b.ThresholdMemberships, &b.ThresholdPercent, &remind, &reminded, &hold); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, scanError(err)
	}
	if err := json.Unmarshal([]byte(scope), &c.Scope); err != nil {
		return nil, fmt.Errorf("scope of %q: %w", c.Name, err)
	}
	c.StartTLS, c.Basics.Prevent = startTLS != 0, prevent != 0
	c.Interval = time.Duration(interval) * time.Millisecond
	c.Basics.Hold = time.Duration(hold) * time.Millisecond
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	b.RemindEvery, c.RemindedAt = time.Duration(remind)*time.Millisecond, fromMS(reminded)
	return &c, nil
}

// Configuration returns the configuration with id, or ErrNotFound.
func (s *Store) Configuration(ctx context.Context, id int64) (*Configuration, error) {
	c, err := s.scanConfiguration(s.r.QueryRowContext(ctx, `SELECT `+configColumns+` FROM configurations WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("store: configuration %d: %w", id, err)
	}
	return c, nil
}

// ConfigurationByName returns the configuration called name, or ErrNotFound.
func (s *Store) ConfigurationByName(ctx context.Context, name string) (*Configuration, error) {
	c, err := s.scanConfiguration(s.r.QueryRowContext(ctx, `SELECT `+configColumns+` FROM configurations WHERE name = ?`, name))
	if err != nil {
		return nil, fmt.Errorf("store: configuration %q: %w", name, err)
	}
	return c, nil
}

// Configurations returns every configuration, by name.
func (s *Store) Configurations(ctx context.Context) ([]*Configuration, error) {
	return queryRows(ctx, s.r, "configurations", s.scanConfiguration, `SELECT `+configColumns+` FROM configurations ORDER BY name`)
}

// CreateConfiguration inserts c, setting its ID; a taken name is ErrConflict.
func (s *Store) CreateConfiguration(ctx context.Context, c *Configuration, actor string) error {
	return s.CreateConfigurationWithTarget(ctx, c, nil, actor)
}

// CreateConfigurationWithTarget inserts c and, unless t is nil or none,
// its target t in the same transaction (its first cycle exports the whole
// copy to it); c gets its ID. A taken name is ErrConflict.
func (s *Store) CreateConfigurationWithTarget(ctx context.Context, c *Configuration, t *Target, actor string) error {
	now := s.now()
	scope, err := json.Marshal(nonNil(c.Scope))
	if err != nil {
		return fmt.Errorf("store: create configuration: %w", err)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		b := &c.Basics
		res, err := tx.ExecContext(ctx, `INSERT INTO configurations (name, source, base_dn, bind_dn, bind_password,
			start_tls, ca_file, scope, interval_ms, email, prevent, threshold, created_at, updated_at,
			bind_method, tls_pin, tls_server_name, threshold_users, threshold_groups, threshold_memberships,
			threshold_percent, remind_every_ms, hold_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Name, c.Source, c.BaseDN, c.BindDN, s.sealed(c.BindPassword), boolInt(c.StartTLS), c.CAFile, string(scope),
			c.Interval.Milliseconds(), b.Email, boolInt(b.Prevent), b.Threshold, ms(now), ms(now),
			bindMethod(c), c.TLSPin, c.TLSServer, b.ThresholdUsers, b.ThresholdGroups, b.ThresholdMemberships,
			b.ThresholdPercent, b.RemindEvery.Milliseconds(), b.Hold.Milliseconds())
		if err != nil {
			if isUnique(err) {
				return Errorf(Conflict, "a configuration named %q already exists", c.Name)
			}
			return err
		}
		if c.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		if err := addAudit(ctx, tx, &AuditEvent{Time: now, Actor: actor, Action: "Created configuration",
			ConfigID: c.ID, ConfigName: c.Name, Details: "source " + c.Source}); err != nil {
			return err
		}
		return createTarget(ctx, tx, s, c, t, actor, now)
	})
	if err != nil {
		return fmt.Errorf("store: create configuration: %w", err)
	}
	c.Status, c.CreatedAt, c.UpdatedAt = StatusNotRun, now, now
	return nil
}

// UpdateConfiguration replaces every editable field of the configuration
// c.ID with c's (see EditConfiguration, which changes only what it means to).
func (s *Store) UpdateConfiguration(ctx context.Context, c *Configuration, actor string) error {
	saved, err := s.EditConfiguration(ctx, c.ID, actor, func(cur *Configuration) error {
		cur.Name, cur.Source, cur.BaseDN, cur.BindDN, cur.BindPassword = c.Name, c.Source, c.BaseDN, c.BindDN, c.BindPassword
		cur.StartTLS, cur.CAFile, cur.BindMethod, cur.TLSPin, cur.TLSServer = c.StartTLS, c.CAFile, c.BindMethod, c.TLSPin, c.TLSServer
		cur.Scope, cur.Interval, cur.Basics = c.Scope, c.Interval, c.Basics
		return nil
	})
	if err != nil {
		return err
	}
	c.UpdatedAt = saved.UpdatedAt
	return nil
}

// EditConfiguration changes the configuration id in one transaction: edit
// gets the configuration as it is now and changes the editable fields it
// means to (source, scope, schedule, Basics); a field it leaves alone keeps
// whatever was saved meanwhile, so a Basics save and a source change made
// at the same time never undo each other. An error from edit changes
// nothing and is returned as it is. What changed goes to the audit log.
// Status, quarantine and generation are not touched. It returns the
// configuration as saved.
func (s *Store) EditConfiguration(ctx context.Context, id int64, actor string, edit func(*Configuration) error) (*Configuration, error) {
	now := s.now()
	var saved *Configuration
	var editErr error
	err := s.tx(ctx, func(tx *sql.Tx) error {
		old, err := s.scanConfiguration(tx.QueryRowContext(ctx, `SELECT `+configColumns+` FROM configurations WHERE id = ?`, id))
		if err != nil {
			return err
		}
		c := *old
		c.Scope = slices.Clone(old.Scope)
		if editErr = edit(&c); editErr != nil {
			return editErr
		}
		saved = &c
		changes := describeChanges(old, &c)
		if len(changes) == 0 {
			return nil
		}
		c.UpdatedAt = now
		return s.saveEdit(ctx, tx, old, &c, actor, changes)
	})
	switch {
	case editErr != nil:
		return nil, editErr
	case err != nil:
		return nil, fmt.Errorf("store: update configuration %d: %w", id, err)
	}
	return saved, nil
}

// saveEdit writes c's editable fields and audits the changes from old.
func (s *Store) saveEdit(ctx context.Context, tx *sql.Tx, old, c *Configuration, actor string, changes []string) error {
	scope, err := json.Marshal(nonNil(c.Scope))
	if err != nil {
		return err
	}
	b := &c.Basics
	if _, err := tx.ExecContext(ctx, `UPDATE configurations SET name = ?, source = ?, base_dn = ?, bind_dn = ?,
		bind_password = ?, start_tls = ?, ca_file = ?, scope = ?, interval_ms = ?, email = ?, prevent = ?,
		threshold = ?, updated_at = ?, bind_method = ?, tls_pin = ?, tls_server_name = ?, threshold_users = ?,
		threshold_groups = ?, threshold_memberships = ?, threshold_percent = ?, remind_every_ms = ?, hold_ms = ? WHERE id = ?`,
		c.Name, c.Source, c.BaseDN, c.BindDN, s.sealed(c.BindPassword), boolInt(c.StartTLS), c.CAFile, string(scope),
		c.Interval.Milliseconds(), b.Email, boolInt(b.Prevent), b.Threshold, ms(c.UpdatedAt),
		bindMethod(c), c.TLSPin, c.TLSServer, b.ThresholdUsers, b.ThresholdGroups, b.ThresholdMemberships,
		b.ThresholdPercent, b.RemindEvery.Milliseconds(), b.Hold.Milliseconds(), c.ID); err != nil {
		if isUnique(err) {
			return Errorf(Conflict, "a configuration named %q already exists", c.Name)
		}
		return err
	}
	action := "Edited configuration"
	switch {
	case onlyBasics(old, c):
		action = "Edited Basics"
	case onlyScope(old, c):
		action = "Edited Scope"
	}
	if err := recordScopeRemovals(ctx, tx, old, c, actor); err != nil {
		return err
	}
	return addAudit(ctx, tx, &AuditEvent{Time: c.UpdatedAt, Actor: actor, Action: action,
		ConfigID: c.ID, ConfigName: c.Name, Details: strings.Join(changes, "; ")})
}

// recordScopeRemovals records the OUs an edit takes out of the effective
// scope (the base DN counts when the scope was empty), for the cause of
// the deletions that follow.
func recordScopeRemovals(ctx context.Context, tx *sql.Tx, old, c *Configuration, actor string) error {
	removed, _ := diffList(old.EffectiveScope(), c.EffectiveScope())
	for _, ou := range removed {
		if _, err := tx.ExecContext(ctx, `INSERT INTO scope_removals (config_id, ou, actor, time) VALUES (?, ?, ?, ?)`,
			c.ID, ou, actor, ms(c.UpdatedAt)); err != nil {
			return err
		}
	}
	return nil
}

// ScopeRemoval is an OU an admin took out of a configuration's scope.
type ScopeRemoval struct {
	OU    string
	Actor string
	Time  time.Time
}

// ScopeRemovals returns the OUs taken out of a configuration's scope,
// newest first.
func (s *Store) ScopeRemovals(ctx context.Context, configID int64) ([]ScopeRemoval, error) {
	return queryRows(ctx, s.r, "scope removals", func(row scanner) (ScopeRemoval, error) {
		var r ScopeRemoval
		var t int64
		err := row.Scan(&r.OU, &r.Actor, &t)
		r.Time = fromMS(t)
		return r, err
	}, `SELECT ou, actor, time FROM scope_removals WHERE config_id = ? ORDER BY id DESC LIMIT 1000`, configID)
}

// describeChanges lists "field: old → new" for each changed field; the bind
// password is never written out.
func describeChanges(old, c *Configuration) []string {
	var out []string
	add := func(name, a, b string) { out = addChange(out, name, a, b) }
	add("name", old.Name, c.Name)
	add("source", old.Source, c.Source)
	add("base DN", old.BaseDN, c.BaseDN)
	add("bind DN", old.BindDN, c.BindDN)
	if old.BindPassword != c.BindPassword {
		out = append(out, "bind password changed")
	}
	add("StartTLS", fmt.Sprint(old.StartTLS), fmt.Sprint(c.StartTLS))
	add("CA file", old.CAFile, c.CAFile)
	add("bind method", bindMethod(old), bindMethod(c))
	add("TLS pin", old.TLSPin, c.TLSPin)
	add("TLS server name", old.TLSServer, c.TLSServer)
	if removed, added := diffList(old.Scope, c.Scope); len(removed)+len(added) > 0 {
		var parts []string
		if len(removed) > 0 {
			parts = append(parts, "removed "+strings.Join(removed, " | "))
		}
		if len(added) > 0 {
			parts = append(parts, "added "+strings.Join(added, " | "))
		}
		out = append(out, "scope: "+strings.Join(parts, ", "))
	}
	add("interval", old.Interval.String(), c.Interval.String())
	add("notification email", old.Basics.Email, c.Basics.Email)
	add("prevent accidental deletions", onOff(old.Basics.Prevent), onOff(c.Basics.Prevent))
	add("threshold", fmt.Sprint(old.Basics.Threshold), fmt.Sprint(c.Basics.Threshold))
	add("users limit", offOr(old.Basics.ThresholdUsers, ""), offOr(c.Basics.ThresholdUsers, ""))
	add("groups limit", offOr(old.Basics.ThresholdGroups, ""), offOr(c.Basics.ThresholdGroups, ""))
	add("memberships limit", offOr(old.Basics.ThresholdMemberships, ""), offOr(c.Basics.ThresholdMemberships, ""))
	add("percent limit", offOr(old.Basics.ThresholdPercent, "%"), offOr(c.Basics.ThresholdPercent, "%"))
	add("reminders", remindWords(old.Basics.RemindEvery), remindWords(c.Basics.RemindEvery))
	add("hold deletions", HoldText(old.Basics.Hold), HoldText(c.Basics.Hold))
	return out
}

// bindMethod is c's bind method, "simple" when none is set.
func bindMethod(c *Configuration) string {
	if c.BindMethod == "" {
		return "simple"
	}
	return c.BindMethod
}

func onlyBasics(old, c *Configuration) bool {
	o, n := *old, *c
	o.Basics, n.Basics = Basics{}, Basics{}
	return len(describeChanges(&o, &n)) == 0
}

func onlyScope(old, c *Configuration) bool {
	o, n := *old, *c
	o.Scope, n.Scope = nil, nil
	return len(describeChanges(&o, &n)) == 0
}

// diffList returns what is in a but not b, and in b but not a, in order.
func diffList(a, b []string) (removed, added []string) {
	for _, x := range a {
		if !slices.Contains(b, x) {
			removed = append(removed, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			added = append(added, x)
		}
	}
	return removed, added
}

// offOr words a limit for the audit log: "off" for 0.
func offOr(n int, unit string) string {
	if n == 0 {
		return "off"
	}
	return fmt.Sprint(n) + unit
}

// remindWords words a reminder interval for the audit log.
func remindWords(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return "every " + d.String()
}

// addChange appends "name: a → b" to out when a and b differ.
func addChange(out []string, name, a, b string) []string {
	if a != b {
		out = append(out, fmt.Sprintf("%s: %s → %s", name, quoteEmpty(a), quoteEmpty(b)))
	}
	return out
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// renameControlNames gives the configurations whose names hold control
// characters (which syncguard no longer accepts: a line break in a name
// broke every listing) a name with "?" in their place, and records it.
func renameControlNames(ctx context.Context, tx *sql.Tx, now time.Time) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, name FROM configurations`)
	if err != nil {
		return err
	}
	renames := map[int64][2]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		clean := strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return '?'
			}
			return r
		}, strings.ToValidUTF8(name, "?"))
		if clean != name {
			renames[id] = [2]string{name, clean}
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for id, r := range renames {
		name := r[1]
		_, err := tx.ExecContext(ctx, `UPDATE configurations SET name = ? WHERE id = ?`, name, id)
		if isUnique(err) {
			name = fmt.Sprintf("%s #%d", r[1], id)
			_, err = tx.ExecContext(ctx, `UPDATE configurations SET name = ? WHERE id = ?`, name, id)
		}
		if err != nil {
			return err
		}
		if err := addAudit(ctx, tx, &AuditEvent{Time: now, Actor: "syncguard", Action: "Renamed configuration", ConfigID: id,
			ConfigName: name, Details: fmt.Sprintf("name %q held control characters", r[0])}); err != nil {
			return err
		}
	}
	return nil
}

// SetAgent records which agent serves a configuration.
func (s *Store) SetAgent(ctx context.Context, configID, agentID int64) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE configurations SET agent_id = ? WHERE id = ? AND coalesce(agent_id, 0) <> ?`,
		agentID, configID, agentID); err != nil {
		return fmt.Errorf("store: set agent of configuration %d: %w", configID, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// DeleteConfiguration removes a configuration and all syncguard keeps of
// it: its copy of the target directory, cycles, provisioning log, staged
// deletes and statistics. The audit log keeps the configuration's events
// and records the deletion; the outbox keeps its mail. holder must hold
// the configuration's cycle lock (so that no cycle runs, here or in another
// process), else it is a Conflict.
func (s *Store) DeleteConfiguration(ctx context.Context, id int64, holder, actor string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var name string
		var users, groups int
		err := tx.QueryRowContext(ctx, `SELECT name, object_users, object_groups FROM configurations WHERE id = ?`, id).
			Scan(&name, &users, &groups)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var held string
		err = tx.QueryRowContext(ctx, `SELECT holder FROM cycle_locks WHERE config_id = ?`, id).Scan(&held)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if held != holder {
			return Errorf(Conflict, "A cycle of %s is running: try again when it has finished.", name)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM configurations WHERE id = ?`, id); err != nil {
			return err
		}
		return addAudit(ctx, tx, &AuditEvent{Time: s.now(), Actor: actor, Action: "Deleted configuration", ConfigID: id,
			ConfigName: name, Details: fmt.Sprintf("%d users and %d groups synced; objects in a target are left in place", users, groups)})
	})
	if err != nil {
		return fmt.Errorf("store: delete configuration %d: %w", id, err)
	}
	return nil
}
