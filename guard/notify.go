package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/syncguard/syncguard/guard/smtp"
	"github.com/syncguard/syncguard/store"
)

// Outbox delivers the notification outbox: every message is tried until it
// is sent, permanently refused, or 24 hours old.
type Outbox struct {
	Store  *store.Store
	Sender *smtp.Sender // nil: SMTP is not configured; messages wait
	Log    *slog.Logger
	// GiveUpAfter is how long a message is retried; 0 → 24h.
	GiveUpAfter time.Duration
}

// Backoff returns the wait after the given number of failed attempts: 30
// seconds at first, doubling, at most 15 minutes.
func Backoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < 15*time.Minute; i++ {
		d *= 2
	}
	return min(d, 15*time.Minute)
}

// DeliverDue tries every due notification once and reports how many were sent.
func (o *Outbox) DeliverDue(ctx context.Context) (int, error) {
	return o.DeliverDueUntil(ctx, ctx)
}

// DeliverDueUntil tries the due notifications one by one, sending each
// with ctx, until there are none left or stop ends: a message being sent
// when stop ends is sent (or fails) and recorded, the next is not taken.
func (o *Outbox) DeliverDueUntil(stop, ctx context.Context) (int, error) {
	now := o.Store.Now()
	due, err := o.Store.DueNotifications(ctx, now, 50)
	if err != nil {
		return 0, err
	}
	sent := 0
	var errs []error
	for _, n := range due {
		if stop.Err() != nil {
			break
		}
		ok, err := o.Store.ClaimNotification(ctx, n.ID, now.Add(2*time.Minute))
		if err != nil {
			return sent, err
		}
		if !ok {
			continue // another sender has it
		}
		if err := o.deliver(ctx, n); err != nil {
			errs = append(errs, err)
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

func (o *Outbox) deliver(ctx context.Context, n *store.Notification) error {
	var err error
	if o.Sender == nil {
		err = errors.New("SMTP is not configured (set --smtp-host)")
	} else {
		err = o.Sender.Send(ctx, smtp.Message{To: n.To, Subject: n.Subject, Body: n.Body, ID: fmt.Sprintf("notification-%d", n.ID)})
	}
	now := o.Store.Now()
	// A context ended by our own shutdown is no delivery attempt.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err == nil {
		return o.Store.NotificationSent(wctx, n.ID, now)
	}
	giveUp := 24 * time.Hour
	if o.GiveUpAfter > 0 {
		giveUp = o.GiveUpAfter
	}
	permanent := smtp.IsPermanent(err)
	// Without a sender nothing was really attempted: the message waits for
	// SMTP to be configured rather than being given up after 24 hours (the
	// quarantine email would be lost).
	expired := o.Sender != nil && now.Sub(n.CreatedAt) >= giveUp
	msg := err.Error()
	if expired && !permanent {
		msg += fmt.Sprintf(" (gave up after %d attempts over %s)", n.Attempts+1, giveUp)
	}
	if err2 := o.Store.NotificationFailed(wctx, n.ID, msg, now.Add(Backoff(n.Attempts+1)), permanent || expired); err2 != nil {
		return err2
	}
	if o.Log != nil {
		o.Log.Warn("notification not sent", "id", n.ID, "to", n.To, "attempt", n.Attempts+1, "err", msg)
	}
	return fmt.Errorf("notification %d: %s", n.ID, msg)
}

// Run delivers the outbox until ctx ends, waking for each due message and
// at least every poll interval (new messages from other processes). The
// message being sent when ctx ends is finished (the sender's own timeouts
// bound it) and recorded before Run returns.
func (o *Outbox) Run(ctx context.Context, poll time.Duration, wake <-chan struct{}) {
	send := context.WithoutCancel(ctx)
	for {
		if _, err := o.DeliverDueUntil(ctx, send); err != nil && ctx.Err() == nil && o.Log != nil {
			o.Log.Debug("outbox", "err", err)
		}
		wait := poll
		if next, err := o.Store.NextNotificationDue(ctx); err == nil && !next.IsZero() {
			wait = min(wait, max(time.Until(next), 100*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func sortCounts(c []store.Count) {
	slices.SortFunc(c, func(a, b store.Count) int {
		if a.N != b.N {
			return b.N - a.N
		}
		return strings.Compare(a.Label, b.Label)
	})
}
