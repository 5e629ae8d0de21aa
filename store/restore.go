package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RestoreResult says what a restore did.
type RestoreResult struct {
	BackupResult
	// Before is where the database that was replaced is kept ("" when
	// there was none); its WAL, if it had one left, is beside it.
	Before string
}

// Restore replaces the database at dbPath with the backup at from. It
// refuses, with an error wrapping ErrInUse, while any process has the
// database open: a syncguard process (they all hold its use lock, which
// Restore takes exclusively for the whole swap, so that one starting
// meanwhile waits for the restored file), any other SQLite connection (an
// older syncguard, the sqlite3 shell: SQLite's own locks tell), or a cycle
// lease held from another host. The backup is copied beside the database
// and checked (PRAGMA integrity_check; a syncguard schema this binary
// knows) before anything is changed; the old database is checkpointed and
// kept as dbPath.before-restore-<time>, its WAL beside it; then the copy
// is renamed into place. The backup file itself is only read.
func Restore(ctx context.Context, dbPath, from string, now time.Time) (*RestoreResult, error) {
	if err := checkBackupFile(dbPath, from); err != nil {
		return nil, fmt.Errorf("store: restore: %w", err)
	}
	lock, err := exclusiveUse(dbPath)
	if err != nil {
		return nil, fmt.Errorf("store: restore: %w", err)
	}
	defer lock.release()
	_, err = os.Stat(dbPath)
	exists := err == nil
	if exists {
		if err := quiesce(ctx, dbPath, now); err != nil {
			return nil, fmt.Errorf("store: restore: %w", err)
		}
	}
	tmp, err := copyBeside(from, dbPath)
	if err != nil {
		return nil, fmt.Errorf("store: restore: %w", err)
	}
	defer os.Remove(tmp) // gone once renamed into place
	checked, err := inspect(ctx, tmp, true)
	if err != nil {
		return nil, fmt.Errorf("store: restore: %s: %w", from, err)
	}
	res := &RestoreResult{BackupResult: *checked}
	res.Path = dbPath
	if exists {
		if res.Before, err = moveAside(dbPath, now); err != nil {
			return nil, fmt.Errorf("store: restore: keep the database it replaces: %w", err)
		}
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return nil, fmt.Errorf("store: restore: %w", err)
	}
	if err := syncDir(filepath.Dir(dbPath)); err != nil {
		return nil, fmt.Errorf("store: restore: %w", err)
	}
	return res, nil
}

// checkBackupFile refuses what cannot be a backup to restore.
func checkBackupFile(dbPath, from string) error {
	fi, err := os.Stat(from)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", from)
	}
	if cur, err := os.Stat(dbPath); err == nil && os.SameFile(fi, cur) {
		return fmt.Errorf("%s is the database itself", from)
	}
	if wal, err := os.Stat(from + "-wal"); err == nil && wal.Size() > 0 {
		return fmt.Errorf("%s has a write-ahead log beside it (%s): it is a database in use or not closed cleanly, not a backup; "+
			"make a backup of it (syncguard backup --db %s --to FILE) and restore that", from, from+"-wal", from)
	}
	return nil
}

// quiesce makes sure no other process uses the database, and merges its
// WAL into it, so that the file moved aside is whole. A database too
// damaged to open is left as it is, to be moved aside with its WAL.
func quiesce(ctx context.Context, dbPath string, now time.Time) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: dbPath}).EscapedPath()+
		"?mode=rw&_pragma=busy_timeout(200)&_pragma=locking_mode(EXCLUSIVE)")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil // unreadable: nothing to merge
	}
	defer conn.Close()
	// In exclusive locking mode a write transaction keeps the database
	// locked after it ends; it cannot begin while any other connection
	// has the database open (WAL mode) or is using it.
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		if strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked") {
			return inUsef("another process has the database open (SQLite reports it locked)")
		}
		return nil // damaged: moved aside as it is
	}
	var holder, host string
	var pid int
	err = conn.QueryRowContext(ctx, `SELECT holder, pid, host FROM cycle_locks WHERE expires_at > ? LIMIT 1`, ms(now)).Scan(&holder, &pid, &host)
	conn.ExecContext(ctx, `COMMIT`)
	if err == nil {
		me, _ := os.Hostname()
		if host != me {
			return inUsef("a cycle is running on host %s (process %d) on this database", host, pid)
		}
		// A lease of this host's processes whose holder is gone: every
		// live one would hold the use lock.
	}
	conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return nil
}

// copyBeside copies the backup to a new owner-only file in the database's
// directory (so that the rename into place is atomic) and returns its path.
func copyBeside(from, dbPath string) (string, error) {
	in, err := os.Open(from)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dbPath), "."+filepath.Base(dbPath)+".restore-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if err = errors.Join(err, out.Sync(), out.Close()); err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

// moveAside renames the database, and the WAL, shared-memory or journal
// file left beside it, to dbPath.before-restore-<time>[-N] and returns that
// name.
func moveAside(dbPath string, now time.Time) (string, error) {
	base := dbPath + ".before-restore-" + now.UTC().Format("20060102T150405Z")
	before := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(before); errors.Is(err, fs.ErrNotExist) {
			break
		}
		before = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(dbPath, before); err != nil {
		return "", err
	}
	for _, ext := range []string{"-wal", "-journal", "-shm"} {
		if err := os.Rename(dbPath+ext, before+ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return before, err
		}
	}
	return before, nil
}
