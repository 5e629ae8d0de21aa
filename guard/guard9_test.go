package guard

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/store"
)

// The guard of SPEC section 9, through the real engine on a real store:
// limits, causes, partial approval, preview, reminders.

// TestLimitsAtBelowAbove: each limit quarantines a cycle whose count
// reaches it (at and above), not one below it, and says which it was.
// The source loses n of the 10 Sales users (and so their memberships).
func TestLimitsAtBelowAbove(t *testing.T) {
	t.Parallel()
	// newDirectory(10): 10 Sales, 10 Engineering, 2 Archive (out of
	// scope), 2 groups: 22 objects in the target. Losing s0…s(n-1) deletes
	// n users and removes the links of s0, s1 (Staff) and s2 (Leads) among them.
	type limit struct {
		name    string
		basics  func(n int) store.Basics
		lost    int // Sales users the source loses
		reached bool
		words   string
	}
	on := func(f func(*store.Basics)) func(int) store.Basics {
		return func(int) store.Basics {
			b := store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 1000}
			f(&b)
			return b
		}
	}
	users := on(func(b *store.Basics) { b.ThresholdUsers = 4 })
	groups := on(func(b *store.Basics) { b.ThresholdGroups = 1 })
	members := on(func(b *store.Basics) { b.ThresholdMemberships = 2 })
	percent := on(func(b *store.Basics) { b.ThresholdPercent = 20 }) // 20 % of 22: 4.4 deletions
	all := on(func(b *store.Basics) { b.Threshold = 4 })
	for _, tt := range []limit{
		{"all below", all, 3, false, ""},
		{"all at", all, 4, true, "4 deletions reach the threshold of 4"},
		{"all above", all, 5, true, "5 deletions reach the threshold of 4"},
		{"users below", users, 3, false, ""},
		{"users at", users, 4, true, "4 user deletions reach the limit of 4"},
		{"users above", users, 6, true, "6 user deletions reach the limit of 4"},
		{"memberships below", members, 1, false, ""},
		{"memberships at", members, 2, true, "2 member links removed reach the limit of 2"},
		{"memberships above", members, 3, true, "3 member links removed reach the limit of 2"},
		{"percent below", percent, 4, false, ""}, // 18 %
		{"percent at", percent, 5, true, "deletions of 22% of the target directory reach the limit of 20%"},
		{"percent above", percent, 9, true, "deletions of 40% of the target directory reach the limit of 20%"},
		{"groups below", groups, 9, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := newDirectory(10)
			e := newLDIFEnv(t, dir, tt.basics(tt.lost))
			e.runWant(store.OutcomeSucceeded)
			lost := dir.clone()
			for i := range tt.lost {
				lost.remove(fmt.Sprintf("s%d", i))
			}
			e.write(lost)
			want := store.OutcomeSucceeded
			if tt.reached {
				want = store.OutcomeQuarantined
			}
			c := e.runWant(want)
			if !tt.reached {
				return
			}
			o := e.overview()
			if got := stoppedWords(c); got != tt.words {
				t.Errorf("stopped by %q, want %q", got, tt.words)
			}
			if o.StoppedSince.IsZero() || !o.StoppedSince.Equal(c.FinishedAt) {
				t.Errorf("stopped since %v, want the quarantine's end %v", o.StoppedSince, c.FinishedAt)
			}
			mails := e.notifications()
			if len(mails) != 1 || !strings.Contains(mails[0].Body, "The guard stopped it: "+tt.words+".") {
				t.Errorf("mail does not say which limit: %+v", mails)
			}
		})
	}
	// A group limit: both groups deleted.
	t.Run("groups at", func(t *testing.T) {
		t.Parallel()
		dir := newDirectory(3)
		e := newLDIFEnv(t, dir, groups(0))
		e.runWant(store.OutcomeSucceeded)
		lost := dir.clone()
		lost.Groups = lost.Groups[:1]
		e.write(lost)
		if c := e.runWant(store.OutcomeQuarantined); stoppedWords(c) != "1 group deletions reach the limit of 1" {
			t.Errorf("stopped by %q", stoppedWords(c))
		}
	})
}

// stoppedWords words the limits a cycle reached.
func stoppedWords(c *store.Cycle) string { return ReachedWords(reachedOf(c.Limits)) }

func (e *env) overview() *Overview {
	e.t.Helper()
	o, err := OverviewOf(e.t.Context(), e.st, e.config())
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

// TestMembershipLimitHoldsRemovals: with a membership limit, the
// quarantine holds the groups' member removals as StagedUpdate entries;
// Allow deletes applies them with the deletions, and the next cycle is
// Healthy without updating the groups again.
func TestMembershipLimitHoldsRemovals(t *testing.T) {
	t.Parallel()
	dir := newDirectory(4)
	e := newLDIFEnv(t, dir, store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 100, ThresholdMemberships: 3})
	e.runWant(store.OutcomeSucceeded)
	lost := dir.clone()
	lost.remove("s0", "s1", "s2") // Staff loses s0 and s1, Leads loses s2
	e.write(lost)
	q := e.runWant(store.OutcomeQuarantined)
	if q.MembershipRemovals != 3 {
		t.Errorf("membership removals %d, want 3", q.MembershipRemovals)
	}
	updates := entryAnchors(e.logs(q.ID), store.ActionStagedUpdate, store.LogStaged)
	if want := []string{"uuid:" + dir.Groups[0].UUID, "uuid:" + dir.Groups[1].UUID}; !slices.Equal(updates, sorted(want)) {
		t.Errorf("StagedUpdate entries for %v, want the two groups %v", updates, want)
	}
	e.wantTarget(dir)
	res, err := e.eng.AllowDeletes(t.Context(), e.id, q.ID, "alice")
	if err != nil || res.Count != 3 || res.Updated != 2 || res.Next != TriggerAllow {
		t.Fatalf("AllowDeletes = %+v, %v; want 3 deleted, 2 groups updated, the next cycle", res, err)
	}
	// The target now is the source: the groups lost their links already.
	e.wantTarget(lost)
	next := e.runWant(store.OutcomeSucceeded)
	if next.Updates != 0 || next.Deletes != 0 {
		t.Errorf("cycle after Allow deletes: %d updates, %d deletes; want none", next.Updates, next.Deletes)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

// TestCausesLDIF: every deletion says why — moved out of scope (and where
// to), scope changed (who removed which OU, when), no longer a user or
// group, deleted at the source — in its staged row, its log entry and
// the mail.
func TestCausesLDIF(t *testing.T) {
	t.Parallel()
	dir := newDirectory(3)
	e := newLDIFEnv(t, dir, store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 1})
	e.runWant(store.OutcomeSucceeded)
	changed := dir.clone()
	changed.user("s0").OU = "Archive"               // moved out of scope
	changed.user("s1").Class = "organizationalRole" // no longer a user
	changed.remove("s2")                            // deleted
	e.write(changed)
	e.clock.Advance(time.Minute)
	// Engineering leaves the scope: e0, e1, e2.
	if _, err := e.st.EditConfiguration(t.Context(), e.id, "alice", func(c *store.Configuration) error {
		c.Scope = []string{"ou=Sales," + baseDN, "ou=Groups," + baseDN}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	editedAt := e.clock.Now().UTC().Format("2006-01-02 15:04:05 UTC")
	q := e.runWant(store.OutcomeQuarantined)
	want := map[string][2]string{
		"s0": {string(store.CauseMovedOut), "now at uid=s0,ou=Archive," + baseDN},
		"s1": {string(store.CauseNotSynced), "still at uid=s1,ou=Sales," + baseDN + ", of no object class syncguard syncs"},
		"s2": {string(store.CauseDeleted), ""},
		"e0": {string(store.CauseScopeChanged), "ou=Engineering," + baseDN + " removed from the scope by alice at " + editedAt},
	}
	got := map[string]store.Staged{}
	for _, s := range e.staged() {
		got[strings.TrimPrefix(strings.Split(s.DN, ",")[0], "uid=")] = s
	}
	for uid, w := range want {
		s := got[uid]
		if string(s.Cause) != w[0] || s.Detail != w[1] || s.CycleID != q.ID {
			t.Errorf("%s: cause %q, detail %q; want %q, %q", uid, s.Cause, s.Detail, w[0], w[1])
		}
	}
	for _, l := range e.logs(q.ID) {
		if l.Action == store.ActionStagedDelete && strings.HasPrefix(l.DN, "uid=s0,") &&
			(l.Cause != store.CauseMovedOut || !strings.Contains(l.Details, "now at uid=s0,ou=Archive")) {
			t.Errorf("log entry of s0: cause %q, details %q", l.Cause, l.Details)
		}
	}
	mail := e.notifications()[0].Body
	if !strings.Contains(mail, "Mainly: scope changed (3), then deleted at the source (1).") {
		t.Errorf("the mail does not name the main causes:\n%s", mail)
	}
}

// TestCausesLDAP: an LDAP source reads only the scope; when the guard
// stops a cycle, the objects it no longer sees are looked up below the
// base DN: one moved to an OU out of scope is "moved out of scope" and
// says where it is, one deleted is "deleted at the source".
func TestCausesLDAP(t *testing.T) {
	t.Parallel()
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: ldapDirectory(3).LDIF()})
	e := newLDAPEnv(t, srv, store.Basics{Prevent: true, Threshold: 1}, ldifScope...)
	e.runWant(store.OutcomeSucceeded)
	c := srv.Conn(t)
	req := goldap.NewModifyDNRequest("uid=s0,ou=Sales,"+srv.Suffix, "uid=s0", true, "ou=Archive,"+srv.Suffix)
	if err := c.ModifyDN(req); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(goldap.NewDelRequest("uid=s1,ou=Sales,"+srv.Suffix, nil)); err != nil {
		t.Fatal(err)
	}
	q := e.runWant(store.OutcomeQuarantined)
	causes := map[string]string{}
	for _, s := range e.staged() {
		causes[s.DN] = string(s.Cause) + "|" + s.Detail
	}
	want := map[string]string{
		"uid=s0,ou=Sales," + srv.Suffix: string(store.CauseMovedOut) + "|now at uid=s0,ou=Archive," + srv.Suffix,
		"uid=s1,ou=Sales," + srv.Suffix: string(store.CauseDeleted) + "|",
	}
	if !mapsEqual(causes, want) {
		t.Errorf("causes of cycle %d: %v, want %v", q.ID, causes, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// partialEnv is a quarantine of 12 deletions: 4 Sales users moved out of
// scope, 4 Engineering users deleted, and the group Leads deleted... with
// the users s0…s3 and e0…e3 and group Leads gone.
func partialEnv(t *testing.T) (*env, *store.Cycle, directory) {
	t.Helper()
	dir := newDirectory(6)
	e := newLDIFEnv(t, dir, store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 5})
	e.runWant(store.OutcomeSucceeded)
	lost := dir.clone()
	for i := range 4 {
		lost.user(fmt.Sprintf("s%d", i)).OU = "Archive"
	}
	lost.remove("e0", "e1", "e2", "e3")
	lost.Groups = lost.Groups[:1]
	e.write(lost)
	return e, e.runWant(store.OutcomeQuarantined), lost
}

// TestPartialApproval: Allow deletes takes a part by OU, type, cause or
// chosen objects (the filters intersect); the rest stays pending and sync
// stays stopped until none is; Allow deletes of the rest ends it.
func TestPartialApproval(t *testing.T) {
	t.Parallel()
	e, q, lost := partialEnv(t)
	eng := "ou=Engineering," + baseDN
	steps := []struct {
		name      string
		part      store.StagedFilter
		deleted   int
		remaining int
	}{
		{"users of Engineering", store.StagedFilter{OUs: []string{eng}, Type: TypeUser}, 4, 5},
		{"groups", store.StagedFilter{Type: TypeGroup}, 1, 4},
		{"one chosen, moved out", store.StagedFilter{Cause: store.CauseMovedOut, Anchors: anchors(lost, "s0")}, 1, 3},
		{"the rest", store.StagedFilter{}, 3, 0},
	}
	for _, s := range steps {
		res, err := e.eng.AllowPart(t.Context(), e.id, q.ID, "alice", s.part, s.name)
		if err != nil || res.Count != s.deleted || res.Remaining != s.remaining {
			t.Fatalf("%s: AllowPart = %+v, %v; want %d deleted, %d remaining", s.name, res, err, s.deleted, s.remaining)
		}
		cfg := e.config()
		if stopped := cfg.QuarantineID == q.ID; stopped != (s.remaining > 0) {
			t.Errorf("%s: quarantine %d with %d remaining", s.name, cfg.QuarantineID, s.remaining)
		}
		if (res.Next == TriggerAllow) != (s.remaining == 0) {
			t.Errorf("%s: next %q with %d remaining", s.name, res.Next, s.remaining)
		}
	}
	cy, err := e.st.Cycle(t.Context(), e.id, q.ID)
	if err != nil || cy.Resolution != "allowed" || cy.ResolvedBy != "alice" || cy.Allowed != 9 || cy.Pending != 0 {
		t.Errorf("quarantine cycle %+v, %v; want allowed by alice, 9 allowed", cy, err)
	}
	e.runWant(store.OutcomeSucceeded)
	e.wantTarget(lost)
	// A part with nothing left pending is refused.
	if _, err := e.eng.AllowPart(t.Context(), e.id, q.ID, "bob", store.StagedFilter{Type: TypeGroup}, ""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("allowing again = %v, want a conflict", err)
	}
}

// TestPartialApprovalHeld: with a hold (SPEC section 10), the part an
// admin allows is held rather than deleted — Disable entries, held objects
// allowed by that admin with their OU and cause — and the rest stays
// pending until it is allowed too.
func TestPartialApprovalHeld(t *testing.T) {
	t.Parallel()
	dir := newDirectory(5)
	e := newLDIFEnv(t, dir, store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 3, Hold: 24 * time.Hour})
	e.runWant(store.OutcomeSucceeded)
	src := dir.clone()
	src.remove("s0", "s1", "e0", "e1")
	e.write(src)
	q := e.runWant(store.OutcomeQuarantined)
	sales := "ou=Sales," + baseDN
	res, err := e.eng.AllowPart(t.Context(), e.id, q.ID, "alice", store.StagedFilter{OUs: []string{sales}}, "OU Sales")
	if err != nil || res.Count != 2 || res.Remaining != 2 {
		t.Fatalf("AllowPart of Sales = %+v, %v; want 2 allowed, 2 remaining", res, err)
	}
	held := e.held(store.HeldQuery{})
	if len(held) != 2 {
		t.Fatalf("%d held after allowing Sales, want 2", len(held))
	}
	for _, h := range held {
		if h.AllowedBy != "alice" || h.CycleID != q.ID || h.Cause != store.CauseDeleted || !strings.EqualFold(h.OU, sales) {
			t.Errorf("held %s: allowed by %q, cycle %d, cause %q, OU %q; want alice, cycle %d, deleted, Sales",
				h.Name, h.AllowedBy, h.CycleID, h.Cause, h.OU, q.ID)
		}
	}
	logged := countActions(e.logs(q.ID))
	if logged["Disable/Success"] != 2 || logged["Delete/Success"] != 0 {
		t.Errorf("quarantine cycle %d logged %v, want 2 Disable/Success and no Delete", q.ID, logged)
	}
	if cfg := e.config(); cfg.QuarantineID != q.ID {
		t.Errorf("sync runs again with 2 staged deletions pending (quarantine %d)", cfg.QuarantineID)
	}
	if res, err := e.eng.AllowPart(t.Context(), e.id, q.ID, "bob", store.StagedFilter{}, ""); err != nil || res.Count != 2 ||
		res.Remaining != 0 {
		t.Fatalf("AllowPart of the rest = %+v, %v; want 2 allowed, none remaining", res, err)
	}
	if n := len(e.held(store.HeldQuery{})); n != 4 {
		t.Errorf("%d held after allowing all, want 4", n)
	}
	if c := e.run(TriggerAllow); c.Outcome != store.OutcomeSucceeded || c.Deletes != 0 {
		t.Errorf("the cycle after Allow deletes: %s with %d deletes; want Succeeded with none", c.Outcome, c.Deletes)
	}
}

// TestPartialApprovalTwoAdminsAtOnce: two admins allow the same part at
// once, on two database handles: its objects are deleted once, and one of
// them is told nothing was left.
func TestPartialApprovalTwoAdminsAtOnce(t *testing.T) {
	t.Parallel()
	e, q, _ := partialEnv(t)
	other := openStore(t, e.db, e.clock)
	engines := []*Engine{e.eng, {Store: other}}
	part := store.StagedFilter{OUs: []string{"ou=Engineering," + baseDN}}
	var wg sync.WaitGroup
	results := make([]Resolution, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = engines[i%2].AllowPart(context.Background(), e.id, q.ID, fmt.Sprint("admin", i), part, "")
		})
	}
	wg.Wait()
	won := 0
	for i := range results {
		switch {
		case errs[i] == nil && results[i].Count == 4:
			won++
		case errors.Is(errs[i], store.ErrConflict):
		default:
			t.Errorf("caller %d: %+v, %v", i, results[i], errs[i])
		}
	}
	deletes := 0
	for _, l := range e.logs(0) {
		if l.Action == store.ActionDelete {
			deletes++
		}
	}
	if won != 1 || deletes != 4 {
		t.Errorf("%d callers allowed, %d Delete entries; want 1 and 4", won, deletes)
	}
}

// TestHeldCycleReleasingAllEndsQuarantine: while stopped, a cycle that
// finds every staged object back in scope releases them all: nothing is
// left to decide, so the quarantine ends and a real cycle runs at once.
func TestHeldCycleReleasingAllEndsQuarantine(t *testing.T) {
	t.Parallel()
	dir := newDirectory(3)
	e := newLDIFEnv(t, dir, store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 2})
	e.runWant(store.OutcomeSucceeded)
	moved := dir.clone()
	for _, u := range []string{"s0", "s1"} {
		moved.user(u).OU = "Archive"
	}
	e.write(moved)
	q := e.runWant(store.OutcomeQuarantined)
	restored := moved.clone()
	restored.user("s0").OU, restored.user("s1").OU = "Sales", "Sales"
	restored.user("e0").Title = "New title"
	e.write(restored)
	c := e.run(TriggerManual)
	if c.Outcome != store.OutcomeSucceeded || c.Updates != 1 {
		t.Errorf("cycle after the release = %+v, want Succeeded with e0's update", c)
	}
	if cfg := e.config(); cfg.QuarantineID != 0 || cfg.Status != store.StatusHealthy {
		t.Errorf("configuration: quarantine %d, %s; want none, healthy", cfg.QuarantineID, cfg.Status)
	}
	cy, _ := e.st.Cycle(t.Context(), e.id, q.ID)
	if cy.Resolution != "released" || cy.Pending != 0 {
		t.Errorf("quarantine %+v, want released", cy)
	}
	e.wantTarget(restored)
}

// TestPreviewRecordsNothing: a preview reads and plans, says what the
// cycle would do and whether the guard would stop it, and leaves every
// table of the database file as it was.
func TestPreviewRecordsNothing(t *testing.T) {
	t.Parallel()
	dir := newDirectory(4)
	e := newLDIFEnv(t, dir, store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 3})
	e.runWant(store.OutcomeSucceeded)
	changed := dir.clone()
	changed.remove("e0")
	changed.user("e1").Title = "New"
	e.write(changed)
	cfg := e.config()
	edited := *cfg
	edited.Scope = []string{"ou=Engineering," + baseDN, "ou=Groups," + baseDN}
	before := tableSums(t, e.db)
	p, err := e.eng.Preview(t.Context(), &edited, ScopeEdit(cfg, &edited, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if after := tableSums(t, e.db); !mapsEqual(before, after) {
		t.Errorf("the preview changed the database:\nbefore %v\nafter  %v", before, after)
	}
	if p.Deletes != 5 || p.Updates < 1 || !p.WouldQuarantine || p.DeletesByCause[string(store.CauseScopeChanged)] != 4 ||
		p.DeletesByCause[string(store.CauseDeleted)] != 1 || p.DeletesByOU["ou=Sales,"+baseDN] != 4 {
		t.Errorf("preview %+v", p)
	}
	for _, d := range p.Sample {
		if d.Cause == store.CauseScopeChanged && d.Detail != "ou=Sales,"+baseDN+" removed from the scope by alice (this edit, not saved)" {
			t.Errorf("sample %s: detail %q", d.DN, d.Detail)
		}
	}
	if p.Limits[0].Kind != LimitAll || p.Limits[0].Count != 5 || !p.Limits[0].Reached {
		t.Errorf("limits %+v", p.Limits)
	}
}

// tableSums returns a checksum of every table's rows of the database file.
func tableSums(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]string{}
	for _, tb := range tables {
		r, err := db.Query(`SELECT * FROM "` + tb + `"`)
		if err != nil {
			continue // virtual tables' shadows
		}
		cols, _ := r.Columns()
		h := sha256.New()
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			r.Scan(ptrs...)
			fmt.Fprintln(h, vals...)
		}
		r.Close()
		out[tb] = fmt.Sprintf("%x", h.Sum(nil))
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReminders: while a quarantine is pending, a reminder goes out every
// RemindEvery (the store's clock moved by the test), from the quarantine
// on, and none once it is decided or when they are off.
func TestReminders(t *testing.T) {
	t.Parallel()
	dir := newDirectory(3)
	e := newLDIFEnv(t, dir, store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 2, RemindEvery: 24 * time.Hour})
	e.runWant(store.OutcomeSucceeded)
	lost := dir.clone()
	lost.remove("s0", "s1")
	e.write(lost)
	q := e.runWant(store.OutcomeQuarantined)
	reminders := func() int {
		t.Helper()
		if _, err := e.eng.RemindStopped(t.Context()); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range e.notifications() {
			if m.Subject == ReminderSubject("corp") {
				n++
			}
		}
		return n
	}
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{{0, 0}, {23 * time.Hour, 0}, {time.Hour, 1}, {time.Hour, 1}, {23 * time.Hour, 2}, {48 * time.Hour, 3}} {
		e.clock.Advance(step.advance)
		if got := reminders(); got != step.want {
			t.Fatalf("after %v more: %d reminders, want %d", step.advance, got, step.want)
		}
	}
	last := e.notifications()[0]
	if !strings.Contains(last.Body, "Sync of \"corp\" is still stopped") || !strings.Contains(last.Body, "2 staged changes wait") ||
		!strings.Contains(last.Body, e.eng.StatusURL(e.id)) {
		t.Errorf("reminder body:\n%s", last.Body)
	}
	if _, err := e.eng.RestartSync(t.Context(), e.id, q.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(72 * time.Hour)
	if got := reminders(); got != 3 {
		t.Errorf("%d reminders after Restart sync, want still 3", got)
	}
}
