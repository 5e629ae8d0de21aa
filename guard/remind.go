package guard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syncguard/syncguard/store"
)

// A quarantine nobody decides keeps sync stopped for good: the mail that
// announced it is easily missed. While one is pending, a reminder goes
// out every Basics.RemindEvery (24 hours by default; 0: never), from the
// quarantine on, each saying since when sync is stopped and what waits.

// ReminderSubject is the subject of the mail that reminds the admins
// that sync is still stopped.
func ReminderSubject(name string) string { return "[syncguard] Still stopped: " + name }

// RemindStopped queues a reminder for each configuration whose pending
// quarantine (or last reminder) is at least its RemindEvery old, and
// returns how many it queued. Two processes checking at once queue one.
// The store's clock decides (tests move it).
func (e *Engine) RemindStopped(ctx context.Context) (int, error) {
	cfgs, err := e.Store.Configurations(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, cfg := range cfgs {
		queued, err := e.remind(ctx, cfg)
		if queued {
			n++
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reminder of %s: %w", cfg.Name, err))
		}
	}
	return n, errors.Join(errs...)
}

// remind queues the reminder of one configuration when it is due.
func (e *Engine) remind(ctx context.Context, cfg *store.Configuration) (bool, error) {
	every := cfg.Basics.RemindEvery
	if cfg.QuarantineID == 0 || every <= 0 || cfg.Basics.Email == "" {
		return false, nil
	}
	q, err := e.Store.Cycle(ctx, cfg.ID, cfg.QuarantineID)
	if err != nil {
		return false, err
	}
	now := e.Store.Now()
	last := q.FinishedAt
	if cfg.RemindedAt.After(last) {
		last = cfg.RemindedAt
	}
	if now.Sub(last) < every {
		return false, nil
	}
	pending, err := e.Store.PendingStaged(ctx, cfg.ID)
	if err != nil {
		return false, err
	}
	return e.Store.QueueReminder(ctx, cfg.ID, q.ID, every, e.reminderMail(cfg, q, pending, now))
}

// reminderMail words the reminder of a quarantine still pending.
func (e *Engine) reminderMail(cfg *store.Configuration, q *store.Cycle, pending int, now time.Time) *store.Notification {
	var b strings.Builder
	fmt.Fprintf(&b, "Sync of %q is still stopped: since %s (%s ago) the guard holds the deletions of cycle %d.\n\n",
		cfg.Name, q.FinishedAt.UTC().Format(time.RFC3339), roundAgo(now.Sub(q.FinishedAt)), q.ID)
	fmt.Fprintf(&b, "%d staged changes wait for an admin", pending)
	if reached := reachedOf(q.Limits); len(reached) > 0 {
		fmt.Fprintf(&b, " (%s)", ReachedWords(reached))
	}
	b.WriteString(". Nothing is synchronized until then: no creation, no update, no deletion.\n\n")
	fmt.Fprintf(&b, "Review them, then choose Allow deletes or Restart sync:\n%s\n\n", e.StatusURL(cfg.ID))
	fmt.Fprintf(&b, "This reminder goes out every %s while sync is stopped (Basics: Remind every).\n", cfg.Basics.RemindEvery)
	return &store.Notification{To: cfg.Basics.Email, Subject: ReminderSubject(cfg.Name), Body: b.String()}
}

// reachedOf returns the limits of a cycle that it reached.
func reachedOf(limits []LimitCheck) []LimitCheck {
	var out []LimitCheck
	for _, l := range limits {
		if l.Reached {
			out = append(out, l)
		}
	}
	return out
}

// roundAgo words a duration for people: 3h, 2 days.
func roundAgo(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return d.Truncate(time.Hour).String()
	case d >= time.Minute:
		return d.Truncate(time.Minute).String()
	}
	return d.Truncate(time.Second).String()
}
