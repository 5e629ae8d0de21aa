package guard

import (
	"context"
	"errors"
	"time"

	"github.com/syncguard/syncguard/store"
)

// StatusRunning is the status of a configuration whose cycle is in progress.
const StatusRunning = "running"

// StatusTargetUnreachable is the status of a configuration whose exports
// wait on transient target errors: sync goes on (SPEC section 4).
const StatusTargetUnreachable = "target_unreachable"

// Status is a configuration's status as people see it.
type Status struct {
	Code  string // healthy, quarantined, error, not_run, running, target_unreachable
	Text  string // as SPEC's status table words it
	Error string // the last cycle's error, when Code is error; the target's, when target_unreachable
	Lock  *store.CycleLock
	// Since is when the target became unreachable (target_unreachable).
	Since time.Time
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
	case StatusTargetUnreachable:
		return "Target unreachable"
	}
	return "Not run yet"
}

// StatusOf returns a configuration's status: running while a cycle holds its
// lock (unless quarantined, which stays the headline), else the stored one;
// a healthy configuration whose target is unreachable says so.
func StatusOf(ctx context.Context, st *store.Store, cfg *store.Configuration) (Status, error) {
	ts, err := st.TargetState(ctx, cfg.ID)
	if err != nil {
		return Status{}, err
	}
	return statusOf(ctx, st, cfg, ts)
}

func statusOf(ctx context.Context, st *store.Store, cfg *store.Configuration, ts store.TargetState) (Status, error) {
	s := Status{Code: cfg.Status, Error: cfg.StatusError}
	if s.Code == store.StatusHealthy && !ts.Unreachable.IsZero() {
		s.Code, s.Error, s.Since = StatusTargetUnreachable, ts.LastError, ts.Unreachable
	}
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

// Overview is a configuration at a glance, as the portal's pages and the
// status command show it: its status, the guard's limits, its counts and
// its last cycle. Whatever a front end shows of a configuration beside its
// settings belongs here (SPEC section 9 adds the target's exports and since
// when sync is stopped), so that the portal and the command line build it
// once.
type Overview struct {
	Config *store.Configuration
	Status Status
	// Limits lists every kind of limit (LimitsOf) with what the
	// configuration sets now and what the reference cycle counted: the
	// pending quarantine, else the last cycle that planned.
	Limits []LimitCheck
	// Users and Groups count the target directory.
	Users, Groups int
	// PendingStaged counts the staged changes waiting for an admin: those
	// of the pending quarantine.
	PendingStaged int
	// LastCycle is the newest cycle; nil before the first.
	LastCycle *store.Cycle
	// Quarantine is the pending quarantine (nil when none) and
	// StoppedSince when it stopped sync. LastQuarantine is the newest
	// quarantine, pending or decided (nil when the guard never tripped).
	Quarantine     *store.Cycle
	StoppedSince   time.Time
	LastQuarantine *store.Cycle
	// Told is the mail that announced the last quarantine (nil when none
	// was queued: no notification address).
	Told *store.Notification
	// Target is where the configuration exports, and how its queue stands.
	Target TargetOverview
	// Held is what the configuration holds before deletions become final.
	Held store.HeldSummary
}

// TargetOverview is a configuration's target at a glance: its settings
// (never a secret) and its queue.
type TargetOverview struct {
	Kind   string // TargetNone, TargetLDAP or TargetSCIM
	URL    string
	BaseDN string
	State  store.TargetState
}

// OverviewOf reads the overview of a configuration.
func OverviewOf(ctx context.Context, st *store.Store, cfg *store.Configuration) (*Overview, error) {
	o := &Overview{Config: cfg}
	t, err := st.Target(ctx, cfg.ID)
	if err != nil {
		return nil, err
	}
	o.Target = TargetOverview{Kind: TargetKind(t.URL), URL: t.URL, BaseDN: t.BaseDN}
	if o.Target.State, err = st.TargetState(ctx, cfg.ID); err != nil {
		return nil, err
	}
	if o.Status, err = statusOf(ctx, st, cfg, o.Target.State); err != nil {
		return nil, err
	}
	if o.Users, o.Groups, err = st.ObjectCounts(ctx, cfg.ID); err != nil {
		return nil, err
	}
	if o.PendingStaged, err = st.PendingStaged(ctx, cfg.ID); err != nil {
		return nil, err
	}
	if o.Held, err = st.HeldSummary(ctx, store.HeldQuery{ConfigID: cfg.ID}); err != nil {
		return nil, err
	}
	if o.LastCycle, err = orNil(st.LastCycle(ctx, cfg.ID)); err != nil {
		return nil, err
	}
	if o.LastQuarantine, err = orNil(st.LastQuarantine(ctx, cfg.ID)); err != nil {
		return nil, err
	}
	ref := o.LastCycle
	if q := o.LastQuarantine; q != nil && q.ID == cfg.QuarantineID {
		o.Quarantine, o.StoppedSince, ref = q, q.FinishedAt, q
	}
	if ref != nil && ref.Held {
		ref = o.LastQuarantine // a held cycle counts nothing
	}
	var counts []LimitCheck
	if ref != nil {
		counts = ref.Limits
	}
	o.Limits = LimitsOf(cfg.Basics, counts)
	if q := o.LastQuarantine; q != nil {
		ns, err := st.CycleNotifications(ctx, cfg.ID, q.ID)
		if err != nil {
			return nil, err
		}
		if len(ns) > 0 {
			o.Told = ns[0]
		}
	}
	return o, nil
}

// orNil turns a cycle not found into nil.
func orNil(c *store.Cycle, err error) (*store.Cycle, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return c, err
}
