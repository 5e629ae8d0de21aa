package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// TestRestartSyncTwiceAtOnce: two admins, each with the confirmation open,
// press Yes on Restart sync at the same moment. Exactly one restarts; the
// other is told that the staged deletions were already handled, and
// nothing is restarted twice.
func TestRestartSyncTwiceAtOnce(t *testing.T) {
	t.Parallel()
	p := newFuzzPortal(t)
	t.Cleanup(p.srv.sched.Wait) // the restart's cycle runs in the background
	// Sales (6 of 30 users) leaves the source: the guard (threshold 5) trips.
	b, err := os.ReadFile(p.ldif)
	if err != nil {
		t.Fatal(err)
	}
	var kept bytes.Buffer
	for _, rec := range bytes.SplitAfter(b, []byte("\n\n")) {
		if !bytes.Contains(bytes.SplitN(rec, []byte("\n"), 2)[0], []byte(",ou=Sales,")) {
			kept.Write(rec)
		}
	}
	if err := os.WriteFile(p.ldif, kept.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := p.eng.RunCycle(t.Context(), p.cfgID, guard.TriggerManual)
	if err != nil || c.Outcome != store.OutcomeQuarantined {
		t.Fatalf("cycle = %+v, %v; want Quarantined", c, err)
	}
	second := &fuzzPortal{srv: p.srv, st: p.st, eng: p.eng, cfgID: p.cfgID}
	second.signIn(t, "admin", "fuzzing-password-123")

	// Both open the confirmation, then both press Yes.
	restart := fmt.Sprintf("/configurations/%d/restart", p.cfgID)
	forms := make([]url.Values, 2)
	for i, admin := range []*fuzzPortal{p, second} {
		rec := admin.do(http.MethodGet, restart, "", nil)
		doc, err := goquery.NewDocumentFromReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := doc.Find(`input[name="_csrf"]`).First().Attr("value")
		q, _ := doc.Find(`input[name="quarantine"]`).First().Attr("value")
		if q != fmt.Sprint(c.ID) {
			t.Fatalf("the confirmation carries quarantine %q, want %d", q, c.ID)
		}
		forms[i] = url.Values{"_csrf": {tok}, "quarantine": {q}}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	flashes := make([]string, 2)
	for i, admin := range []*fuzzPortal{p, second} {
		wg.Go(func() {
			<-start
			rec := admin.do(http.MethodPost, restart, "", forms[i])
			if rec.Code != http.StatusSeeOther {
				t.Errorf("admin %d: POST %s = %d, want 303", i, restart, rec.Code)
				return
			}
			page := admin.do(http.MethodGet, rec.Header().Get("Location"), "", nil)
			doc, err := goquery.NewDocumentFromReader(page.Body)
			if err != nil {
				t.Error(err)
				return
			}
			flashes[i] = strings.TrimSpace(doc.Find(".flash").Text())
		})
	}
	close(start)
	wg.Wait()
	restarted, handled := 0, 0
	for i, f := range flashes {
		switch {
		case strings.HasPrefix(f, "Sync restarted: 6 staged deletions discarded"):
			restarted++
		case f == fmt.Sprintf("Sync was not restarted: the staged deletions of cycle %d of corp were already handled.", c.ID),
			// The winner's fresh cycle may already have staged the
			// deletions again (the source is still short) before the
			// second Yes lands: that Yes is refused all the same.
			strings.HasPrefix(f, "Sync was not restarted: corp has new staged deletions (cycle ") &&
				!strings.Contains(f, fmt.Sprintf("(cycle %d)", c.ID)):
			handled++
		default:
			t.Errorf("admin %d saw %q", i, f)
		}
	}
	if restarted != 1 || handled != 1 {
		t.Errorf("%d restarted, %d told it was already handled; want 1 and 1: %q", restarted, handled, flashes)
	}
	audits, err := p.st.AuditEvents(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range audits {
		if a.Action == "Restarted sync" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d restarts audited, want 1", n)
	}
}
