package store

import (
	"context"
	"database/sql"
	"fmt"
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
	var u User
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, password_hash, role, created_at FROM users WHERE name = ?`, name).
		Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Role, &created)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: user %q: %w", name, err)
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
