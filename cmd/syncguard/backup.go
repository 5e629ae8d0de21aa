package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/syncguard/syncguard/store"
)

func cmdBackup(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "backup")
	to := fs.String("to", "", "the backup `file` to write (readable by its owner only)")
	force := fs.Bool("force", false, "replace the file if it exists")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *to == "" {
		return usageError("backup: --to FILE is required")
	}
	if err := checkOwner(c.DB); err != nil {
		return err
	}
	if _, err := os.Stat(c.DB); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no database at %s (--db or SYNCGUARD_DB names it)", c.DB)
	}
	start := time.Now()
	res, err := store.BackupFile(ctx, c.DB, *to, *force)
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("%s exists: choose another name, or add --force to replace it", *to)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "backup of %s written to %s in %s: %s, schema %d, integrity ok\n", c.DB, res.Path,
		time.Since(start).Round(time.Millisecond), size(res.Size), res.Schema)
	keyNote(c.Stdout, c.secretKeyPath(), res.SealedWith, "backup")
	return nil
}

// keyNote says where the secret key is and that a backup does not hold it.
func keyNote(w io.Writer, keyFile string, sealedWith []string, what string) {
	id, err := store.SecretKeyID(keyFile)
	switch {
	case err != nil && len(sealedWith) == 0:
		fmt.Fprintf(w, "The %s holds no encrypted secret (bind password) yet.\n", what)
		return
	case err != nil:
		fmt.Fprintf(w, "The secrets in the %s (bind passwords) are encrypted with key %s, and the secret key file %s cannot be read: %v\n",
			what, strings.Join(sealedWith, ", "), keyFile, err)
	case len(sealedWith) == 0:
		fmt.Fprintf(w, "The %s holds no encrypted secret yet; the secret key is %s (key %s).\n", what, keyFile, id)
	case !slices.Equal(sealedWith, []string{id}):
		fmt.Fprintf(w, "The secrets in the %s (bind passwords) are encrypted with key %s, but %s holds key %s: "+
			"put the key file kept with the backup there, or name it with --secret-key-file.\n", what, strings.Join(sealedWith, ", "), keyFile, id)
	default:
		fmt.Fprintf(w, "The secrets in the %s (bind passwords) are encrypted with key %s, kept in %s.\n", what, id, keyFile)
	}
	if what == "backup" {
		fmt.Fprintln(w, "The secret key is NOT in the backup: keep a copy of the key file apart from it. A backup without its key"+
			" holds no readable secret, and every bind password would have to be entered again.")
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func cmdRestoreBackup(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "restore-backup")
	from := fs.String("from", "", "the backup `file` to restore (it is only read)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *from == "" {
		return usageError("restore-backup: --from FILE is required")
	}
	if err := checkOwner(c.DB); err != nil {
		return err
	}
	res, err := store.Restore(ctx, c.DB, *from, time.Now())
	if errors.Is(err, store.ErrInUse) {
		return fmt.Errorf("%w: stop it first (systemctl stop syncguard); nothing was changed", err)
	}
	if err != nil {
		return fmt.Errorf("%w; nothing was changed", err)
	}
	fmt.Fprintf(c.Stdout, "restored %s from %s: %s, schema %d, integrity ok\n", c.DB, *from, size(res.Size), res.Schema)
	if res.Before != "" {
		fmt.Fprintf(c.Stdout, "The database it replaced is kept as %s.\n", res.Before)
	}
	if res.Schema < store.SchemaVersion() {
		fmt.Fprintf(c.Stdout, "Its schema (%d) is older than this syncguard's (%d): it is migrated when syncguard next opens it.\n",
			res.Schema, store.SchemaVersion())
	}
	keyNote(c.Stdout, c.secretKeyPath(), res.SealedWith, "restored database")
	fmt.Fprintln(c.Stdout, "Start syncguard again (systemctl start syncguard).")
	return nil
}

// backups takes a backup of the database every interval into a folder,
// named after the database and the time (syncguard-20261125T101500Z.db),
// and keeps the newest keep of them. The first comes at start when the
// newest in the folder is older than the interval.
type backups struct {
	st      *store.Store
	dir     string
	every   time.Duration
	keep    int
	log     *slog.Logger
	keyFile string
}

const backupStamp = "20060102T150405Z"

func (b *backups) prefix() string {
	base := filepath.Base(b.st.Path())
	return strings.TrimSuffix(base, filepath.Ext(base)) + "-"
}

// list returns the backups of the folder, oldest first, with their times.
func (b *backups) list() ([]string, []time.Time) {
	entries, _ := os.ReadDir(b.dir)
	var names []string
	var times []time.Time
	for _, e := range entries {
		stamp, ok := strings.CutPrefix(e.Name(), b.prefix())
		stamp, ok2 := strings.CutSuffix(stamp, ".db")
		t, err := time.Parse(backupStamp, stamp)
		if !ok || !ok2 || err != nil || !e.Type().IsRegular() {
			continue // not one of ours
		}
		names = append(names, filepath.Join(b.dir, e.Name()))
		times = append(times, t)
	}
	return names, times // ReadDir sorts by name: by time
}

func (b *backups) run(ctx context.Context) {
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		b.log.Error("backups: make the folder", "dir", b.dir, "err", err)
		return
	}
	for {
		next := time.Now()
		if _, times := b.list(); len(times) > 0 {
			// A clock set back does not postpone the next one for long.
			if due := times[len(times)-1].Add(b.every); due.Before(next.Add(b.every)) {
				next = due
			} else {
				next = next.Add(b.every)
			}
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		b.take(ctx)
	}
}

// take writes one backup and prunes the oldest beyond keep.
func (b *backups) take(ctx context.Context) {
	now := time.Now().UTC()
	path := filepath.Join(b.dir, b.prefix()+now.Format(backupStamp)+".db")
	start := time.Now()
	res, err := b.st.Backup(ctx, path, false)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Error("backup failed", "file", path, "err", err)
		}
		// Try again in a while rather than at once.
		select {
		case <-ctx.Done():
		case <-time.After(min(b.every, 10*time.Minute)):
		}
		return
	}
	b.log.Info("backup", "file", res.Path, "bytes", res.Size, "took", time.Since(start).Round(time.Millisecond).String(),
		"key_file", b.keyFile, "key_in_backup", false)
	names, _ := b.list()
	for len(names) > b.keep {
		if err := os.Remove(names[0]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.log.Error("backup: remove an old one", "file", names[0], "err", err)
		} else {
			b.log.Info("backup removed", "file", names[0], "keep", b.keep)
		}
		names = names[1:]
	}
}
