package main

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
)

// heldService is a SCIM service that serves the first `served` user
// creates and holds the next ones (the calls in flight) until released.
type heldService struct {
	*scimtest.Server
	posts   atomic.Int64 // user creates received
	release chan struct{}
}

func startHeldService(t *testing.T, served int64) *heldService {
	t.Helper()
	s := &heldService{release: make(chan struct{})}
	s.Server = scimtest.Start(t, scimtest.Options{Token: "Scim-Token-Stop-1717", Fault: func(r *http.Request) scimtest.Fault {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Users") && s.posts.Add(1) > served {
			select {
			case <-s.release:
			case <-time.After(2 * time.Minute):
			}
		}
		return scimtest.Fault{}
	}})
	return s
}

// exportState reads, with plain SQL, the export lease of configuration 1
// and whether the database is sound.
func exportState(t *testing.T, db string) (holder string, integrity string) {
	t.Helper()
	conn := readOnly(t, db)
	defer conn.Close()
	if err := conn.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(`SELECT lease_holder FROM targets WHERE config_id = 1 AND lease_until > 0`).Scan(&holder); err != nil &&
		!strings.Contains(err.Error(), "no rows") {
		t.Fatal(err)
	}
	return holder, integrity
}

// anchors are the anchors of the log entries of corp with a status.
func (h *harness) anchors(status string) []string {
	h.t.Helper()
	var out []string
	for _, e := range h.logs("corp", "--status", status, "--limit", "10000") {
		out = append(out, e.Anchor)
	}
	slices.Sort(out)
	return out
}

// externalIDs are the externalIds of the users in the service, sorted.
func externalIDs(srv *scimtest.Server) []string {
	var out []string
	for _, u := range srv.Users() {
		out = append(out, u.ExternalID)
	}
	slices.Sort(out)
	return out
}

// SIGTERM to serve while it exports the first cycle's 3,020 objects to a
// SCIM service that holds the creates in flight:
//
//   - graceful: serve starts no new call, lets those in flight finish and
//     records their answers, releases the export lease and exits 0;
//     exactly the objects in the service read Success, the rest Pending;
//   - past the shutdown timeout (the service holds the calls longer than
//     --shutdown-timeout): the calls are cut at the timeout, what was
//     answered before is recorded, the lease released, exit 0;
//   - a second signal exits at once (exit 1), the answers in flight lost.
//
// Each time the next start resumes, and the service ends with every object
// exactly once (one create per user in all: what the service did without
// syncguard hearing it is looked for before it is created again).
func TestServeSIGTERMDuringExport(t *testing.T) {
	t.Parallel()
	const served, inFlight = 500, 8 // the SCIM writer's concurrency
	for _, mode := range []string{"graceful", "past the shutdown timeout", "second signal"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startHeldService(t, served)
			h := newHarness(t)
			h.addCorp(writeLDIF(t, h.dir), "--target", srv.URL, "--target-token-file", h.writeSecret("scim.token", srv.Token))
			env := []string{"SYNCGUARD_DB=" + h.db}
			p, _ := startServe(t, append(env, "SYNCGUARD_SHUTDOWN_TIMEOUT="+map[bool]string{true: "1s", false: "30s"}[mode == "past the shutdown timeout"]))
			p.waitUntil("the creates in flight", 5*time.Minute, func() bool { return srv.posts.Load() == served+inFlight })
			p.signal(syscall.SIGTERM)
			sent := time.Now()
			p.waitContains(`"msg":"stopping"`, time.Minute)
			want, recorded := 0, served+inFlight // the exit code, and the answers recorded
			switch mode {
			case "graceful":
				close(srv.release)
			case "second signal":
				p.signal(syscall.SIGTERM)
				want, recorded = exitError, -1 // up to served: some may not have been written yet
			default:
				recorded = served
			}
			if code := p.wait(time.Minute); code != want {
				t.Fatalf("serve after SIGTERM: exit %d, want %d\n%s", code, want, p.output())
			}
			t.Logf("%s: exit %d %v after SIGTERM", mode, want, p.exited.Sub(sent).Round(time.Millisecond))
			if mode != "graceful" {
				close(srv.release) // done by the service after syncguard stopped listening: nobody hears the answers
				for deadline := time.Now().Add(time.Minute); len(srv.Users()) != served+inFlight; time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("the held creates were not done: %d users in the service", len(srv.Users()))
					}
				}
			}
			holder, integrity := exportState(t, h.db)
			if integrity != "ok" {
				t.Errorf("integrity_check: %s", integrity)
			}
			if n := srv.posts.Load(); n != served+inFlight {
				t.Errorf("%d creates reached the service, want %d: a call started after the signal", n, served+inFlight)
			}
			success, pending := h.anchors("Success"), h.anchors("Pending")
			inService := externalIDs(srv.Server)
			if len(success)+len(pending) != testTotal || !subset(success, inService) ||
				recorded >= 0 && len(success) != recorded || recorded < 0 && len(success) > served {
				t.Errorf("after SIGTERM: %d Success (all in the service: %v), %d Pending, %d users in the service; want %d Success",
					len(success), subset(success, inService), len(pending), len(inService), recorded)
			}
			if mode != "second signal" {
				if holder != "" {
					t.Errorf("the export lease is still held by %s after serve stopped", holder)
				}
				for _, said := range []string{"shutdown: letting the calls to the target in flight finish", `"msg":"stopped"`} {
					if !strings.Contains(p.output(), said) {
						t.Errorf("serve does not say %q:\n%s", said, p.output())
					}
				}
			}

			// The next start takes the queue over and finishes it.
			p, _ = startServe(t, env)
			p.waitUntil("the rest of the queue", 5*time.Minute, func() bool { return h.status("corp").Target.PendingExports == 0 })
			p.signal(syscall.SIGTERM)
			if code := p.wait(time.Minute); code != 0 {
				t.Fatalf("the restarted serve: exit %d\n%s", code, p.output())
			}
			if holder, _ := exportState(t, h.db); holder != "" {
				t.Errorf("the export lease is held by %s after the restarted serve stopped", holder)
			}
			ids := externalIDs(srv.Server)
			if len(ids) != testUsers || len(slices.Compact(slices.Clone(ids))) != testUsers || len(srv.Groups()) != testGroups {
				t.Errorf("the service holds %d users (%d distinct) and %d groups, want %d and %d",
					len(ids), len(slices.Compact(slices.Clone(ids))), len(srv.Groups()), testUsers, testGroups)
			}
			if n := srv.Requests(http.MethodPost, "/Users"); n != testUsers {
				t.Errorf("%d user creates in all, want one per user (%d)", n, testUsers)
			}
			if got := h.anchors("Success"); len(got) != testTotal {
				t.Errorf("%d entries Success at the end, want %d", len(got), testTotal)
			}
		})
	}
}

// subset reports whether every element of a (sorted) is in b (sorted).
func subset(a, b []string) bool {
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			return false
		}
	}
	return true
}
