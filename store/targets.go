package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TargetNone is the URL of the target "none": the target directory copy
// only, nothing exported (the demo's default).
const TargetNone = "none"

// What a target held when syncguard first looked (Target.Contents).
const (
	ContentsUnknown   = "unknown"
	ContentsEmpty     = "empty"
	ContentsPopulated = "populated"
)

// Target is the real directory a configuration provisions (SPEC section 8).
type Target struct {
	ConfigID int64
	// URL is TargetNone, ldap://HOST[:PORT], ldaps://HOST[:PORT],
	// scim+https://HOST/PATH or scim+http://LOOPBACK/PATH.
	URL          string
	BaseDN       string // LDAP: where objects go
	BindDN       string // LDAP
	BindPassword string // LDAP; sealed at rest
	StartTLS     bool   // LDAP over ldap://
	CAFile       string // PEM file of the authority to trust
	Token        string // SCIM bearer token; sealed at rest
	// Epoch moves whenever the destination (URL, base DN) changes: what
	// was known of the previous one (links, exports) is dropped.
	Epoch int64
	// Contents is what the target held when syncguard first looked
	// (ContentsUnknown until then).
	Contents  string
	UpdatedAt time.Time
}

// SetSettings gives t the settings of from: its URL, base DN, bind DN
// and password, StartTLS, CA file and token (not its state).
func (t *Target) SetSettings(from *Target) {
	t.URL, t.BaseDN, t.BindDN, t.BindPassword = from.URL, from.BaseDN, from.BindDN, from.BindPassword
	t.StartTLS, t.CAFile, t.Token = from.StartTLS, from.CAFile, from.Token
}

// None reports whether t is the target "none".
func (t *Target) None() bool { return t.URL == "" || t.URL == TargetNone }

// Destination is what makes a target another directory when it changes:
// its URL and base DN (TargetNone for none).
func (t *Target) Destination() string {
	if t.None() {
		return TargetNone
	}
	return t.URL + "\x00" + strings.ToLower(t.BaseDN)
}

const targetColumns = `config_id, url, base_dn, bind_dn, bind_password, start_tls, ca_file, token, epoch, contents, updated_at`

func (s *Store) scanTarget(row scanner) (*Target, error) {
	var t Target
	var updated int64
	if err := row.Scan(&t.ConfigID, &t.URL, &t.BaseDN, &t.BindDN, s.unsealed(&t.BindPassword), &t.StartTLS, &t.CAFile,
		s.unsealed(&t.Token), &t.Epoch, &t.Contents, &updated); err != nil {
		return nil, scanError(err)
	}
	t.UpdatedAt = fromMS(updated)
	return &t, nil
}

// Target returns the target of a configuration: a Target whose URL is
// TargetNone when it has none.
func (s *Store) Target(ctx context.Context, configID int64) (*Target, error) {
	t, err := s.target(ctx, s.r, configID)
	if err != nil {
		return nil, fmt.Errorf("store: target of %d: %w", configID, err)
	}
	return t, nil
}

// target reads a configuration's target through q (the read pool or a
// transaction).
func (s *Store) target(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, configID int64) (*Target, error) {
	t, err := s.scanTarget(q.QueryRowContext(ctx, `SELECT `+targetColumns+` FROM targets WHERE config_id = ?`, configID))
	if errors.Is(err, sql.ErrNoRows) {
		return &Target{ConfigID: configID, URL: TargetNone, Contents: ContentsUnknown}, nil
	}
	return t, err
}

// SetTarget saves the settings of t (its URL, base DN, bind DN and
// password, StartTLS, CA file and token) as the target of configuration
// t.ConfigID: EditTarget with an edit that copies them. t gets the epoch,
// contents and time saved.
func (s *Store) SetTarget(ctx context.Context, t *Target, actor string) error {
	saved, err := s.EditTarget(ctx, t.ConfigID, actor, func(cur *Target) error {
		cur.SetSettings(t)
		return nil
	})
	if err != nil {
		return err
	}
	t.Epoch, t.Contents, t.UpdatedAt = saved.Epoch, saved.Contents, saved.UpdatedAt
	return nil
}

// EditTarget changes the target of a configuration in one transaction:
// edit gets the target as it is now (URL TargetNone when there is none)
// and changes its settings, so that what it leaves alone (a secret kept)
// is what is saved, whatever was saved meanwhile. An error from edit
// changes nothing and is returned as it is. What changed is audited
// ("Edited Target"; secrets only as changed).
//
// A new destination (another URL or base DN, or none) is another
// directory: the exports still queued for the old one are dropped (their
// log entries Skipped), so are the links, and the next cycle the guard
// lets through exports the whole target directory copy to the new one.
// A change of credentials only makes the exporter try again at once. It
// returns the target as saved.
func (s *Store) EditTarget(ctx context.Context, configID int64, actor string, edit func(*Target) error) (*Target, error) {
	now := s.now()
	var saved *Target
	var editErr error
	err := s.tx(ctx, func(tx *sql.Tx) error {
		old, err := s.target(ctx, tx, configID)
		if err != nil {
			return err
		}
		var name string
		if err := tx.QueryRowContext(ctx, `SELECT name FROM configurations WHERE id = ?`, configID).Scan(&name); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		t := *old
		if editErr = edit(&t); editErr != nil {
			return editErr
		}
		t.ConfigID, saved = configID, &t
		changes := describeTarget(old, &t)
		if len(changes) == 0 {
			return nil
		}
		if err := saveTarget(ctx, tx, s, old, &t, now); err != nil {
			return err
		}
		return addAudit(ctx, tx, &AuditEvent{Time: now, Actor: actor, Action: "Edited Target", ConfigID: configID,
			ConfigName: name, Details: strings.Join(changes, "; ")})
	})
	switch {
	case editErr != nil:
		return nil, editErr
	case err != nil:
		return nil, fmt.Errorf("store: set target of %d: %w", configID, err)
	}
	return saved, nil
}

// saveTarget writes t over old, dropping what was queued for old when
// the destination moved.
func saveTarget(ctx context.Context, tx *sql.Tx, s *Store, old, t *Target, now time.Time) error {
	moved := old.Destination() != t.Destination()
	if moved {
		why := "the target was removed"
		if !t.None() {
			why = "the target changed to " + t.URL
		}
		if err := dropExports(ctx, tx, t.ConfigID, why); err != nil {
			return err
		}
	}
	return writeTarget(ctx, tx, s, old, t, moved, now)
}

// createTarget saves t as the target of the configuration c just made
// (nothing for nil or none), in c's transaction: the audit of the
// creation says where it exports.
func createTarget(ctx context.Context, tx *sql.Tx, s *Store, c *Configuration, t *Target, actor string, now time.Time) error {
	if t == nil || t.None() {
		return nil
	}
	t.ConfigID = c.ID
	if err := saveTarget(ctx, tx, s, &Target{ConfigID: c.ID, URL: TargetNone, Contents: ContentsUnknown}, t, now); err != nil {
		return err
	}
	return addAudit(ctx, tx, &AuditEvent{Time: now, Actor: actor, Action: "Edited Target", ConfigID: c.ID,
		ConfigName: c.Name, Details: strings.Join(describeTarget(&Target{URL: TargetNone}, t), "; ")})
}

// writeTarget stores t over old: removed for none; with a new epoch and
// a full export to come when the destination moved; else with the
// exporter's wait cleared (new credentials deserve a try now).
func writeTarget(ctx context.Context, tx *sql.Tx, s *Store, old, t *Target, moved bool, now time.Time) error {
	if t.None() {
		_, err := tx.ExecContext(ctx, `DELETE FROM targets WHERE config_id = ?`, t.ConfigID)
		return err
	}
	epoch, contents := old.Epoch, old.Contents
	if moved {
		epoch, contents = old.Epoch+1, ContentsUnknown
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO targets (config_id, url, base_dn, bind_dn, bind_password, start_tls, ca_file,
		token, epoch, contents, full_export, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (config_id) DO UPDATE SET url = excluded.url, base_dn = excluded.base_dn, bind_dn = excluded.bind_dn,
		bind_password = excluded.bind_password, start_tls = excluded.start_tls, ca_file = excluded.ca_file,
		token = excluded.token, epoch = excluded.epoch, contents = excluded.contents,
		full_export = max(targets.full_export, excluded.full_export), retry_at = 0, retry_asked = 0, updated_at = excluded.updated_at,
		unreachable_since = CASE WHEN ? THEN 0 ELSE unreachable_since END,
		failures = CASE WHEN ? THEN 0 ELSE failures END,
		last_error = CASE WHEN ? THEN '' ELSE last_error END`,
		t.ConfigID, t.URL, t.BaseDN, t.BindDN, s.sealed(t.BindPassword), boolInt(t.StartTLS), t.CAFile, s.sealed(t.Token),
		epoch, contents, boolInt(moved), ms(now), moved, moved, moved)
	if err == nil {
		t.Epoch, t.Contents, t.UpdatedAt = epoch, contents, now
	}
	return err
}

// describeTarget lists what changed between two targets; secrets are
// never written out.
func describeTarget(old, t *Target) []string {
	var out []string
	add := func(name, a, b string) { out = addChange(out, name, a, b) }
	url := func(t *Target) string {
		if t.None() {
			return TargetNone
		}
		return t.URL
	}
	add("target", url(old), url(t))
	if t.None() {
		return out
	}
	add("target base DN", old.BaseDN, t.BaseDN)
	add("target bind DN", old.BindDN, t.BindDN)
	if old.BindPassword != t.BindPassword {
		out = append(out, "target bind password changed")
	}
	add("target StartTLS", fmt.Sprint(old.StartTLS), fmt.Sprint(t.StartTLS))
	add("target CA file", old.CAFile, t.CAFile)
	if old.Token != t.Token {
		out = append(out, "target token changed")
	}
	return out
}

// TargetState is what the exporter knows of a configuration's target and
// its queue: what the status, the Target pane and `status --json` show.
type TargetState struct {
	// Unreachable is when the target started failing with transient
	// errors (zero while it answers); LastError is the last error it gave.
	Unreachable time.Time
	LastError   string
	// Failures counts the transient failures in a row (the backoff);
	// RetryAt is when the exporter tries again; RetryAsked, that the
	// target asked for that wait (Retry-After).
	Failures   int
	RetryAt    time.Time
	RetryAsked bool
	// LastExport is when the target last took an export.
	LastExport time.Time
	// Pending and Failed count the exports waiting to be sent and those
	// the target refused (retried once per later cycle).
	Pending, Failed int
}

// TargetState returns the state of a configuration's target and queue
// (all zero for the target "none").
func (s *Store) TargetState(ctx context.Context, configID int64) (TargetState, error) {
	var st TargetState
	var since, retry, last int64
	err := s.r.QueryRowContext(ctx, `SELECT unreachable_since, last_error, failures, retry_at, retry_asked, last_export_at,
		(SELECT count(*) FROM exports WHERE config_id = ?1 AND state = 'pending'),
		(SELECT count(*) FROM exports WHERE config_id = ?1 AND state = 'failed')
		FROM targets WHERE config_id = ?1`, configID).
		Scan(&since, &st.LastError, &st.Failures, &retry, &st.RetryAsked, &last, &st.Pending, &st.Failed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("store: target state of %d: %w", configID, err)
	}
	st.Unreachable, st.RetryAt, st.LastExport = fromMS(since), fromMS(retry), fromMS(last)
	return st, nil
}

// SetTargetContents records what the target of epoch held when syncguard
// first looked (ContentsEmpty or ContentsPopulated).
func (s *Store) SetTargetContents(ctx context.Context, configID, epoch int64, contents string) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE targets SET contents = ? WHERE config_id = ? AND epoch = ?`,
		contents, configID, epoch); err != nil {
		return fmt.Errorf("store: target contents of %d: %w", configID, err)
	}
	return nil
}

// TargetUnreachable records a transient failure of the target of epoch
// that is not an export's (its writer could not be made, the first look
// failed): since when, the error, and when to try again (asked: at the
// target's request).
func (s *Store) TargetUnreachable(ctx context.Context, configID, epoch int64, msg string, retry time.Time, asked bool) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return unreachable(ctx, tx, configID, epoch, msg, s.now(), retry, asked)
	})
	if err != nil {
		return fmt.Errorf("store: target of %d unreachable: %w", configID, err)
	}
	return nil
}

func unreachable(ctx context.Context, tx *sql.Tx, configID, epoch int64, msg string, now, retry time.Time, asked bool) error {
	_, err := tx.ExecContext(ctx, `UPDATE targets SET unreachable_since = CASE WHEN unreachable_since = 0 THEN ? ELSE unreachable_since END,
		last_error = ?, failures = failures + 1, retry_at = ?, retry_asked = ? WHERE config_id = ? AND epoch = ?`,
		ms(now), msg, ms(retry), boolInt(asked), configID, epoch)
	return err
}

// AcquireExportLease makes holder the one exporter of a configuration's
// queue until the given time, when nobody holds it, its lease expired, or
// its holder is deadHolder (a process known to be gone). It reports
// whether holder has it; a configuration without a target has none.
func (s *Store) AcquireExportLease(ctx context.Context, configID int64, holder string, pid int, host, deadHolder string, until time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE targets SET lease_holder = ?, lease_pid = ?, lease_host = ?, lease_until = ?
		WHERE config_id = ? AND (lease_until <= ? OR lease_holder IN (?, ?))`,
		holder, pid, host, ms(until), configID, ms(s.now()), holder, deadHolder)
	if err != nil {
		return false, fmt.Errorf("store: export lease of %d: %w", configID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ExportLease returns who holds the export lease of a configuration:
// holder "" when nobody holds an unexpired one.
func (s *Store) ExportLease(ctx context.Context, configID int64) (holder string, pid int, host string, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT lease_holder, lease_pid, lease_host FROM targets
		WHERE config_id = ? AND lease_until > ?`, configID, ms(s.now())).Scan(&holder, &pid, &host)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, "", nil
	}
	if err != nil {
		return "", 0, "", fmt.Errorf("store: export lease of %d: %w", configID, err)
	}
	return holder, pid, host, nil
}

// ReleaseExportLease gives up holder's export lease.
func (s *Store) ReleaseExportLease(ctx context.Context, configID int64, holder string) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE targets SET lease_holder = '', lease_until = 0
		WHERE config_id = ? AND lease_holder = ?`, configID, holder); err != nil {
		return fmt.Errorf("store: release export lease of %d: %w", configID, err)
	}
	return nil
}
