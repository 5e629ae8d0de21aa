package store

import (
	"context"
	"database/sql"
	"fmt"
)

// SettingOrInit returns the value stored under key; when there is none it
// stores and returns init(). Two processes racing get the same value.
func (s *Store) SettingOrInit(ctx context.Context, key string, init func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err == nil {
		return v, nil
	}
	if err != sql.ErrNoRows {
		return nil, fmt.Errorf("store: setting %s: %w", key, err)
	}
	fresh, err := init()
	if err != nil {
		return nil, fmt.Errorf("store: setting %s: %w", key, err)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, fresh); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("store: setting %s: %w", key, err)
	}
	return v, nil
}
