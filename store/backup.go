package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A backup is written with SQLite's VACUUM INTO: one read transaction, so
// the copy is the state of the last committed transaction when it began
// (a cycle is in it whole or not at all), while cycles and the portal go
// on writing (WAL readers do not block the writer). Measured against the
// online backup API under a writer committing flat out, on a database of
// 100,000 objects: both take about as long when the backup API copies
// everything in one step, which holds the same kind of read transaction;
// copied a few pages per step, as the API is meant to be used, it starts
// over after every commit of another connection (139 restarts in one
// run), and a busy enough writer keeps it from ever finishing. VACUUM
// INTO is plain SQL, and its copy is compacted and self-contained (no
// WAL beside it).

// ErrExists means a backup would overwrite an existing file.
var ErrExists = errors.New("the file exists")

// BackupResult describes a backup file.
type BackupResult struct {
	Path   string
	Size   int64
	Schema int // the copy's schema: its newest migration
	// SealedWith lists the ids of the keys its secrets are encrypted with
	// (none when it holds no secret).
	SealedWith []string
}

// Backup writes a consistent copy of the database to dest while the
// store is in use: readable by its owner only, checked with PRAGMA
// integrity_check, and put in place whole (renamed from a temporary file
// beside it). An existing dest is an error wrapping ErrExists unless
// overwrite is set.
func (s *Store) Backup(ctx context.Context, dest string, overwrite bool) (*BackupResult, error) {
	db, err := sql.Open("sqlite", s.dsn)
	if err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	defer db.Close()
	return backup(ctx, db, dest, overwrite)
}

// BackupFile backs up the database at dbPath as Store.Backup does,
// without opening it as a Store: it applies no migration and needs no
// secret key, so it also copies a database of another syncguard version.
// It holds the database's use lock (shared) meanwhile.
func BackupFile(ctx context.Context, dbPath, dest string, overwrite bool) (*BackupResult, error) {
	if _, err := os.Stat(dbPath); err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	lock, err := sharedUse(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	defer lock.release()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: dbPath}).EscapedPath()+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	defer db.Close()
	return backup(ctx, db, dest, overwrite)
}

func backup(ctx context.Context, src *sql.DB, dest string, overwrite bool) (*BackupResult, error) {
	if !overwrite {
		if _, err := os.Lstat(dest); err == nil {
			return nil, fmt.Errorf("store: backup: %s: %w", dest, ErrExists)
		}
	}
	// VACUUM INTO writes into an empty file as well as a new one: made
	// here, it is 0600 whatever the umask.
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // the temporary file's name means nothing to the reader
			err = pe.Err
		}
		return nil, fmt.Errorf("store: backup: cannot write into %s, the folder of %s: %w", filepath.Dir(dest), filepath.Base(dest), err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpPath) // gone once linked or renamed; removes a failed one
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, tmpPath); err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	if err := syncFile(tmpPath); err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	res, err := inspect(ctx, tmpPath, false)
	if err != nil {
		return nil, fmt.Errorf("store: backup: the copy: %w", err)
	}
	if overwrite {
		err = os.Rename(tmpPath, dest)
	} else if err = os.Link(tmpPath, dest); errors.Is(err, fs.ErrExist) {
		err = fmt.Errorf("%s: %w", dest, ErrExists) // made meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	if err := syncDir(filepath.Dir(dest)); err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	res.Path = dest
	return res, nil
}

// inspect checks a database file that no one else uses (a backup, or a
// copy of one): PRAGMA integrity_check says ok, it is a syncguard
// database. With prepare, its schema must be one this binary knows (a
// backup of a newer database is a backup all the same, but is not
// restored), and it is readied to be swapped in: the cycle leases it holds
// (of processes that ran on the database it was copied from) are dropped,
// and it is left in rollback journal mode, with no WAL beside it.
func inspect(ctx context.Context, path string, prepare bool) (*BackupResult, error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		return nil, fmt.Errorf("not a readable SQLite database: %w", err)
	}
	if check != "ok" {
		return nil, fmt.Errorf("PRAGMA integrity_check says: %s", check)
	}
	res := &BackupResult{}
	if res.Schema, err = checkSchema(ctx, db); err != nil && (prepare || !errors.Is(err, ErrUnknownSchema)) {
		return nil, err
	}
	if res.Schema == 0 {
		return nil, errors.New("not a syncguard database: it has no schema_migrations table")
	}
	if res.SealedWith, err = sealedWith(ctx, db); err != nil {
		return nil, err
	}
	if prepare {
		for _, q := range []string{`PRAGMA journal_mode = DELETE`, `DELETE FROM cycle_locks`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	res.Size = fi.Size()
	return res, nil
}

// sealedWith lists the ids of the keys a database's secrets are sealed with.
func sealedWith(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT bind_password FROM configurations WHERE bind_password LIKE 'sg1:%'`)
	if err != nil {
		return nil, fmt.Errorf("read the secrets: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(v, secretPrefix), ":")
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, rows.Err()
}

// SecretKeyID returns the public id of the key in a key file: the id its
// secrets carry ("sg1:<id>:…"), to tell which key a database needs.
func SecretKeyID(path string) (string, error) {
	key, err := readKey(path)
	if err != nil {
		return "", fmt.Errorf("store: secret key file %s: %w", path, err)
	}
	k, err := newKeyring(path, key)
	if err != nil {
		return "", err
	}
	return k.id, nil
}

// SecretKeyFile is the key file the store's secrets are encrypted with.
func (s *Store) SecretKeyFile() string { return s.keys.path }

// SecretKeyID is the public id of the store's secret key.
func (s *Store) SecretKeyID() string { return s.keys.id }

// Path is the database file.
func (s *Store) Path() string { return s.path }

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// syncDir makes a rename or a link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
