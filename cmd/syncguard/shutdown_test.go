package main

import (
	"database/sql"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/smtp/smtptest"
)

// bigTemplate makes a database with the configuration corp over the
// 100,000-user LDIF (a cycle every second), synced nothing yet, and
// returns its path.
func bigTemplate(t *testing.T) string {
	t.Helper()
	h := newHarness(t)
	h.addCorp(bigLDIF(t), "--interval", "1s", "--threshold", "200000")
	return h.db
}

// isCycleLine reports whether a JSON log line is a cycle's, with outcome.
func isCycleLine(outcome string) func(string) bool {
	return func(l string) bool {
		return strings.Contains(l, `"msg":"cycle"`) && strings.Contains(l, `"outcome":"`+outcome+`"`)
	}
}

// checkStopped checks what a stopped serve left: a sound database with
// no lease, holding the state before the first cycle or after it, never
// a part of it; it says which.
func checkStopped(t *testing.T, db string) string {
	t.Helper()
	s := readState(t, db)
	if s.Integrity != "ok" {
		t.Errorf("integrity_check: %s", s.Integrity)
	}
	if s.Leases != 0 {
		t.Errorf("%d cycle leases left behind", s.Leases)
	}
	switch {
	case s.Objects == 0 && s.Cycles == 0 && s.Logs == 0:
		return "before"
	case s.Objects == bigObjects && s.Cycles >= 1 && s.Logs == bigObjects:
		return "after"
	}
	t.Errorf("the state is neither before nor after the cycle: %+v", s)
	return "BETWEEN"
}

// writing reports whether a process holds the database's write lock for
// 50 ms in a row: a cycle's transaction (the lease renewals take a
// millisecond). The probe takes the lock itself, for an instant, when free.
func writing(t *testing.T, db string) bool {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 5 {
		tx, err := conn.Begin()
		if err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(`INSERT INTO settings (key, value) SELECT 'probe', x'' WHERE 0`)
		tx.Rollback()
		if err == nil || !strings.Contains(err.Error(), "locked") {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// SIGTERM to serve during a first cycle over 100,000 users, at three
// points: 10 % of an uninterrupted run's time (reading: the cycle is
// abandoned at once), half of it (either), and once the cycle's
// transaction runs (it commits first). Each time serve exits 0, the cycle
// is in whole or not at all, the lease is free, and the next start syncs.
func TestServeSIGTERMDuringCycle(t *testing.T) {
	t.Parallel()
	template := bigTemplate(t)
	dir := t.TempDir()

	// One uninterrupted run: how long from "running" to the cycle's line.
	measured := filepath.Join(dir, "measured.db")
	copyFile(t, template, measured)
	p, _ := startServe(t, []string{"SYNCGUARD_DB=" + measured})
	begin := time.Now()
	p.waitFor("the first cycle", 5*time.Minute, isCycleLine("Succeeded"))
	total := time.Since(begin)
	p.signal(syscall.SIGTERM)
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("serve after SIGTERM: exit %d\n%s", code, p.output())
	}
	t.Logf("uninterrupted first cycle of %d objects: %v", bigObjects, total.Round(time.Millisecond))

	for i, point := range []struct {
		name string
		wait func(p *proc, db string)
		want string // "before", "after", or "" for either
		said string
	}{
		{"at 10%", func(*proc, string) { time.Sleep(total / 10) }, "before", "abandoning the running cycle"},
		{"at 50%", func(*proc, string) { time.Sleep(total / 2) }, "", ""},
		{"in its transaction", func(p *proc, db string) {
			p.waitUntil("the cycle's transaction", 5*time.Minute, func() bool { return writing(t, db) })
		}, "after", "letting the running cycle commit"},
	} {
		db := filepath.Join(dir, fmt.Sprintf("stopped-%d.db", i))
		copyFile(t, template, db)
		env := []string{"SYNCGUARD_DB=" + db}
		p, _ := startServe(t, env)
		point.wait(p, db)
		p.signal(syscall.SIGTERM)
		sent := time.Now()
		if code := p.wait(time.Minute); code != 0 {
			t.Fatalf("SIGTERM %s: exit %d, want 0\n%s", point.name, code, p.output())
		}
		out := p.output()
		if !strings.Contains(out, `"msg":"stopped"`) || !strings.Contains(out, point.said) {
			t.Errorf("SIGTERM %s: the log does not say %q and \"stopped\":\n%s", point.name, point.said, out)
		}
		got := checkStopped(t, db)
		if point.want != "" && got != point.want {
			t.Errorf("SIGTERM %s: %s the cycle, want %s", point.name, got, point.want)
		}
		t.Logf("SIGTERM %-18s exit 0 %v later, %s the cycle", point.name+":", p.exited.Sub(sent).Round(time.Millisecond), got)

		// The next start syncs.
		p, _ = startServe(t, env)
		p.waitFor("a cycle after the restart", 5*time.Minute, isCycleLine("Succeeded"))
		p.signal(syscall.SIGTERM)
		if code := p.wait(time.Minute); code != 0 {
			t.Fatalf("the restarted serve: exit %d\n%s", code, p.output())
		}
		if got := checkStopped(t, db); got != "after" {
			t.Errorf("after the restart: %s the cycle, want after", got)
		}
		if t.Failed() {
			return
		}
	}
}

// gatedSMTP is an SMTP server that holds each connection until released:
// the mail is in flight meanwhile. Released, it relays to a real one.
type gatedSMTP struct {
	addr     string
	accepted chan struct{}
	release  chan struct{}
}

func startGatedSMTP(t *testing.T, relay string) *gatedSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedSMTP{addr: ln.Addr().String(), accepted: make(chan struct{}, 16), release: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.accepted <- struct{}{}
			go func() {
				defer c.Close()
				<-g.release
				up, err := net.Dial("tcp", relay)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return g
}

// quarantinedDB makes a database whose configuration corp is quarantined,
// its notification waiting in the outbox.
func quarantinedDB(t *testing.T) (db string, env []string) {
	t.Helper()
	h := newHarness(t)
	quarantine(h)
	return h.db, []string{"SYNCGUARD_DB=" + h.db}
}

// SIGTERM while a mail is being sent: serve takes no new work but
// finishes the delivery in flight and records it, then exits 0.
func TestServeSIGTERMFinishesMailInFlight(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	gate := startGatedSMTP(t, srv.Addr)
	db, env := quarantinedDB(t)
	host, port, _ := net.SplitHostPort(gate.addr)
	p, _ := startServe(t, env, "--smtp-host", host, "--smtp-port", port, "--smtp-tls", "none")
	<-gate.accepted // the outbox is sending
	p.signal(syscall.SIGTERM)
	p.waitContains(`"msg":"stopping"`, time.Minute)
	close(gate.release)
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("serve: exit %d\n%s", code, p.output())
	}
	if got := srv.Messages(); len(got) != 1 || !strings.Contains(got[0].Subject, "Delete threshold exceeded: corp") {
		t.Errorf("delivered: %+v; want the quarantine's notification", got)
	}
	h := &harness{t: t, db: db, env: map[string]string{"SYNCGUARD_DB": db}}
	if got := h.outbox(); len(got) != 1 || got[0].Status != "sent" {
		t.Errorf("outbox after the stop: %+v; want the message sent", got)
	}
}

// A second SIGTERM exits at once (exit 1) while serve waits for a mail in
// flight: the database is sound, the message stays in the outbox, and the
// next start opens the database as it was left.
func TestServeSecondSignal(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	gate := startGatedSMTP(t, srv.Addr) // holds the first attempt
	db, env := quarantinedDB(t)
	host, port, _ := net.SplitHostPort(gate.addr)
	p, _ := startServe(t, env, "--smtp-host", host, "--smtp-port", port, "--smtp-tls", "none")
	<-gate.accepted
	p.signal(syscall.SIGTERM)
	p.waitContains(`"msg":"stopping"`, time.Minute)
	p.signal(syscall.SIGTERM)
	if code := p.wait(time.Minute); code != exitError {
		t.Fatalf("after a second SIGTERM: exit %d, want %d (a graceful stop would exit 0)\n%s", code, exitError, p.output())
	}
	if !strings.Contains(p.output(), "SIGTERM again: exiting now") {
		t.Errorf("no word of the second signal:\n%s", p.output())
	}
	if s := readState(t, db); s.Integrity != "ok" {
		t.Errorf("integrity_check after the second signal: %s", s.Integrity)
	}
	h := &harness{t: t, db: db, env: map[string]string{"SYNCGUARD_DB": db}}
	if got := h.outbox(); len(got) != 1 || got[0].Status != "pending" {
		t.Errorf("outbox after the second signal: %+v; want the message still pending", got)
	}
	if got := h.status("corp"); got.Status != "quarantined" || got.PendingStagedDeletes != removedUsers {
		t.Errorf("status after the second signal: %+v; want the quarantine as it was", got)
	}
	close(gate.release)
	// The next start opens the database as it was left. (The interrupted
	// attempt's claim on the message lapses after two minutes; then it is
	// sent.)
	p, _ = startServe(t, env)
	p.signal(syscall.SIGTERM)
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("the restarted serve: exit %d\n%s", code, p.output())
	}
}

// sync on SIGINT while it reads the source abandons the cycle at once:
// exit 1 saying so, nothing applied, the lease released; the next sync
// completes.
func TestSyncInterrupted(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "syncguard.db")
	copyFile(t, bigTemplate(t), db)
	env := []string{"SYNCGUARD_DB=" + db}
	p := startProc(t, env, "sync", "corp")
	p.waitUntil("the cycle's lease", 5*time.Minute, func() bool { return leaseHeld(t, db) })
	p.signal(syscall.SIGINT)
	code := p.wait(time.Minute)
	out := p.output()
	switch {
	case code == exitError && strings.Contains(out, "stopped by SIGINT: the cycle of \"corp\" was abandoned; nothing of it was applied"):
		if s := readState(t, db); s.Objects != 0 || s.Cycles != 0 || s.Leases != 0 {
			t.Errorf("after the abandoned cycle: %+v; want nothing applied and no lease", s)
		}
	case code == 0 && strings.Contains(out, "Succeeded"):
		t.Logf("the signal came while the cycle was applying: it committed")
	default:
		t.Fatalf("sync after SIGINT: exit %d\n%s", code, out)
	}
	p = startProc(t, env, "sync", "corp")
	if code := p.wait(5 * time.Minute); code != 0 {
		t.Fatalf("the next sync: exit %d\n%s", code, p.output())
	}
	if s := readState(t, db); s.Objects != bigObjects || s.Leases != 0 {
		t.Errorf("after the next sync: %+v", s)
	}
}
