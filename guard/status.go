package guard

import (
	"context"
	"errors"

	"github.com/syncguard/syncguard/store"
)

// StatusRunning is the status of a configuration whose cycle is in progress.
const StatusRunning = "running"

// Status is a configuration's status as people see it.
type Status struct {
	Code  string // healthy, quarantined, error, not_run, running
	Text  string // as SPEC's status table words it
	Error string // the last cycle's error, when Code is error
	Lock  *store.CycleLock
}

// StatusText words a status code.
func StatusText(code string) string {
	switch code {
	case store.StatusHealthy:
		return "Healthy"
	case store.StatusQuarantined:
		return "Delete threshold exceeded"
	case store.StatusError:
		return "Error"
	case StatusRunning:
		return "Running"
	}
	return "Not run yet"
}

// StatusOf returns a configuration's status: running while a cycle holds its
// lock (unless quarantined, which stays the headline), else the stored one.
func StatusOf(ctx context.Context, st *store.Store, cfg *store.Configuration) (Status, error) {
	s := Status{Code: cfg.Status, Error: cfg.StatusError}
	lock, err := st.ActiveCycleLock(ctx, cfg.ID)
	switch {
	case err == nil && holderGone(lock):
		// Killed while it held the lease: nothing runs; the next cycle takes it over.
	case err == nil:
		s.Lock = lock
		if cfg.Status != store.StatusQuarantined {
			s.Code, s.Error = StatusRunning, ""
		}
	case !errors.Is(err, store.ErrNotFound):
		return s, err
	}
	s.Text = StatusText(s.Code)
	return s, nil
}
