package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ownerOnlyFiles makes the database and its companions readable by their
// owner only. The database file is created 0600 before SQLite opens it, so
// that the WAL and shared-memory files SQLite makes beside it (which take
// the database file's mode) are 0600 too, whatever the umask; files left
// by an older syncguard (0644) are narrowed, since a umask only applies to
// new files.
func ownerOnlyFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := makeOwnerOnly(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}

// makeOwnerOnly removes the group and other permissions of a file.
func makeOwnerOnly(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(path, perm&0o700); err != nil {
			return fmt.Errorf("make %s readable by its owner only: %w", path, err)
		}
	}
	return nil
}
