// Package store keeps syncguard's state in SQLite: configurations, the target
// directory, cycles, the provisioning log, staged deletes, the notification
// outbox, audit events, users, agents and cycle locks.
//
// One writer connection serialises every change (immediate transactions, so a
// read-then-write never loses its snapshot); a pool of read-only connections
// serves the portal while a cycle writes.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"path"
	"runtime"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is syncguard's database.
type Store struct {
	w       *sql.DB // the one writer connection
	r       *sql.DB // read-only pool
	now     func() time.Time
	keys    *keyring // encrypts the secrets at rest
	touches touches  // sessions seen, not yet written
	lock    *useLock // held, shared, while the database is open
	path    string   // the database file
	dsn     string   // its data source name, without the writer's and readers' options
}

// Options tune OpenWith.
type Options struct {
	// SecretKeyFile holds the key that encrypts the secrets at rest; ""
	// is DefaultSecretKeyFile(path), beside the database. It is created
	// (random, 0600) when it does not exist and the database holds no
	// secret encrypted with another key.
	SecretKeyFile string
}

// Open opens (creating when needed) the SQLite database at path, with its
// secret key beside it, and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith opens the database at path as Open does, with options. The
// database and its companion files are made readable by their owner only.
// A key file that does not match the database's secrets is an error
// wrapping ErrSecretKey, here or when a secret is read.
func OpenWith(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	lock, err := sharedUse(ctx, path)
	if err != nil {
		return nil, err
	}
	s, err := openLocked(ctx, path, opts)
	if err != nil {
		lock.release()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// openLocked opens the database once its use lock is held.
func openLocked(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := ownerOnlyFiles(path); err != nil {
		return nil, err
	}
	if opts.SecretKeyFile == "" {
		opts.SecretKeyFile = DefaultSecretKeyFile(path)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)" +
		"&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, now: time.Now, path: path, dsn: base}
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// A database written by a newer syncguard is refused before anything
	// is written to it (no key made, no migration applied).
	if _, err := checkSchema(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	if s.keys, err = s.loadKeyring(ctx, opts.SecretKeyFile); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	return s, nil
}

// Close closes both connection pools, once the session uses being
// written are written.
func (s *Store) Close() error {
	s.touches.wg.Wait()
	return errors.Join(s.r.Close(), s.w.Close(), s.lock.release())
}

// SetClock replaces the clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Now returns the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// IntegrityCheck runs PRAGMA integrity_check and returns its answer ("ok" when sound).
func (s *Store) IntegrityCheck(ctx context.Context) (string, error) {
	var res string
	if err := s.w.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return "", fmt.Errorf("store: integrity check: %w", err)
	}
	return res, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	known, err := knownMigrations()
	if err != nil {
		return err
	}
	for _, m := range known {
		version, name := m.version, m.name
		body, err := migrations.ReadFile(path.Join("migrations", name))
		if err != nil {
			return fmt.Errorf("store: read migration %s: %w", name, err)
		}
		if err := s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			if step := s.migrationSteps()[version]; step != nil {
				if err := step(ctx, tx); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				version, name, ms(s.now()))
			return err
		}); err != nil {
			return fmt.Errorf("store: migration %s: %w", name, err)
		}
	}
	return nil
}

// migrationSteps are the parts of migrations that SQL cannot do, run after
// the SQL of their migration in its transaction.
func (s *Store) migrationSteps() map[int]func(context.Context, *sql.Tx) error {
	return map[int]func(context.Context, *sql.Tx) error{
		5: func(ctx context.Context, tx *sql.Tx) error {
			if err := s.sealPlaintextSecrets(ctx, tx); err != nil {
				return err
			}
			return renameControlNames(ctx, tx, s.now())
		},
		7:  widenLogChecks,
		10: countPastCycles,
	}
}

// tx runs fn in one immediate transaction on the writer.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// ms converts a time to Unix milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts Unix milliseconds to a UTC time; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// queryRows runs q on the read pool and scans every row with scan; what
// names the query in errors.
func queryRows[T any](ctx context.Context, db querier, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}
