package guard

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/smtp"
	"github.com/syncguard/syncguard/guard/smtp/smtptest"
	"github.com/syncguard/syncguard/store"
)

// tripGuard trips the guard of a fresh configuration with the given email:
// 4 Sales and 2 Engineering users leave the source, against a threshold of 5.
func tripGuard(t *testing.T, email string) (*env, *store.Cycle) {
	t.Helper()
	dir := newDirectory(6)
	e := newLDIFEnv(t, dir, store.Basics{Email: email, Prevent: true, Threshold: 5})
	e.runWant(store.OutcomeSucceeded)
	next := dir.clone()
	next.remove("s0", "s1", "s2", "s3", "e0", "e1")
	e.write(next)
	return e, e.runWant(store.OutcomeQuarantined)
}

// checkQuarantineMail checks the text of the quarantine email.
func checkQuarantineMail(t *testing.T, e *env, subject, body string) {
	t.Helper()
	if want := "[syncguard] Delete threshold exceeded: corp"; subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	for _, re := range []string{
		`\b6 objects\b`, // the count
		`threshold of 5\b`,
		`(?m)^\s*4\s+ou=Sales,dc=corp,dc=example$`, // the OU breakdown
		`(?m)^\s*2\s+ou=Engineering,dc=corp,dc=example$`,
		`(?m)^\s*users\s+6$`,
		regexp.QuoteMeta(fmt.Sprintf("https://sync.example.com/configurations/%d/status", e.id)),
	} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("body does not match %s:\n%s", re, body)
		}
	}
}

// TestQuarantineNotification: tripping the guard queues exactly one email;
// cycles that re-check the quarantine queue no more.
func TestQuarantineNotification(t *testing.T) {
	t.Parallel()
	e, q := tripGuard(t, "admins@corp.example")
	for range 2 {
		e.run(TriggerSchedule)
	}
	ns := e.notifications()
	if len(ns) != 1 {
		t.Fatalf("%d notifications, want 1", len(ns))
	}
	n := ns[0]
	if n.To != "admins@corp.example" || n.Status != store.MailPending || n.CycleID != q.ID || n.ConfigID != e.id {
		t.Errorf("notification %+v, want pending to admins@corp.example for cycle %d", n, q.ID)
	}
	checkQuarantineMail(t, e, n.Subject, n.Body)

	// And as it arrives at a real SMTP server.
	srv := smtptest.Start(t, smtptest.Options{})
	o := &Outbox{Store: e.st, Sender: newSender(t, srv)}
	if sent, err := o.DeliverDue(t.Context()); sent != 1 || err != nil {
		t.Fatalf("DeliverDue = %d, %v; want 1, nil", sent, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "admins@corp.example" {
		t.Fatalf("server received %+v", msgs)
	}
	checkQuarantineMail(t, e, msgs[0].Subject, msgs[0].Body)
}

// TestNoEmailNoNotification: without a notification address nothing is queued.
func TestNoEmailNoNotification(t *testing.T) {
	t.Parallel()
	e, _ := tripGuard(t, "")
	if n := e.notifications(); len(n) != 0 {
		t.Errorf("%d notifications queued without an address", len(n))
	}
}

func newSender(t *testing.T, srv *smtptest.Server) *smtp.Sender {
	t.Helper()
	s, err := smtp.NewSender(smtp.Config{Host: srv.Host, Port: srv.Port, TLS: smtp.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// notification returns the one notification of the outbox.
func notification(t *testing.T, e *env) *store.Notification {
	t.Helper()
	ns := e.notifications()
	if len(ns) != 1 {
		t.Fatalf("%d notifications, want 1", len(ns))
	}
	return ns[0]
}

// deliver runs DeliverDue under a deadline and fails the test if the call
// only returned because the deadline cut it short.
func deliver(t *testing.T, o *Outbox) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	sent, err := o.DeliverDue(ctx)
	if ctx.Err() != nil {
		t.Fatalf("DeliverDue hung until its deadline: %v", err)
	}
	return sent, err
}

// TestOutboxServerDownThenBack: an unreachable SMTP server costs one quick
// failed attempt; once it is back and the retry is due, the message is sent
// exactly once.
func TestOutboxServerDownThenBack(t *testing.T) {
	t.Parallel()
	e, _ := tripGuard(t, "admins@corp.example")
	srv := smtptest.Start(t, smtptest.Options{})
	o := &Outbox{Store: e.st, Sender: newSender(t, srv)}
	srv.Close()

	sent, err := deliver(t, o)
	if sent != 0 || err == nil {
		t.Errorf("DeliverDue with the server down = %d, %v; want 0 and an error", sent, err)
	}
	n := notification(t, e)
	if n.Status != store.MailPending || n.Attempts != 1 || !strings.Contains(n.LastError, "connection refused") ||
		!strings.Contains(n.LastError, srv.Addr) {
		t.Errorf("notification %+v, want pending after 1 attempt with a connection error", n)
	}
	if got, want := n.NextAttemptAt, n.CreatedAt.Add(30*time.Second); !got.Equal(want) {
		t.Errorf("next attempt at %v, want %v (30s later)", got, want)
	}

	srv.Restart(t)
	if sent, err := deliver(t, o); sent != 0 || err != nil || srv.Attempts() != 0 {
		t.Errorf("DeliverDue before the retry is due = %d, %v (%d attempts); want nothing", sent, err, srv.Attempts())
	}
	e.clock.Advance(30 * time.Second)
	if sent, err := deliver(t, o); sent != 1 || err != nil {
		t.Fatalf("DeliverDue with the server back = %d, %v; want 1, nil", sent, err)
	}
	n = notification(t, e)
	if n.Status != store.MailSent || n.Attempts != 2 || n.LastError != "" || !n.SentAt.Equal(e.clock.Now()) {
		t.Errorf("notification %+v, want sent after 2 attempts", n)
	}
	e.clock.Advance(time.Hour)
	if sent, err := deliver(t, o); sent != 0 || err != nil {
		t.Errorf("DeliverDue again = %d, %v; want 0", sent, err)
	}
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("server received %d messages, want 1", got)
	}
}

// TestOutboxRetries: a permanent refusal (5xx) fails at once; a temporary one
// (4xx) is retried and then sent; a message still failing after 24 hours is
// given up.
func TestOutboxRetries(t *testing.T) {
	t.Parallel()
	type step struct {
		advance  time.Duration
		sent     int
		status   string
		attempts int
		errText  string
	}
	tests := []struct {
		name     string
		setup    func(*smtptest.Server)
		steps    []step
		messages int
	}{
		{"5xx is not retried", func(s *smtptest.Server) { s.FailNext(1, smtptest.RefusePerm) }, []step{
			{0, 0, store.MailFailed, 1, "550"},
			{time.Hour, 0, store.MailFailed, 1, "550"},
		}, 0},
		{"4xx then 2xx", func(s *smtptest.Server) { s.FailNext(1, smtptest.RefuseTemp) }, []step{
			{0, 0, store.MailPending, 1, "451"},
			{30 * time.Second, 1, store.MailSent, 2, ""},
			{time.Hour, 0, store.MailSent, 2, ""},
		}, 1},
		{"given up after 24h", func(s *smtptest.Server) { s.SetMode(smtptest.RefuseTemp) }, []step{
			{0, 0, store.MailPending, 1, "451"},
			{30 * time.Second, 0, store.MailPending, 2, "451"},
			{24 * time.Hour, 0, store.MailFailed, 3, "gave up"},
			{time.Hour, 0, store.MailFailed, 3, "gave up"},
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _ := tripGuard(t, "admins@corp.example")
			srv := smtptest.Start(t, smtptest.Options{})
			tt.setup(srv)
			o := &Outbox{Store: e.st, Sender: newSender(t, srv)}
			for i, s := range tt.steps {
				e.clock.Advance(s.advance)
				sent, _ := deliver(t, o)
				n := notification(t, e)
				if sent != s.sent || n.Status != s.status || n.Attempts != s.attempts || !strings.Contains(n.LastError, s.errText) {
					t.Errorf("step %d: sent %d, notification %s after %d attempts (%q); want %d, %s after %d (%q)",
						i, sent, n.Status, n.Attempts, n.LastError, s.sent, s.status, s.attempts, s.errText)
				}
			}
			if got := len(srv.Messages()); got != tt.messages {
				t.Errorf("server received %d messages, want %d", got, tt.messages)
			}
		})
	}
}

// TestBackoff: 30 seconds after the first failure, doubling, at most 15 minutes.
func TestBackoff(t *testing.T) {
	t.Parallel()
	for attempts, want := range map[int]time.Duration{
		1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 4: 4 * time.Minute, 5: 8 * time.Minute,
		6: 15 * time.Minute, 7: 15 * time.Minute, 100: 15 * time.Minute, 1 << 20: 15 * time.Minute,
	} {
		if got := Backoff(attempts); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", attempts, got, want)
		}
	}
}

// TestOutboxWithoutSMTPKeepsMessages: with no SMTP server configured the
// outbox shows why nothing is sent, but never gives a message up: it goes
// out once a server is configured, even days later.
func TestOutboxWithoutSMTPKeepsMessages(t *testing.T) {
	t.Parallel()
	e, _ := tripGuard(t, "admins@corp.example")
	o := &Outbox{Store: e.st}
	for range 3 {
		if sent, err := deliver(t, o); sent != 0 || err == nil {
			t.Errorf("DeliverDue without SMTP = %d, %v; want 0 and an error", sent, err)
		}
		e.clock.Advance(25 * time.Hour)
	}
	n := notification(t, e)
	if n.Status != store.MailPending || !strings.Contains(n.LastError, "SMTP is not configured") {
		t.Errorf("notification %+v, want pending, saying SMTP is not configured", n)
	}
	srv := smtptest.Start(t, smtptest.Options{})
	o.Sender = newSender(t, srv)
	if sent, err := deliver(t, o); sent != 1 || err != nil {
		t.Errorf("DeliverDue once SMTP is configured = %d, %v; want 1", sent, err)
	}
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("server received %d messages, want 1", got)
	}
}

// TestOutboxConcurrentSendersDeliverOnce: senders in several processes on
// one database (serve and a sync command) never deliver a message twice.
func TestOutboxConcurrentSendersDeliverOnce(t *testing.T) {
	t.Parallel()
	e, _ := tripGuard(t, "admins@corp.example")
	srv := smtptest.Start(t, smtptest.Options{})
	sender := newSender(t, srv)
	const senders = 6
	outboxes := make([]*Outbox, senders)
	for i := range outboxes {
		st := e.st
		if i%2 == 1 {
			st = openStore(t, e.db, e.clock) // another process
		}
		outboxes[i] = &Outbox{Store: st, Sender: sender}
	}
	start := make(chan struct{})
	sent := make(chan int, senders)
	var wg sync.WaitGroup
	for _, o := range outboxes {
		wg.Go(func() {
			<-start
			n, err := o.DeliverDue(t.Context())
			if err != nil {
				t.Errorf("DeliverDue: %v", err)
			}
			sent <- n
		})
	}
	close(start)
	wg.Wait()
	close(sent)
	total := 0
	for n := range sent {
		total += n
	}
	if total != 1 || len(srv.Messages()) != 1 {
		t.Errorf("senders report %d sent, server received %d; want 1", total, len(srv.Messages()))
	}
	if n := notification(t, e); n.Status != store.MailSent || n.Attempts != 1 {
		t.Errorf("notification %+v, want sent after 1 attempt", n)
	}
}
