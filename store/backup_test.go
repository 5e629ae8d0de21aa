package store_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func rawExec(t *testing.T, path string, queries ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range queries {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// A database written by a newer syncguard (a migration this binary does
// not know) is refused with a message saying what to do, and left exactly
// as it was: no migration, no key file.
func TestNewerDatabaseRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "syncguard.db")
	st := openAt(t, path)
	addLDAPConfiguration(t, st, "corp", bindSecret)
	st.Close()
	newer := store.SchemaVersion() + 1
	rawExec(t, path, fmt.Sprintf(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, '%03d_future.sql', 0)`, newer, newer))
	if err := os.Remove(store.DefaultSecretKeyFile(path)); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, path)

	_, err := store.Open(context.Background(), path)
	want := fmt.Sprintf("this database was written by a newer syncguard (schema %d); this binary knows up to %d: "+
		"upgrade syncguard or restore a backup", newer, store.SchemaVersion())
	if !errors.Is(err, store.ErrUnknownSchema) || !strings.Contains(err.Error(), want) {
		t.Fatalf("open = %v\nwant an error saying %q", err, want)
	}
	if fileSum(t, path) != before {
		t.Error("the refused database was changed")
	}
	if _, err := os.Stat(store.DefaultSecretKeyFile(path)); err == nil {
		t.Error("a key file was made for the refused database")
	}
	// Nor can it be restored as a backup.
	_, err = store.Restore(context.Background(), filepath.Join(t.TempDir(), "restored.db"), path, time.Now())
	if !errors.Is(err, store.ErrUnknownSchema) {
		t.Errorf("restore of a newer database = %v, want ErrUnknownSchema", err)
	}
}

// corpDatabase opens a new database in a temporary folder with one
// configuration, "corp", whose bind password is sealed.
func corpDatabase(t *testing.T) (dir, path string, st *store.Store, cfg *store.Configuration) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "syncguard.db")
	st = openAt(t, path)
	return dir, path, st, addLDAPConfiguration(t, st, "corp", bindSecret)
}

// A backup taken while Basics are saved flat out holds one committed
// state: the threshold and the audit events of the edits agree. It is owner-only, complete, and never overwrites a file unless
// asked to.
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, _, st, cfg := corpDatabase(t)

	// Each transaction edits Basics: the new threshold and its audit
	// event are committed together.
	var edits atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c := *cfg
			c.Basics.Threshold = 10 + i
			if err := st.UpdateConfiguration(ctx, &c, "writer"); err != nil {
				t.Errorf("update: %v", err)
				return
			}
			edits.Add(1)
		}
	})
	for edits.Load() < 5 {
		time.Sleep(time.Millisecond)
	}
	backups := []string{}
	for i := range 3 {
		dest := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		res, err := st.Backup(ctx, dest, false)
		if err != nil {
			t.Fatal(err)
		}
		if res.Schema != store.SchemaVersion() || res.Size == 0 || len(res.SealedWith) != 1 || res.SealedWith[0] != st.SecretKeyID() {
			t.Errorf("backup %d: %+v; want schema %d, sealed with %s", i, res, store.SchemaVersion(), st.SecretKeyID())
		}
		backups = append(backups, dest)
	}
	close(stop)
	wg.Wait()
	if edits.Load() < 10 {
		t.Fatalf("only %d edits while backing up", edits.Load())
	}
	for _, b := range backups {
		checkOwnerOnly(t, b)
		if _, err := os.Stat(b + "-wal"); err == nil {
			t.Errorf("%s has a WAL beside it", b)
		}
		db, err := sql.Open("sqlite", "file:"+b+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		var check string
		var threshold, audits int
		if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Errorf("%s: integrity_check %q, %v", b, check, err)
		}
		if err := db.QueryRow(`SELECT threshold, (SELECT count(*) FROM audit_events WHERE action = 'Edited Basics') FROM configurations`).
			Scan(&threshold, &audits); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if threshold != 10+audits {
			t.Errorf("%s: threshold %d with %d Basics edits audited: not one committed state", b, threshold, audits)
		}
	}

	// An existing file is kept unless overwrite is asked for.
	before := fileSum(t, backups[0])
	if _, err := st.Backup(ctx, backups[0], false); !errors.Is(err, store.ErrExists) {
		t.Errorf("backup over an existing file = %v, want ErrExists", err)
	}
	if fileSum(t, backups[0]) != before {
		t.Error("the existing backup was changed")
	}
	if _, err := st.Backup(ctx, backups[0], true); err != nil {
		t.Errorf("backup with overwrite: %v", err)
	}
	if n, _ := filepath.Glob(filepath.Join(dir, ".backup-*")); len(n) != 0 {
		t.Errorf("temporary files left: %v", n)
	}

	// A folder that is not there is named, not the temporary file inside it.
	missing := filepath.Join(dir, "no-such-folder")
	if _, err := st.Backup(ctx, filepath.Join(missing, "b.db"), false); err == nil ||
		!strings.Contains(err.Error(), missing+", the folder of b.db") || strings.Contains(err.Error(), ".tmp-") {
		t.Errorf("backup into a missing folder: %v; want an error naming the folder", err)
	}
}

// Restore refuses while a store or any
// SQLite connection has the database open, and refuses a damaged backup,
// changing nothing; otherwise it swaps the backup in, keeping the old
// database aside with what its WAL held.
func TestRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, path, st, cfg := corpDatabase(t)
	backup := filepath.Join(dir, "backup.db")
	if _, err := st.Backup(ctx, backup, false); err != nil {
		t.Fatal(err)
	}
	// Changed after the backup: the restore must bring back the name.
	cfg.Name = "renamed"
	if err := st.UpdateConfiguration(ctx, cfg, "test"); err != nil {
		t.Fatal(err)
	}

	_, err := store.Restore(ctx, path, backup, time.Now())
	if !errors.Is(err, store.ErrInUse) || !strings.Contains(err.Error(), store.LockFile(path)) {
		t.Errorf("restore while a store is open = %v; want ErrInUse naming the lock file", err)
	}
	st.Close()

	// A plain SQLite connection (an older syncguard, the sqlite3 shell).
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`SELECT count(*) FROM configurations`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Restore(ctx, path, backup, time.Now()); !errors.Is(err, store.ErrInUse) {
		t.Errorf("restore while a SQLite connection is open = %v; want ErrInUse", err)
	}
	db.Close()

	// A damaged backup is refused; nothing changes.
	damaged := filepath.Join(dir, "damaged.db")
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 2; i < len(b)/2+4096 && i < len(b); i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(damaged, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, path)
	if _, err := store.Restore(ctx, path, damaged, time.Now()); err == nil {
		t.Error("a damaged backup was restored")
	}
	if fileSum(t, path) != before {
		t.Error("a refused restore changed the database")
	}
	if junk, _ := filepath.Glob(filepath.Join(dir, ".syncguard.db.restore-*")); len(junk) != 0 {
		t.Errorf("temporary files left: %v", junk)
	}

	// Stopped: the backup goes in, the old database is kept.
	now := time.Date(2026, 11, 25, 10, 15, 0, 0, time.UTC)
	res, err := store.Restore(ctx, path, backup, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".before-restore-20261125T101500Z"; res.Before != want {
		t.Errorf("old database kept as %q, want %q", res.Before, want)
	}
	checkOwnerOnly(t, path)
	st = openAt(t, path)
	if got, err := st.Configuration(ctx, cfg.ID); err != nil || got.Name != "corp" || got.BindPassword != bindSecret {
		t.Errorf("restored configuration: %+v, %v; want corp with its bind password", got, err)
	}
	st.Close()
	oldDB, err := store.OpenWith(ctx, res.Before, store.Options{SecretKeyFile: store.DefaultSecretKeyFile(path)})
	if err != nil {
		t.Fatal(err)
	}
	defer oldDB.Close()
	if got, err := oldDB.Configuration(ctx, cfg.ID); err != nil || got.Name != "renamed" {
		t.Errorf("the database kept aside: %+v, %v; want the renamed configuration", got, err)
	}
}
