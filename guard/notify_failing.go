package guard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/syncguard/syncguard/store"
)

// A configuration whose cycles keep failing (a bind account disabled, a
// password expired, a server gone) changes nothing, so the guard never
// speaks: without a mail nobody knows until someone looks. After
// failingAfter failed cycles in a row one mail says so, with the error; the
// first cycle that succeeds after it says sync recovered. Both are queued
// in the cycle's own transaction, like the quarantine's.

// failingAfter is how many failed cycles in a row make sync failing.
const failingAfter = 3

// FailingSubject is the subject of the mail sent when sync keeps failing.
func FailingSubject(name string) string { return "[syncguard] Sync failing: " + name }

// RecoveredSubject is the subject of the mail sent when a cycle succeeds
// after sync was failing.
func RecoveredSubject(name string) string { return "[syncguard] Sync recovered: " + name }

// failingNotice is the mail of the failed cycle c when it is the
// failingAfter-th failed cycle in a row, else nil. A streak that cannot
// be read sends nothing: the failure is recorded all the same.
func (e *Engine) failingNotice(ctx context.Context, cfg *store.Configuration, c *store.Cycle) *store.Notification {
	if cfg.Basics.Email == "" {
		return nil
	}
	before, since, err := e.Store.FailedStreak(ctx, cfg.ID)
	if err != nil {
		e.log().Warn("failed cycles in a row", "config", cfg.Name, "err", err)
		return nil
	}
	if before+1 != failingAfter {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "syncguard could not synchronize %q: the last %d cycles failed, the first at %s.\n\n",
		cfg.Name, failingAfter, since.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "The last error:\n  %s\n\n", c.Error)
	if c.Read > 0 {
		fmt.Fprintf(&b, "It had read %d entries of the source when it failed.\n", c.Read)
	}
	b.WriteString("Nothing was changed in the target directory: a source that fails is never read as objects deleted.\n")
	b.WriteString("Sync goes on trying at every cycle; one more mail will say when it succeeds again.\n\n")
	fmt.Fprintf(&b, "The configuration's status:\n%s\n", e.StatusURL(cfg.ID))
	return &store.Notification{To: cfg.Basics.Email, Subject: FailingSubject(cfg.Name), Body: b.String()}
}

// noticeRecovery tells, in the mail of the cycle w writes, that sync works
// again when the cycles before it failed failingAfter times or more in a
// row: a cycle that succeeds queues the recovered mail; a quarantine says
// it in its own mail. A streak that cannot be read tells nothing.
func (e *Engine) noticeRecovery(ctx context.Context, cfg *store.Configuration, w *store.CycleWrite) {
	if cfg.Basics.Email == "" {
		return
	}
	before, since, err := e.Store.FailedStreak(ctx, cfg.ID)
	if err != nil {
		e.log().Warn("failed cycles in a row", "config", cfg.Name, "err", err)
		return
	}
	if before < failingAfter {
		return
	}
	failed := fmt.Sprintf("%d cycles in a row failed, from %s", before, since.UTC().Format(time.RFC3339))
	switch w.Changes.(type) {
	case store.Applied, store.Unchanged:
		var b strings.Builder
		fmt.Fprintf(&b, "syncguard synchronizes %q again: this cycle succeeded after %s.\n\n", cfg.Name, failed)
		fmt.Fprintf(&b, "The configuration's status:\n%s\n", e.StatusURL(cfg.ID))
		w.Notify = &store.Notification{To: cfg.Basics.Email, Subject: RecoveredSubject(cfg.Name), Body: b.String()}
	case store.Quarantine:
		if w.Notify != nil {
			w.Notify.Body += fmt.Sprintf("\nThis cycle read the source again after %s.\n", failed)
		}
	}
}
