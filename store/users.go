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
}

// CreateUser adds a user; a taken name is ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	u.CreatedAt = s.now()
	res, err := s.w.ExecContext(ctx, `INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)`,
		u.Name, u.PasswordHash, u.Role, ms(u.CreatedAt))
	if err != nil {
		if isUnique(err) {
			return fmt.Errorf("store: create user: %q already exists: %w", u.Name, ErrConflict)
		}
		return fmt.Errorf("store: create user: %w", err)
	}
	u.ID, err = res.LastInsertId()
	return err
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
	var u User
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, password_hash, role, created_at FROM users WHERE `+where, arg).
		Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Role, &created)
	if err == sql.ErrNoRows {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	u.CreatedAt = fromMS(created)
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
		return fmt.Errorf("%s is the last admin and cannot be %s: %w", u.Name, what, ErrConflict)
	}
	return nil
}
