package guard

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
	"github.com/syncguard/syncguard/store"
)

// TestHoldKilled kills a process (SIGKILL) in the middle of a purge and in
// the middle of a restore, of the copy alone and with each real target
// (the target's calls are under way when the process dies). Afterwards
// every object is either still held or purged — restored — never both
// and never gone, in the database and in the target alike, and the next
// run finishes the work.
func TestHoldKilled(t *testing.T) {
	for _, kind := range []string{TargetNone, TargetLDAP, TargetSCIM} {
		for _, role := range []string{"purge", "restore"} {
			t.Run(kind+" "+role, func(t *testing.T) { testHoldKilled(t, kind, role) })
		}
	}
}

func testHoldKilled(t *testing.T, kind, role string) {
	perOU := map[string]int{TargetNone: 450, TargetLDAP: 150, TargetSCIM: 60}[kind]
	// The SCIM service holds the child's calls of the operation after
	// the first 10 until the child is dead, then does them: their answers
	// are lost.
	method := map[string]string{"purge": http.MethodDelete, "restore": http.MethodPatch}[role]
	var arm atomic.Bool
	var calls atomic.Int64
	killed := make(chan struct{})
	opts := scimtest.Options{Fault: func(r *http.Request) scimtest.Fault {
		if arm.Load() && r.Method == method && strings.Contains(r.URL.Path, "/Users") && calls.Add(1) > 10 {
			select {
			case <-killed:
			case <-time.After(time.Minute):
			}
		}
		return scimtest.Fault{}
	}}
	dir := newDirectory(perOU)
	e, side := newHoldEnv(t, kind, dir, store.Basics{Prevent: true, Threshold: MaxThreshold, Hold: time.Hour}, opts)
	// Held two hours ago for an hour: due for the child's purge, on the
	// real clock (and the fake clock of no target is in the past).
	var clock *atomic.Int64
	if kind != TargetNone {
		clock = e.movingClock()
		clock.Store(int64(-2 * time.Hour))
	}
	e.runWant(store.OutcomeSucceeded)
	e.sync()
	src := dir.clone()
	var sales []string
	for _, u := range dir.Users {
		if u.OU == "Sales" {
			src.remove(u.UID)
			sales = append(sales, u.UID)
		}
	}
	e.write(src)
	e.runWant(store.OutcomeSucceeded)
	e.sync()
	if n := len(e.held(store.HeldQuery{})); n != perOU {
		t.Fatalf("%d held, want %d", n, perOU)
	}
	arm.Store(true)

	c := startChild(t, role, e.db, fmt.Sprint(e.id), "10")
	c.await("begin", 30*time.Second)
	switch {
	case kind == TargetSCIM:
		untilTrue(t, "the child's calls to hang", func() bool { return calls.Load() > 10 })
	case kind == TargetLDAP && role == "purge":
		untilTrue(t, "the child's first deletes", func() bool { return len(ldapEntries(t, e.ldap)) < 2*perOU+2-10 })
	case kind == TargetLDAP:
		untilTrue(t, "the child's first restores", func() bool { return side.where(t, sales[0], "Sales") == "active" })
	case role == "purge":
		untilTrue(t, "the child's first purges", func() bool { return len(e.held(store.HeldQuery{})) < perOU })
	}
	c.kill()
	close(killed)
	if res, err := e.st.IntegrityCheck(t.Context()); err != nil || res != "ok" {
		t.Fatalf("integrity check after the kill: %q, %v", res, err)
	}
	held, gone := e.heldOrDone(t, dir, role, sales)
	t.Logf("killed mid-%s: %d held, %d %s", role, held, gone, map[string]string{"purge": "purged", "restore": "restored"}[role])
	if role == "restore" && held != 0 && gone != 0 {
		t.Errorf("a restore is one transaction: killed, it left %d restored and %d held", gone, held)
	}

	// The next run finishes: the target follows the database, and the
	// database holds each object once.
	e.sync()
	e.wantTargetFollows(t, side, dir, role, sales)
	if clock != nil {
		clock.Store(0)
	} else {
		e.clock.Advance(2 * time.Hour)
	}
	switch role {
	case "purge":
		if _, err := (&Purger{Store: e.st}).Purge(t.Context(), 0); err != nil {
			t.Fatal(err)
		}
	case "restore":
		e.restore(RestoreSelection{All: true})
	}
	e.sync()
	if held, _ := e.heldOrDone(t, dir, role, sales); held != 0 {
		t.Errorf("%d still held after the next %s", held, role)
	}
	e.wantTargetFollows(t, side, dir, role, sales)
}

// heldOrDone checks that each of the uids is either held or done by role
// (purged: a Delete entry saying so, and out of the copy; restored: in the
// copy with one Restore entry) and never both, and counts each.
func (e *env) heldOrDone(t *testing.T, dir directory, role string, uids []string) (held, done int) {
	t.Helper()
	isHeld := map[string]bool{}
	for _, h := range e.held(store.HeldQuery{}) {
		isHeld[h.Anchor] = true
	}
	objects := e.objects()
	entries := map[string]int{}
	for _, l := range e.logs(0) {
		switch {
		case role == "purge" && l.Action == store.ActionDelete && strings.Contains(l.Details, "purged after the hold"),
			role == "restore" && l.Action == store.ActionRestore:
			entries[l.Anchor]++
		}
	}
	for _, uid := range uids {
		a := "uuid:" + dir.user(uid).UUID
		_, inCopy := objects[a]
		switch {
		case entries[a] > 1:
			t.Errorf("%s was %sd %d times", uid, role, entries[a])
		case isHeld[a] && (entries[a] > 0 || inCopy):
			t.Errorf("%s is held and %sd (entries %d, in the copy: %v)", uid, role, entries[a], inCopy)
		case isHeld[a]:
			held++
		case entries[a] == 0 || inCopy != (role == "restore"):
			t.Errorf("%s is gone: neither held nor %sd (entries %d, in the copy: %v)", uid, role, entries[a], inCopy)
		default:
			done++
		}
	}
	return held, done
}

// wantTargetFollows checks that the target holds each of the uids as the
// database says: held objects disabled, purged ones gone, restored ones
// back in their place (each once: where fails on an object twice).
func (e *env) wantTargetFollows(t *testing.T, side holdSide, dir directory, role string, uids []string) {
	t.Helper()
	isHeld := map[string]bool{}
	for _, h := range e.held(store.HeldQuery{}) {
		isHeld[h.Anchor] = true
	}
	for _, uid := range uids {
		want := map[string]string{"purge": "gone", "restore": "active"}[role]
		if isHeld["uuid:"+dir.user(uid).UUID] {
			want = "held"
		}
		if got := side.where(t, uid, "Sales"); got != want {
			t.Errorf("%s in the target: %s, want %s", uid, got, want)
		}
	}
}
