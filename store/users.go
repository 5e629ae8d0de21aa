package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// User roles.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

// User is a person who signs in to the portal.
type User struct {
	ID           int64
	Name         string
	PasswordHash string
	Role         string
	CreatedAt    time.Time
	LastSignInAt time.Time // zero: never signed in
}

// CreateUser adds a user; a taken name is a Conflict. Nothing is audited:
// AddUser is what an admin does.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.insertUser(ctx, tx, u) }); err != nil {
		return fmt.Errorf("store: create user: %w", err)
	}
	return nil
}

// AddUser adds a user as actor did, and records it in the audit log; a
// taken name is a Conflict.
func (s *Store) AddUser(ctx context.Context, u *User, actor string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.insertUser(ctx, tx, u); err != nil {
			return err
		}
		return addAudit(ctx, tx, &AuditEvent{Time: u.CreatedAt, Actor: actor, Action: "Added user", Details: u.Name + " (" + u.Role + ")"})
	})
	if err != nil {
		return fmt.Errorf("store: add user: %w", err)
	}
	return nil
}

func (s *Store) insertUser(ctx context.Context, tx *sql.Tx, u *User) error {
	u.CreatedAt = s.now()
	res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)`,
		u.Name, u.PasswordHash, u.Role, ms(u.CreatedAt))
	if isUnique(err) {
		return Errorf(Conflict, "A user named %q already exists.", u.Name)
	}
	if err != nil {
		return err
	}
	u.ID, err = res.LastInsertId()
	return err
}

// Users returns every user, by name.
func (s *Store) Users(ctx context.Context) ([]*User, error) {
	return queryRows(ctx, s.r, "users", scanUser, `SELECT `+userColumns+` FROM users ORDER BY name`)
}

// SignedIn records that a user signed in (from where, in the audit log).
func (s *Store) SignedIn(ctx context.Context, u *User, details string) error {
	now := s.now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET last_sign_in_at = ? WHERE id = ?`, ms(now), u.ID); err != nil {
			return err
		}
		return addAudit(ctx, tx, &AuditEvent{Time: now, Actor: u.Name, Action: "Signed in", Details: details})
	})
	if err != nil {
		return fmt.Errorf("store: signed in: %w", err)
	}
	u.LastSignInAt = now
	return nil
}

// UserByName returns the user called name, or ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (*User, error) {
	u, err := s.user(ctx, `name = ?`, name)
	if err != nil {
		return nil, fmt.Errorf("store: user %q: %w", name, err)
	}
	return u, nil
}

// UserByID returns the user with id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	u, err := s.user(ctx, `id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("store: user %d: %w", id, err)
	}
	return u, nil
}

func (s *Store) user(ctx context.Context, where string, arg any) (*User, error) {
	return scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg))
}

const userColumns = `id, name, password_hash, role, created_at, last_sign_in_at`

func scanUser(row scanner) (*User, error) {
	var u User
	var created, signedIn int64
	err := row.Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Role, &created, &signedIn)
	if err == sql.ErrNoRows {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	u.CreatedAt = fromMS(created)
	if signedIn != 0 {
		u.LastSignInAt = fromMS(signedIn)
	}
	return &u, nil
}

// UserCount returns how many users exist.
func (s *Store) UserCount(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: user count: %w", err)
	}
	return n, nil
}

// SetPassword replaces a user's password hash and ends all the user's
// sessions in the same transaction: whoever knew the old password is out.
func (s *Store) SetPassword(ctx context.Context, userID int64, hash, actor string) error {
	return s.changeUser(ctx, userID, "Changed password", actor, func(tx *sql.Tx, u *User) (string, error) {
		_, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
		return "of " + u.Name, err
	})
}

// SetRole changes a user's role and ends the user's sessions (a session
// never holds a role it was not signed in with). Demoting the last admin
// is ErrConflict.
func (s *Store) SetRole(ctx context.Context, userID int64, role, actor string) error {
	if role != RoleAdmin && role != RoleViewer {
		return fmt.Errorf("store: set role: %q is not a role", role)
	}
	return s.changeUser(ctx, userID, "Changed role", actor, func(tx *sql.Tx, u *User) (string, error) {
		if u.Role == RoleAdmin && role != RoleAdmin {
			if err := notLastAdmin(ctx, tx, u, "demoted"); err != nil {
				return "", err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, role, userID)
		return u.Name + ": " + u.Role + " → " + role, err
	})
}

// RemoveUser deletes a user and the user's sessions. Removing the last
// admin is ErrConflict.
func (s *Store) RemoveUser(ctx context.Context, userID int64, actor string) error {
	return s.changeUser(ctx, userID, "Removed user", actor, func(tx *sql.Tx, u *User) (string, error) {
		if u.Role == RoleAdmin {
			if err := notLastAdmin(ctx, tx, u, "removed"); err != nil {
				return "", err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, userID)
		return u.Name + " (" + u.Role + ")", err
	})
}

// changeUser runs change on a user in one transaction, ends the user's
// sessions and records the change (action, with change's details) in the
// audit log.
func (s *Store) changeUser(ctx context.Context, userID int64, action, actor string, change func(*sql.Tx, *User) (string, error)) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var u User
		err := tx.QueryRowContext(ctx, `SELECT id, name, role FROM users WHERE id = ?`, userID).Scan(&u.ID, &u.Name, &u.Role)
		if err == sql.ErrNoRows {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		n, err := endSessions(ctx, tx, userID)
		if err != nil {
			return err
		}
		details, err := change(tx, &u)
		if err != nil {
			return err
		}
		return addAudit(ctx, tx, &AuditEvent{Time: s.now(), Actor: actor, Action: action,
			Details: fmt.Sprintf("%s; %d sessions ended", details, n)})
	})
	if err != nil {
		return fmt.Errorf("store: %s: %w", strings.ToLower(action), err)
	}
	return nil
}

func notLastAdmin(ctx context.Context, tx *sql.Tx, u *User, what string) error {
	var admins int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin'`).Scan(&admins); err != nil {
		return err
	}
	if admins <= 1 {
		return Errorf(Conflict, "%s is the last admin and cannot be %s: make another user an admin first.", u.Name, what)
	}
	return nil
}
