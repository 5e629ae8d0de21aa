package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/smtp"
	"github.com/syncguard/syncguard/guard/smtp/smtptest"
	"github.com/syncguard/syncguard/store"
)

type outboxOut struct {
	ID        int64   `json:"id"`
	To        string  `json:"to"`
	Subject   string  `json:"subject"`
	Status    string  `json:"status"`
	Attempts  int     `json:"attempts"`
	LastError string  `json:"last_error"`
	CreatedAt *string `json:"created_at"`
	SentAt    *string `json:"sent_at"`
}

// outbox returns outbox --json, checking its keys.
func (h *harness) outbox() []outboxOut {
	h.t.Helper()
	var raw []jsonObject
	h.json(&raw, "outbox", "--json")
	for _, m := range raw {
		requireKeys(h.t, "outbox --json", m, "id", "to", "subject", "status", "attempts", "last_error", "created_at", "sent_at")
	}
	var out []outboxOut
	h.json(&out, "outbox", "--json")
	return out
}

// quarantine syncs corp on the full directory, then without the Sales OU,
// which quarantines it; it returns the second sync's result.
func quarantine(h *harness, flags ...string) result {
	h.t.Helper()
	full := writeLDIF(h.t, h.dir)
	h.addCorp(full, "--email", "ops@corp.example")
	h.ok(append([]string{"sync", "corp"}, flags...)...)
	h.ok("config", "set", "corp", "--source", "ldif:"+writeLDIFWithout(h.t, full, removedOU))
	return h.want(exitQuarantined, append([]string{"sync", "corp"}, flags...)...)
}

func TestOutboxSent(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	h := newHarness(t)
	// The flag wins over its environment twin.
	h.env["SYNCGUARD_PUBLIC_URL"] = "http://env.example"
	if got := h.outbox(); len(got) != 0 {
		t.Errorf("outbox of a new database = %+v, want empty", got)
	}
	smtpFlags := []string{"--smtp-host", srv.Host, "--smtp-port", strconv.Itoa(srv.Port), "--smtp-tls", "none",
		"--public-url", "https://portal.example.com/", "--mail-from", "syncguard@corp.example"}

	r := quarantine(h, smtpFlags...)
	if !strings.Contains(r.stdout, "sent 1 notification(s)") || r.stderr != "" {
		t.Errorf("quarantining sync: %s\nwant the notification sent", r)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the SMTP server received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if want := "[syncguard] Delete threshold exceeded: corp"; m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
	if len(m.To) != 1 || m.To[0] != "ops@corp.example" || m.From != "syncguard@corp.example" {
		t.Errorf("envelope from %q to %v, want syncguard@corp.example to ops@corp.example", m.From, m.To)
	}
	for _, want := range []string{"https://portal.example.com/configurations/1/status", fmt.Sprint(removedUsers), "threshold of 500",
		"ou=" + removedOU + "," + testBase} {
		if !strings.Contains(strings.ToLower(m.Body), strings.ToLower(want)) {
			t.Errorf("mail body lacks %q:\n%s", want, m.Body)
		}
	}
	if strings.Contains(m.Body, "env.example") {
		t.Errorf("the mail links to SYNCGUARD_PUBLIC_URL although --public-url was given:\n%s", m.Body)
	}

	out := h.outbox()
	if len(out) != 1 {
		t.Fatalf("outbox: %d messages, want 1: %+v", len(out), out)
	}
	o := out[0]
	if o.Status != "sent" || o.Attempts != 1 || o.LastError != "" || o.To != "ops@corp.example" ||
		o.Subject != m.Subject || o.CreatedAt == nil || o.SentAt == nil {
		t.Errorf("outbox entry = %+v, want sent after 1 attempt", o)
	}
	if r := h.ok("outbox"); !strings.Contains(r.stdout, "sent") || !strings.Contains(r.stdout, m.Subject) {
		t.Errorf("outbox text:\n%s", r.stdout)
	}

	// Later cycles of the same quarantine send nothing more.
	h.want(exitQuarantined, append([]string{"sync", "corp"}, smtpFlags...)...)
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("after another sync: %d messages, want 1", n)
	}
	if n := len(h.outbox()); n != 1 {
		t.Errorf("after another sync: %d outbox entries, want 1", n)
	}
}

// TestOutboxServerDown: an unreachable SMTP server never blocks a cycle or
// loses the notification.
func TestOutboxServerDown(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	srv.Close()
	h := newHarness(t)
	// The SMTP settings through their environment twins this time.
	h.env["SYNCGUARD_SMTP_HOST"] = srv.Host
	h.env["SYNCGUARD_SMTP_PORT"] = strconv.Itoa(srv.Port)
	h.env["SYNCGUARD_SMTP_TLS"] = "none"

	r := quarantine(h)
	// A refused connection fails at once; the sender's timeout is 10 s.
	if r.elapsed > 8*time.Second {
		t.Errorf("the quarantining sync took %v with the SMTP server down", r.elapsed)
	}
	if !strings.Contains(r.stderr, "notification not sent yet") {
		t.Errorf("quarantining sync with the SMTP server down: stderr = %q", r.stderr)
	}
	if s := h.status("corp"); s.Status != "quarantined" || s.PendingStagedDeletes != removedUsers {
		t.Errorf("status = %+v, want quarantined", s)
	}
	out := h.outbox()
	if len(out) != 1 {
		t.Fatalf("outbox: %d messages, want 1: %+v", len(out), out)
	}
	if o := out[0]; o.Status != "pending" || o.Attempts != 1 || o.LastError == "" || o.SentAt != nil {
		t.Errorf("outbox entry = %+v, want pending after 1 attempt, with its error", o)
	}

	// The server is back; the retry, once due, sends the message once.
	srv.Restart(t)
	ctx := context.Background()
	st, err := store.Open(ctx, h.db)
	if err != nil {
		t.Fatal(err)
	}
	st.SetClock(func() time.Time { return time.Now().Add(guard.Backoff(1) + time.Second) })
	sender, err := smtp.NewSender(smtp.Config{Host: srv.Host, Port: srv.Port, TLS: smtp.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	o := &guard.Outbox{Store: st, Sender: sender}
	for i, want := range []int{1, 0} {
		if n, err := o.DeliverDue(ctx); n != want || err != nil {
			t.Errorf("delivery %d: sent %d (%v), want %d", i+1, n, err, want)
		}
	}
	st.Close()

	// A later sync has nothing left to send.
	h.want(exitQuarantined, "sync", "corp")
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("the SMTP server received %d messages, want exactly 1", n)
	}
	out = h.outbox()
	if len(out) != 1 || out[0].Status != "sent" || out[0].Attempts != 2 || out[0].LastError != "" || out[0].SentAt == nil {
		t.Errorf("outbox = %+v, want one message sent on the second attempt", out)
	}
}

// TestOutboxNoEmail: without a notification address, nothing is queued.
func TestOutboxNoEmail(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	h.addCorp(full)
	h.ok("sync", "corp")
	h.ok("config", "set", "corp", "--source", "ldif:"+writeLDIFWithout(t, full, removedOU))
	h.want(exitQuarantined, "sync", "corp", "--smtp-host", srv.Host, "--smtp-port", strconv.Itoa(srv.Port), "--smtp-tls", "none")
	if out := h.outbox(); len(out) != 0 {
		t.Errorf("outbox = %+v, want empty", out)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages sent, want none", n)
	}
}
