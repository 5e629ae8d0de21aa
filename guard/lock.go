package guard

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/syncguard/syncguard/store"
)

// acquire takes a configuration's cycle lease. A lease held by a process of
// this host that no longer exists (it was killed) is taken over at once
// rather than after it expires.
func (e *Engine) acquire(ctx context.Context, configID int64, holder string, ttl time.Duration) (bool, error) {
	host, _ := os.Hostname()
	pid := os.Getpid()
	until := e.Store.Now().Add(ttl)
	ok, err := e.Store.AcquireCycleLock(ctx, configID, holder, pid, host, until)
	if err != nil || ok {
		return ok, err
	}
	lock, err := e.Store.ActiveCycleLock(ctx, configID)
	if errors.Is(err, store.ErrNotFound) {
		// Expired or released between the two reads: try once more.
		return e.Store.AcquireCycleLock(ctx, configID, holder, pid, host, until)
	}
	if err != nil {
		return false, err
	}
	if holderGone(lock) {
		return e.Store.TakeOverCycleLock(ctx, configID, lock.Holder, holder, pid, host, until)
	}
	return false, nil
}

// holderGone reports whether a lease's holder was a process of this host
// that no longer exists: killed without releasing it.
func holderGone(l *store.CycleLock) bool {
	host, _ := os.Hostname()
	return l.Host == host && l.PID != os.Getpid() && !processAlive(l.PID)
}

// processAlive reports whether a process with pid exists on this host.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
