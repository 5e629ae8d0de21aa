package guard

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/smtp"
	"github.com/syncguard/syncguard/guard/smtp/smtptest"
	"github.com/syncguard/syncguard/store"
)

// The mail faults notify_test.go does not inject: a connection dropped
// mid-message, a server that accepts and never answers, a sender that died
// holding a message, and several senders looping over one outbox against a
// flaky server.

// TestOutboxServerClosesMidMessage: a connection dropped while the message
// is being transferred is a failed attempt, retried after the backoff, and
// the message arrives exactly once.
func TestOutboxServerClosesMidMessage(t *testing.T) {
	t.Parallel()
	e, _ := tripGuard(t, "admins@corp.example")
	srv := smtptest.Start(t, smtptest.Options{})
	srv.FailNext(1, smtptest.CloseMidMessage)
	o := &Outbox{Store: e.st, Sender: newSender(t, srv)}
	if sent, err := deliver(t, o); sent != 0 || err == nil {
		t.Errorf("DeliverDue with the connection dropped = %d, %v; want 0 and an error", sent, err)
	}
	n := notification(t, e)
	if n.Status != store.MailPending || n.Attempts != 1 || n.LastError == "" {
		t.Errorf("notification %+v, want pending after 1 attempt, with its error", n)
	}
	t.Logf("attempt 1: %s", n.LastError)
	e.clock.Advance(30 * time.Second)
	if sent, err := deliver(t, o); sent != 1 || err != nil {
		t.Fatalf("DeliverDue on retry = %d, %v; want 1", sent, err)
	}
	e.clock.Advance(time.Hour)
	deliver(t, o)
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("server received %d messages, want 1", got)
	}
	if n := notification(t, e); n.Status != store.MailSent || n.Attempts != 2 {
		t.Errorf("notification %+v, want sent after 2 attempts", n)
	}
}

// silentSMTP accepts connections and never says a word.
func silentSMTP(t *testing.T) (host string, port int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	a := l.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// TestOutboxSilentServer: a server that accepts the connection and never
// answers costs one bounded attempt (the sender's timeout), and the message
// stays pending for a retry rather than failing for good.
func TestOutboxSilentServer(t *testing.T) {
	t.Parallel()
	e, _ := tripGuard(t, "admins@corp.example")
	host, port := silentSMTP(t)
	sender, err := smtp.NewSender(smtp.Config{Host: host, Port: port, TLS: smtp.TLSNone, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	o := &Outbox{Store: e.st, Sender: sender}
	start := time.Now()
	sent, err := deliver(t, o)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("DeliverDue took %v against a silent server, want about the 300ms timeout", took)
	}
	if sent != 0 || err == nil {
		t.Errorf("DeliverDue = %d, %v; want 0 and an error", sent, err)
	}
	n := notification(t, e)
	if n.Status != store.MailPending || n.Attempts != 1 || n.LastError == "" {
		t.Errorf("notification %+v, want pending after 1 attempt with its error", n)
	}
	t.Logf("attempt 1: %s", n.LastError)
}

// TestOutboxSenderDiedHoldingMessage: a sender that claimed a message and
// died (killed mid-delivery) does not lose it: once its claim runs out,
// another sender delivers it, once.
func TestOutboxSenderDiedHoldingMessage(t *testing.T) {
	t.Parallel()
	e, _ := tripGuard(t, "admins@corp.example")
	n := notification(t, e)
	dead := openStore(t, e.db, e.clock) // the dead process's handle
	if ok, err := dead.ClaimNotification(t.Context(), n.ID, e.clock.Now().Add(2*time.Minute)); err != nil || !ok {
		t.Fatalf("ClaimNotification = %v, %v", ok, err)
	}
	srv := smtptest.Start(t, smtptest.Options{})
	o := &Outbox{Store: e.st, Sender: newSender(t, srv)}
	if sent, err := deliver(t, o); sent != 0 || err != nil || srv.Attempts() != 0 {
		t.Errorf("DeliverDue while the dead sender's claim holds = %d, %v (%d attempts); want nothing", sent, err, srv.Attempts())
	}
	if next, err := e.st.NextNotificationDue(t.Context()); err != nil || !next.Equal(e.clock.Now().Add(2*time.Minute)) {
		t.Errorf("NextNotificationDue = %v, %v; want when the claim runs out", next, err)
	}
	e.clock.Advance(2 * time.Minute)
	if sent, err := deliver(t, o); sent != 1 || err != nil {
		t.Errorf("DeliverDue after the claim ran out = %d, %v; want 1", sent, err)
	}
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("server received %d messages, want 1", got)
	}
}

// runClock is a store clock running 50 times fast, so that backoffs (30s,
// then 1 minute: 0.6s and 1.2s here) play out in a test, while claims (2
// minutes, 2.4s here) stay far longer than a delivery on loopback.
type runClock struct {
	start time.Time
	base  time.Time
}

func (c *runClock) Now() time.Time { return c.base.Add(time.Since(c.start) * 50) }

// TestOutboxLoopsDeliverEachOnce: two outbox loops in two processes on one
// database (serve and a sync command, or two serve), against a server that
// drops the first connections mid-message and then refuses a few with 451:
// every message arrives, each exactly once, and none is given up.
func TestOutboxLoopsDeliverEachOnce(t *testing.T) {
	t.Parallel()
	e := newLDIFEnv(t, newDirectory(2), defaultBasics)
	clock := &runClock{start: time.Now(), base: e.clock.Now()}
	e.st.SetClock(clock.Now)
	const messages = 12
	for i := range messages {
		// A failed cycle may carry a notification: the quickest way to queue many.
		ch := &store.CycleWrite{Cycle: store.Cycle{ConfigID: e.id, Trigger: TriggerManual,
			Error: "test", StartedAt: clock.Now(), FinishedAt: clock.Now()}, Changes: store.Failed{},
			Notify: &store.Notification{To: "admins@corp.example", Subject: fmt.Sprintf("message %d", i), Body: "body"}}
		if _, err := e.st.ApplyCycle(t.Context(), ch); err != nil {
			t.Fatal(err)
		}
	}
	srv := smtptest.Start(t, smtptest.Options{})
	srv.FailNext(3, smtptest.CloseMidMessage)
	srv.ThenFail(2, smtptest.RefuseTemp)
	sender := newSender(t, srv)
	other, err := store.Open(t.Context(), e.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	other.SetClock(clock.Now)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var wakes []chan struct{}
	for _, st := range []*store.Store{e.st, other, e.st, other} {
		o := &Outbox{Store: st, Sender: sender}
		wake := make(chan struct{})
		wakes = append(wakes, wake)
		wg.Go(func() { o.Run(ctx, 20*time.Millisecond, wake) })
	}
	srv.WaitMessages(t, messages, 40*time.Second)
	// A loop takes a wake-up only between two passes over the outbox: two
	// taken by every loop mean each finished a whole pass after the last
	// message arrived, so a duplicate on its way would have arrived too.
	for _, wake := range wakes {
		wake <- struct{}{}
		wake <- struct{}{}
	}
	cancel()
	wg.Wait()

	got := map[string]int{}
	for _, m := range srv.Messages() {
		got[m.Subject]++
	}
	for i := range messages {
		if s := fmt.Sprintf("message %d", i); got[s] != 1 {
			t.Errorf("%q arrived %d times, want 1", s, got[s])
		}
	}
	retried := 0
	for _, n := range e.notifications() {
		if n.Status != store.MailSent {
			t.Errorf("notification %d is %s (%s), want sent", n.ID, n.Status, n.LastError)
		}
		if n.Attempts > 1 {
			retried++
		}
		if n.LastError != "" && n.Status == store.MailSent || strings.Contains(n.LastError, "gave up") {
			t.Errorf("notification %+v", n)
		}
	}
	if retried == 0 {
		t.Error("no message was retried: the faults were not injected")
	}
	t.Logf("%d messages, 4 loops on 2 handles: %d needed a retry; %d SMTP attempts", messages, retried, srv.Attempts())
}
