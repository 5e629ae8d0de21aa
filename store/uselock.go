package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Every Store holds a shared advisory lock (flock) on a file beside the
// database, PATH.lock, from before it opens the database until it is
// closed: serve, sync, status, backup, every syncguard process. Restoring
// a backup takes it exclusively, which tells reliably whether any
// syncguard process has the database open (the kernel drops the lock of a
// process that dies, so it is never stale), and makes processes that start
// meanwhile wait for the restored file rather than open the one being
// replaced. The lock file is never removed: removing it would let two
// processes lock two different files.

// ErrInUse means another process has the database open: a restore cannot
// replace it under them.
var ErrInUse = errors.New("the database is in use")

// inUse is ErrInUse saying who uses the database.
type inUse string

func (e inUse) Error() string        { return string(e) }
func (e inUse) Is(target error) bool { return target == ErrInUse }

func inUsef(format string, a ...any) error { return inUse(fmt.Sprintf(format, a...)) }

// LockFile is the advisory lock file of the database at dbPath.
func LockFile(dbPath string) string { return dbPath + ".lock" }

// useLock is a held lock on a database's lock file.
type useLock struct{ f *os.File }

// openWait is how long opening a database waits for a restore to finish.
const openWait = 2 * time.Minute

// sharedUse takes the shared lock every open Store holds, waiting (up to
// openWait, or until ctx ends) while a restore holds it exclusively.
func sharedUse(ctx context.Context, dbPath string) (*useLock, error) {
	f, err := os.OpenFile(LockFile(dbPath), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock file: %w", err)
	}
	deadline := time.Now().Add(openWait)
	for {
		ok, err := tryLock(f, false)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("store: lock %s: %w", f.Name(), err)
		}
		if ok {
			return &useLock{f}, nil
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("store: %s is being restored from a backup (a syncguard process holds %s): try again when it is done",
				dbPath, f.Name())
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("store: waiting for the restore of %s: %w", dbPath, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// exclusiveUse takes the lock exclusively, at once or not at all: an error
// wrapping ErrInUse names the processes that hold it, when it can tell.
func exclusiveUse(dbPath string) (*useLock, error) {
	f, err := os.OpenFile(LockFile(dbPath), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock file: %w", err)
	}
	ok, err := tryLock(f, true)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: lock %s: %w", f.Name(), err)
	}
	if !ok {
		who := lockHolders(f)
		f.Close()
		if who == "" {
			who = "another syncguard process"
		}
		return nil, inUsef("%s has the database open (it holds %s)", who, LockFile(dbPath))
	}
	return &useLock{f}, nil
}

// release drops the lock.
func (l *useLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
