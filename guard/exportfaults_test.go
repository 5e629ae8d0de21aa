package guard

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
	"github.com/syncguard/syncguard/store"
)

// pass makes one pass of the exporter over the env's queue.
func (e *env) pass(x *Exporter) Pass {
	e.t.Helper()
	p, err := x.Export(e.t.Context(), e.id)
	if err != nil {
		e.t.Fatalf("Export: %v", err)
	}
	return p
}

// TestExportRetryAfter: a 429 stops the export, the target is unreachable
// with the service's words, and nothing is sent again before the
// Retry-After it asked for; then everything goes, once.
func TestExportRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var refusedAt, stopped time.Time
	var after []time.Time
	srv, tgt := scimTarget(t, scimtest.Options{Fault: func(r *http.Request) scimtest.Fault {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost && refusedAt.IsZero() {
			refusedAt = time.Now()
			return scimtest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Detail: "slow down"}
		}
		if !stopped.IsZero() {
			after = append(after, time.Now())
		}
		return scimtest.Fault{}
	}})
	dir := newDirectory(3)
	e := newTargetEnv(t, dir, defaultBasics, tgt)
	e.runWant(store.OutcomeSucceeded)
	x := e.exporter()
	defer x.Close()
	p := e.pass(x)
	if p.RetryAt.IsZero() {
		t.Fatalf("a 429 did not stop the pass: %+v", p)
	}
	mu.Lock()
	stopped = time.Now() // the calls already in flight when the 429 came are done
	mu.Unlock()
	s := e.status()
	if s.Code != StatusTargetUnreachable || !strings.Contains(s.Error, "429") || s.Since.IsZero() {
		t.Errorf("status after a 429 = %+v, want Target unreachable with the service's answer", s)
	}
	e.drain()
	mu.Lock()
	if len(after) == 0 || after[0].Sub(refusedAt) < time.Second {
		t.Errorf("first request after the 429 came %v after it, want at least the 1s of Retry-After", after[0].Sub(refusedAt))
	}
	mu.Unlock()
	wantSCIM(t, srv, dir)
	if s := e.status(); s.Code != store.StatusHealthy {
		t.Errorf("status after the export = %+v, want healthy", s)
	}
}

// TestExportTransientSCIMFaults: 500, 503, a reset and an answer lost after
// the service did the work: each stops the export for a while; in the end
// every object is there exactly once.
func TestExportTransientSCIMFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault scimtest.Fault
	}{
		{"500", scimtest.Fault{Status: http.StatusInternalServerError, Detail: "database is down"}},
		{"503", scimtest.Fault{Status: http.StatusServiceUnavailable, Detail: "maintenance"}},
		{"reset", scimtest.Fault{Reset: true}},
		{"cut after the work", scimtest.Fault{CutServed: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, tgt := scimTarget(t, scimtest.Options{})
			dir := newDirectory(3)
			e := newTargetEnv(t, dir, defaultBasics, tgt)
			e.runWant(store.OutcomeSucceeded)
			srv.FailNext(2, http.MethodPost, "/Users", tc.fault)
			x := e.exporter()
			defer x.Close()
			if p := e.pass(x); p.RetryAt.IsZero() {
				t.Fatalf("the fault did not stop the pass: %+v", p)
			}
			if s := e.status(); s.Code != StatusTargetUnreachable {
				t.Errorf("status = %+v, want Target unreachable", s)
			}
			e.drain()
			wantSCIM(t, srv, dir)
			if got := e.logStatuses(); got[store.LogPending] != 0 || got[store.LogSuccess] != 8 {
				t.Errorf("log statuses %v, want 8 Success", got)
			}
		})
	}
}

// TestExportLDAPServerDown: slapd stops while a cycle's exports wait; the
// target is unreachable (sync goes on: the next cycle succeeds and queues
// its own); when slapd is back everything goes, nothing lost.
func TestExportLDAPServerDown(t *testing.T) {
	srv, tgt := ldapTarget(t)
	dir := newDirectory(3)
	e := newTargetEnv(t, dir, defaultBasics, tgt)
	e.runWant(store.OutcomeSucceeded)
	e.drain()
	srv.Stop()
	dir.user("s0").Title = "Away"
	e.write(dir)
	e.runWant(store.OutcomeSucceeded)
	x := e.exporter()
	defer x.Close()
	if p := e.pass(x); p.RetryAt.IsZero() {
		t.Fatalf("a stopped slapd did not stop the pass: %+v", p)
	}
	s := e.status()
	if s.Code != StatusTargetUnreachable || s.Text != "Target unreachable" || s.Error == "" {
		t.Errorf("status with slapd down = %+v", s)
	}
	if got := e.logStatuses(); got[store.LogFailure] != 0 || got[store.LogPending] != 1 {
		t.Errorf("log statuses with slapd down %v: a transient error is no refusal; s0's update waits, Pending", got)
	}
	dir.remove("e1")
	e.write(dir)
	e.runWant(store.OutcomeSucceeded)
	srv.Restart(t)
	e.drain()
	got := wantLDAP(t, srv, dir)
	if title := got[cloudDN("uid=s0", "Sales")].Attrs["title"]; len(title) != 1 || title[0] != "Away" {
		t.Errorf("title of s0 = %q after the outage, want Away", title)
	}
	if s := e.status(); s.Code != store.StatusHealthy {
		t.Errorf("status after recovery = %+v", s)
	}
}

// TestExportRefused: a refusal is a Failure with the target's words, tried
// again by each later cycle (an unchanged source too), and a Success once
// the cause is gone.
func TestExportRefused(t *testing.T) {
	t.Run("SCIM 409", func(t *testing.T) {
		// Someone else's user holds s0's userName.
		srv, tgt := scimTarget(t, scimtest.Options{Users: []scimtest.User{{UserName: "s0", ExternalID: "hr:42", Active: true}}})
		dir := newDirectory(3)
		e := newTargetEnv(t, dir, defaultBasics, tgt)
		e.runWant(store.OutcomeSucceeded)
		x := e.exporter()
		defer x.Close()
		if p := e.pass(x); p.Failed != 1 || p.Sent != 7 {
			t.Fatalf("pass = %+v, want 7 sent and 1 refused", p)
		}
		failed := entryWith(t, e.logs(0), "Failure")
		if !strings.Contains(failed.Details, "already exists for another object") || failed.Anchor != "uuid:"+dir.user("s0").UUID {
			t.Errorf("the failure reads %+v", failed)
		}
		lookups := srv.Requests(http.MethodGet, "/Users")
		e.runWant(store.OutcomeSucceeded) // the source is unchanged: the digest applies
		if p := e.pass(x); p.Failed != 1 || srv.Requests(http.MethodGet, "/Users") == lookups {
			t.Errorf("the next cycle did not try the refused export again: %+v", p)
		}
		if !srv.Remove(scimUsers(srv)["hr:42"].ID) {
			t.Fatal("the other user is gone already")
		}
		e.runWant(store.OutcomeSucceeded)
		e.drain()
		wantSCIM(t, srv, dir)
		if got := e.logStatuses(); got[store.LogFailure] != 0 {
			t.Errorf("log statuses %v after the cause is gone", got)
		}
	})
	t.Run("LDAP 21", func(t *testing.T) {
		_, tgt := ldapTarget(t)
		dir := newDirectory(3)
		e := newTargetEnv(t, dir, defaultBasics, tgt)
		e.runWant(store.OutcomeSucceeded)
		e.drain()
		// A mail address that is not IA5 text breaks the schema's syntax.
		e.writeBytes([]byte(strings.Replace(string(dir.LDIF()), "uid: s0\n", "uid: s0\nmail: s0@bücher.example\n", 1)))
		e.runWant(store.OutcomeSucceeded)
		x := e.exporter()
		defer x.Close()
		if p := e.pass(x); p.Failed != 1 {
			t.Fatalf("pass = %+v, want 1 refused", p)
		}
		failed := entryWith(t, e.logs(0), "Failure")
		if !strings.Contains(failed.Details, "LDAP 21") {
			t.Errorf("the failure reads %q, want the server's LDAP 21", failed.Details)
		}
		e.write(dir)
		e.runWant(store.OutcomeSucceeded)
		e.drain()
		if got := e.logStatuses(); got[store.LogFailure] != 0 {
			t.Errorf("log statuses %v after the source was fixed", got)
		}
	})
}

// entryWith returns the only log entry with status, failing otherwise.
func entryWith(t *testing.T, entries []store.LogEntry, status string) store.LogEntry {
	t.Helper()
	var found []store.LogEntry
	for _, l := range entries {
		if l.Status == status {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d entries %s, want 1: %+v", len(found), status, found)
	}
	return found[0]
}

// TestExportRecreatesWhatVanished: an object deleted in the target behind
// syncguard's back is created again by its next update.
func TestExportRecreatesWhatVanished(t *testing.T) {
	t.Run("LDAP", func(t *testing.T) {
		srv, tgt := ldapTarget(t)
		dir := newDirectory(3)
		e := newTargetEnv(t, dir, defaultBasics, tgt)
		e.runWant(store.OutcomeSucceeded)
		e.drain()
		if err := srv.Conn(t).Del(ldapv3.NewDelRequest("uid=e0,ou=Engineering,"+cloudBase, nil)); err != nil {
			t.Fatal(err)
		}
		dir.user("e0").Title = "Back"
		e.write(dir)
		e.runWant(store.OutcomeSucceeded)
		e.drain()
		wantLDAP(t, srv, dir)
	})
	t.Run("SCIM", func(t *testing.T) {
		srv, tgt := scimTarget(t, scimtest.Options{})
		dir := newDirectory(3)
		e := newTargetEnv(t, dir, defaultBasics, tgt)
		e.runWant(store.OutcomeSucceeded)
		e.drain()
		if !srv.Remove(scimUsers(srv)["uuid:"+dir.user("e0").UUID].ID) {
			t.Fatal("e0 is not in the service")
		}
		dir.user("e0").Title = "Back"
		e.write(dir)
		e.runWant(store.OutcomeSucceeded)
		e.drain()
		if _, ok := scimUsers(srv)["uuid:"+dir.user("e0").UUID]; !ok {
			t.Error("e0 was not created again")
		}
	})
}

// TestExportStopsOnCancel: when its context ends (shutdown), the exporter
// starts no new call, lets the calls in flight finish and records their
// answers: every user in the service has its Success, and the rest goes
// later, each user created once.
func TestExportStopsOnCancel(t *testing.T) {
	started := make(chan struct{}, 100)
	release := make(chan struct{})
	srv, tgt := scimTarget(t, scimtest.Options{Fault: func(r *http.Request) scimtest.Fault {
		if r.Method == http.MethodPost {
			started <- struct{}{}
			<-release
		}
		return scimtest.Fault{}
	}})
	dir := newDirectory(20)
	e := newTargetEnv(t, dir, defaultBasics, tgt)
	e.runWant(store.OutcomeSucceeded)
	ctx, cancel := context.WithCancel(t.Context())
	x := e.exporter()
	defer x.Close()
	done := make(chan Pass)
	go func() {
		p, err := x.Export(ctx, e.id)
		if err != nil {
			t.Errorf("Export: %v", err)
		}
		done <- p
	}()
	<-started
	cancel()
	close(release)
	p := <-done
	created := len(srv.Users())
	if p.Sent != created || created == 0 || created == 40 {
		t.Errorf("stopped after %d sent, %d users in the service: want every call in flight recorded, and not all sent", p.Sent, created)
	}
	if got := e.logStatuses()[store.LogSuccess]; got != created {
		t.Errorf("%d Success entries for %d users created", got, created)
	}
	e.drain()
	wantSCIM(t, srv, dir)
	if n := srv.Requests(http.MethodPost, "/Users"); n != 40 {
		t.Errorf("%d POST /Users for 40 users", n)
	}
}
