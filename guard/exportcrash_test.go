package guard

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
	"github.com/syncguard/syncguard/store"
)

// TestExportKilledMidway kills a process (SIGKILL) in the middle of its
// export: SCIM creates are held by the service when the process dies, and
// done after it (their answers lost); slapd is busy adding. The next
// exporter takes the queue over at once and finishes it: every object is
// in the target exactly once, every entry a Success.
func TestExportKilledMidway(t *testing.T) {
	t.Run("SCIM", func(t *testing.T) {
		var posts atomic.Int64
		killed := make(chan struct{})
		srv, tgt := scimTarget(t, scimtest.Options{Fault: func(r *http.Request) scimtest.Fault {
			if r.Method == http.MethodPost && posts.Add(1) > 20 {
				// Held until the client is dead, then done: nobody hears
				// the answer.
				select {
				case <-killed:
				case <-time.After(time.Minute):
				}
			}
			return scimtest.Fault{}
		}})
		dir := newDirectory(40)
		e := newTargetEnv(t, dir, store.Basics{Prevent: true, Threshold: 500}, tgt)
		e.runWant(store.OutcomeSucceeded)
		c := startChild(t, "export", e.db, fmt.Sprint(e.id), "")
		c.await("begin", 30*time.Second)
		untilTrue(t, "the child's creates to hang", func() bool { return posts.Load() >= 28 })
		untilTrue(t, "the first answers recorded", func() bool { return e.logStatuses()[store.LogSuccess] >= 20 })
		c.kill()
		close(killed)
		untilTrue(t, "the held creates to be done", func() bool { return len(srv.Users()) >= 28 })
		before := len(srv.Users())
		e.drain()
		wantSCIM(t, srv, dir)
		if got := e.logStatuses(); got[store.LogSuccess] != 82 || len(got) != 1 {
			t.Errorf("log statuses %v, want 82 Success", got)
		}
		// The creates done after the child died were found, not made again.
		if n := srv.Requests(http.MethodPost, "/Users"); n != 80 || before != 28 {
			t.Errorf("%d users when the child died, %d POST /Users in all; want 28 and one POST per user (80)", before, n)
		}
	})
	t.Run("LDAP", func(t *testing.T) {
		srv, tgt := ldapTarget(t)
		dir := newDirectory(300)
		e := newTargetEnv(t, dir, store.Basics{Prevent: true, Threshold: 500}, tgt)
		e.runWant(store.OutcomeSucceeded)
		c := startChild(t, "export", e.db, fmt.Sprint(e.id), "")
		c.await("begin", 30*time.Second)
		untilTrue(t, "the child's first adds", func() bool { return len(ldapEntries(t, srv)) >= 100 })
		c.kill()
		e.drain()
		wantLDAP(t, srv, dir)
		if got := e.logStatuses(); got[store.LogSuccess] != 602 || len(got) != 1 {
			t.Errorf("log statuses %v, want 602 Success", got)
		}
	})
}
