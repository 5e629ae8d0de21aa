//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// checkOwner refuses to work, as root, on a database (or, when there is
// none yet, a folder) that belongs to another user, such as the service's
// syncguard user: the files SQLite and syncguard would create beside it
// (WAL, shared memory, lock, a restored database) would belong to root,
// and the service could no longer open its own database.
func checkOwner(db string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(db)
	if errors.Is(err, fs.ErrNotExist) {
		db = filepath.Dir(db)
		fi, err = os.Stat(db)
	}
	if err != nil {
		return nil // the open says what is wrong
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	name := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return fmt.Errorf("%s belongs to user %s (uid %d), and this is root: run syncguard as that user (sudo -u %s syncguard …); "+
		"files root makes beside the database would lock the service out of it", db, name, st.Uid, name)
}
