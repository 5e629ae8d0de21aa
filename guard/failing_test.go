package guard

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// TestSyncFailingMails: after three failed cycles in a row one mail says
// sync is failing, with the error and since when; more failures send
// nothing more; the first cycle that succeeds says sync recovered, once.
// A failed cycle records how much it had read. Three failures ended by a
// quarantine say it in the quarantine's mail.
func TestSyncFailingMails(t *testing.T) {
	t.Parallel()
	dir := newDirectory(3)
	e := newLDIFEnv(t, dir, defaultBasics)
	e.runWant(store.OutcomeSucceeded)
	good := dir.LDIF()
	// Cut inside the record of the last group: every record before it reads.
	cut := good[:bytes.LastIndex(good, []byte("\ndn: "))+40]
	e.writeBytes(cut)
	subjects := func() []string {
		var out []string
		for _, n := range e.notifications() {
			out = append(out, n.Subject)
		}
		return out
	}
	first := e.clock.Now()
	for i := 1; i <= 4; i++ {
		c := e.runWant(store.OutcomeFailed)
		if c.Read != 14 { // the base, 4 OUs, 8 users, a group
			t.Errorf("failed cycle %d: read %d, want the 14 entries before the cut", i, c.Read)
		}
		if got := len(e.notifications()); (i < 3 && got != 0) || (i >= 3 && got != 1) {
			t.Errorf("after %d failed cycles: %d mails, want %d", i, got, min(max(i-2, 0), 1))
		}
		e.clock.Advance(2 * time.Minute)
	}
	mail := e.notifications()[0]
	for _, want := range []string{"the last 3 cycles failed, the first at " + first.Format(time.RFC3339),
		"truncated?", "It had read 14 entries", "https://sync.example.com/configurations/1/status"} {
		if !strings.Contains(mail.Body, want) {
			t.Errorf("failing mail lacks %q:\n%s", want, mail.Body)
		}
	}
	if mail.Subject != "[syncguard] Sync failing: corp" || mail.To != defaultBasics.Email {
		t.Errorf("failing mail %q to %q", mail.Subject, mail.To)
	}

	e.write(dir)
	e.runWant(store.OutcomeSucceeded)
	e.runWant(store.OutcomeSucceeded)
	if got := subjects(); len(got) != 2 || got[0] != "[syncguard] Sync recovered: corp" {
		t.Fatalf("mails after two good cycles: %q, want the failing mail and one recovered mail", got)
	}
	if body := e.notifications()[0].Body; !strings.Contains(body, "succeeded after 4 cycles in a row failed") {
		t.Errorf("recovered mail:\n%s", body)
	}

	// Three more failures, then a source that lost 6 users: the
	// quarantine's mail says the source reads again; no recovered mail.
	e.writeBytes(cut)
	for range 3 {
		e.runWant(store.OutcomeFailed)
	}
	lost := dir.clone()
	lost.remove("s0", "s1", "s2", "e0", "e1", "e2")
	e.write(lost)
	e.runWant(store.OutcomeQuarantined)
	got := e.notifications()
	if len(got) != 4 || got[0].Subject != QuarantineSubject("corp") || !strings.Contains(got[0].Body, "read the source again after 3 cycles in a row failed") {
		t.Errorf("mails: %q; the last:\n%s", subjects(), got[0].Body)
	}
}
