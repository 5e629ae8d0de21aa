package guard

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
	"github.com/syncguard/syncguard/store"
)

// The hold before deletions become final (SPEC section 10), tested with
// no target, a real slapd and a real SCIM service: each object's state
// is read back from the target itself (plain go-ldap searches, the SCIM
// service's own state), or for no target from the copy and the held
// objects.

const holdFor = 72 * time.Hour

// holdSide is a target as the hold tests read it back.
type holdSide struct {
	// where says where the target holds the user uid of ou: "active" (in
	// its place, enabled), "held" (disabled for the hold) or "gone"; an
	// object held and in place at once fails the test.
	where func(t *testing.T, uid, ou string) string
	// staff returns the uids the Staff group names in the target, sorted.
	staff func(t *testing.T) []string
	// creates counts the objects ever created in the target (-1: not
	// counted).
	creates func() int
}

// noneSide reads the target directory copy and the held objects.
func noneSide(e *env, dir directory) holdSide {
	return holdSide{
		where: func(t *testing.T, uid, ou string) string {
			dn := person{UID: uid, OU: ou}.DN()
			var in, held int
			for _, o := range e.objects() {
				if o.DN == dn {
					in++
				}
			}
			for _, h := range e.held(store.HeldQuery{}) {
				if h.DN == dn {
					held++
				}
			}
			switch {
			case in+held > 1:
				t.Fatalf("%s is in the target directory %d times and held %d times", uid, in, held)
			case in == 1:
				return "active"
			case held == 1:
				return "held"
			}
			return "gone"
		},
		staff: func(t *testing.T) []string {
			var out []string
			for _, o := range e.objects() {
				if o.Name == "Staff" {
					for _, m := range o.Attributes[MembersAttr] {
						out = append(out, uidOf(dir, m))
					}
				}
			}
			slices.Sort(out)
			return out
		},
		creates: func() int { return -1 },
	}
}

// ldapSide reads a slapd target with plain searches.
func ldapSide(e *env, _ directory) holdSide {
	srv := e.ldap
	return holdSide{
		where: func(t *testing.T, uid, ou string) string {
			var found []string
			for dn, en := range ldapEntries(t, srv) {
				if slices.Contains(en.Attrs["uid"], uid) {
					found = append(found, dn)
				}
			}
			switch {
			case len(found) > 1:
				t.Fatalf("%s is in the target %d times: %q", uid, len(found), found)
			case len(found) == 0:
				return "gone"
			case found[0] == cloudDN("uid="+uid, ou):
				return "active"
			case strings.HasSuffix(found[0], ",ou=syncguard-held,"+cloudBase):
				return "held"
			}
			t.Fatalf("%s is at %s, neither in its place nor held", uid, found[0])
			return ""
		},
		staff: func(t *testing.T) []string {
			var out []string
			for _, m := range ldapEntries(t, srv)[cloudDN("cn=Staff", "Groups")].Attrs["member"] {
				rdn, _, _ := strings.Cut(m, ",")
				out = append(out, strings.TrimPrefix(rdn, "uid="))
			}
			slices.Sort(out)
			return out
		},
		creates: func() int { return -1 },
	}
}

// scimSide reads a SCIM target's own state.
func scimSide(e *env, _ directory) holdSide {
	srv := e.scim
	return holdSide{
		where: func(t *testing.T, uid, ou string) string {
			var found []scimtest.User
			for _, u := range srv.Users() {
				if u.UserName == uid {
					found = append(found, u)
				}
			}
			switch {
			case len(found) > 1:
				t.Fatalf("%s is in the service %d times", uid, len(found))
			case len(found) == 0:
				return "gone"
			case found[0].Active:
				return "active"
			}
			return "held"
		},
		staff: func(t *testing.T) []string {
			g, ok := srv.GroupByExternalID("uuid:" + uuidFor(1000))
			if !ok {
				t.Fatal("the service has no Staff group")
			}
			byID := map[string]string{}
			for _, u := range srv.Users() {
				byID[u.ID] = u.UserName
			}
			var out []string
			for _, m := range g.Members {
				out = append(out, byID[m])
			}
			slices.Sort(out)
			return out
		},
		creates: func() int { return srv.Requests(http.MethodPost, "/Users") },
	}
}

// uidOf is the uid of the user of dir with anchor.
func uidOf(dir directory, anchor string) string {
	for _, u := range dir.Users {
		if "uuid:"+u.UUID == anchor {
			return u.UID
		}
	}
	return anchor
}

// held returns the configuration's held objects q selects, newest first.
func (e *env) held(q store.HeldQuery) []store.HeldObject {
	e.t.Helper()
	q.ConfigID, q.Limit = e.id, 1<<20
	h, err := e.st.HeldObjects(e.t.Context(), q)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// movingClock makes the store's clock real time moved by an offset the
// test sets (the exporter waits in real time).
func (e *env) movingClock() *atomic.Int64 {
	var off atomic.Int64
	e.st.SetClock(func() time.Time { return time.Now().Add(time.Duration(off.Load())) })
	return &off
}

// sync sends what the env queued to its target, if it has one.
func (e *env) sync() {
	e.t.Helper()
	if e.ldap != nil || e.scim != nil {
		e.drain()
	}
}

// restore restores sel for "admin" and fails the test on an error.
func (e *env) restore(sel RestoreSelection) store.Restored {
	e.t.Helper()
	res, err := e.eng.Restore(e.t.Context(), e.id, sel, "admin")
	if err != nil {
		e.t.Fatalf("Restore(%+v): %v", sel, err)
	}
	return res
}

// wantWhere checks where the target holds each user.
func wantWhere(t *testing.T, side holdSide, want map[string]string) {
	t.Helper()
	for uid, w := range want {
		ou := map[byte]string{'s': "Sales", 'e': "Engineering"}[uid[0]]
		if got := side.where(t, uid, ou); got != w {
			t.Errorf("%s in the target: %s, want %s", uid, got, w)
		}
	}
}

func wantStaff(t *testing.T, side holdSide, want ...string) {
	t.Helper()
	if got := side.staff(t); !slices.Equal(got, want) {
		t.Errorf("Staff names %q in the target, want %q", got, want)
	}
}

// TestHold runs the hold's life with each kind of target: deletions under
// the limits are held (disabled in the target), restored one by one, by
// OU and all at once (with the groups that named them), restored by the
// source itself, deleted again by the next cycle when the source still
// lacks them, and purged when the hold ends.
func TestHold(t *testing.T) {
	for _, kind := range []string{TargetNone, TargetLDAP, TargetSCIM} {
		t.Run(kind, func(t *testing.T) { testHold(t, kind) })
	}
}

func testHold(t *testing.T, kind string) {
	dir := newDirectory(5)
	b := store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 5, Hold: holdFor}
	e, side := newHoldEnv(t, kind, dir, b, scimtest.Options{})
	clock := e.movingClock()
	e.runWant(store.OutcomeSucceeded)
	e.sync()
	created := side.creates()

	// Three deletions, below the threshold of 5: held, not deleted.
	src := dir.clone()
	src.remove("s0", "s1", "e2")
	e.write(src)
	c := e.runWant(store.OutcomeSucceeded)
	if c.Deletes != 3 {
		t.Errorf("cycle %d: %d deletes, want 3", c.ID, c.Deletes)
	}
	e.sync()
	logged := countActions(e.logs(c.ID))
	if logged["Disable/Success"] != 3 || logged["Delete/Success"] != 0 {
		t.Errorf("cycle %d logged %v, want 3 Disable/Success and no Delete", c.ID, logged)
	}
	for _, l := range e.logs(c.ID) {
		if l.Action == store.ActionDisable && !strings.Contains(l.Details, "held until") {
			t.Errorf("Disable entry of %s says %q, not until when it is held", l.Name, l.Details)
		}
	}
	wantWhere(t, side, map[string]string{"s0": "held", "s1": "held", "e2": "held", "s2": "active", "e0": "active"})
	wantStaff(t, side, "e0")
	held := e.held(store.HeldQuery{})
	if len(held) != 3 {
		t.Fatalf("%d objects held, want 3", len(held))
	}
	for _, h := range held {
		if h.AllowedBy != store.HeldBySyncguard || h.Cause != store.CauseDeleted || h.CycleID != c.ID ||
			!h.PurgeAt.Equal(h.DeletedAt.Add(holdFor)) {
			t.Errorf("held %s: allowed by %q, cause %q, cycle %d, deleted %s, purge %s; want syncguard, %q, cycle %d, %s later",
				h.Name, h.AllowedBy, h.Cause, h.CycleID, h.DeletedAt, h.PurgeAt, store.CauseDeleted, c.ID, holdFor)
		}
	}

	// Restore one: back as it was, in the group that named it.
	if res := e.restore(RestoreSelection{Anchors: anchors(dir, "s0")}); res.Objects != 1 || res.Groups != 1 {
		t.Errorf("restore s0: %+v, want 1 object and 1 group", res)
	}
	if res := e.restore(RestoreSelection{Anchors: anchors(dir, "s0")}); res.Objects != 0 {
		t.Errorf("restoring s0 twice restored %d the second time", res.Objects)
	}
	e.sync()
	wantWhere(t, side, map[string]string{"s0": "active", "s1": "held", "e2": "held"})
	wantStaff(t, side, "e0", "s0")
	if got, want := e.objects()[anchors(dir, "s0")[0]], dir.want()[anchors(dir, "s0")[0]]; !equalObjects(got, want) {
		t.Errorf("s0 restored as %+v, want it as it was: %+v", got, want)
	}
	restores := entryAnchors(e.logs(0), store.ActionRestore, store.LogSuccess)
	if !slices.Equal(restores, anchors(dir, "s0")) {
		t.Errorf("Restore entries for %q, want s0's", restores)
	}

	// Restore an OU: e2 was in Engineering. An OU that holds nothing is
	// refused.
	if res := e.restore(RestoreSelection{OU: "OU=Engineering, DC=corp,DC=example"}); res.Objects != 1 {
		t.Errorf("restore Engineering: %+v, want e2", res)
	}
	if _, err := e.eng.Restore(t.Context(), e.id, RestoreSelection{OU: "ou=Archive," + baseDN}, "admin"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("restore of an OU that holds nothing: %v, want Invalid", err)
	}
	e.sync()
	wantWhere(t, side, map[string]string{"e2": "active", "s1": "held"})

	// s1 comes back in the source: the next cycle restores it (one
	// Restore entry, no create); s0 and e2, restored but still missing
	// from the source, are deletions again, and held again.
	back := dir.clone()
	back.remove("s0", "e2")
	e.write(back)
	c = e.runWant(store.OutcomeSucceeded)
	if c.Restores != 1 || c.Creates != 0 || c.Deletes != 2 {
		t.Errorf("cycle %d: %d restores, %d creates, %d deletes; want 1, 0, 2", c.ID, c.Restores, c.Creates, c.Deletes)
	}
	e.sync()
	logged = countActions(e.logs(c.ID))
	if logged["Restore/Success"] != 1 || logged["Create/Success"] != 0 || logged["Disable/Success"] != 2 {
		t.Errorf("cycle %d logged %v, want 1 Restore, no Create, 2 Disable", c.ID, logged)
	}
	wantWhere(t, side, map[string]string{"s1": "active", "s0": "held", "e2": "held"})
	wantStaff(t, side, "e0", "s1")
	if n := side.creates(); n != created {
		t.Errorf("%d objects created in the target since the first export, want none: restored, not created again", n-created)
	}

	// Restore all; the next cycle deletes (holds) them again.
	if res := e.restore(RestoreSelection{All: true}); res.Objects != 2 {
		t.Errorf("restore all: %+v, want 2", res)
	}
	e.sync()
	wantWhere(t, side, map[string]string{"s0": "active", "e2": "active"})
	e.runWant(store.OutcomeSucceeded)
	e.sync()
	wantWhere(t, side, map[string]string{"s0": "held", "e2": "held"})

	// s0 is recreated at the source, at its DN with another entryUUID:
	// the held object is restored and takes the new anchor, never
	// created a second time.
	re := back.clone()
	re.Users = append(re.Users, person{UID: "s0", OU: "Sales", UUID: uuidFor(5000), Title: "Title 1"})
	e.write(re)
	c = e.runWant(store.OutcomeSucceeded)
	if c.Restores != 1 || c.Creates != 0 {
		t.Errorf("cycle %d of a recreated object: %d restores, %d creates; want 1 and 0", c.ID, c.Restores, c.Creates)
	}
	e.sync()
	wantWhere(t, side, map[string]string{"s0": "active", "e2": "held"})
	if n := side.creates(); n != created {
		t.Errorf("%d objects created in the target for a recreated one, want none", n-created)
	}
	for _, l := range e.logs(c.ID) {
		if l.Action == store.ActionRestore && !strings.Contains(l.Details, "re-anchored: uuid:"+uuidFor(1)+" → uuid:"+uuidFor(5000)) {
			t.Errorf("the Restore of the recreated s0 says %q", l.Details)
		}
	}
	if e.scim != nil {
		for _, u := range e.scim.Users() {
			if u.UserName == "s0" && u.ExternalID != "uuid:"+uuidFor(5000) {
				t.Errorf("the recreated s0 in the service has externalId %q, want its new anchor", u.ExternalID)
			}
		}
	}

	// The hold ends: purged, gone from the target.
	clock.Add(int64(holdFor - time.Minute))
	if n, err := (&Purger{Store: e.st}).Purge(t.Context(), 0); err != nil || n != 0 {
		t.Errorf("Purge a minute before the hold ends: %d, %v; want none", n, err)
	}
	clock.Add(int64(2 * time.Minute))
	if n, err := (&Purger{Store: e.st, Batch: 1}).Purge(t.Context(), 0); err != nil || n != 1 {
		t.Errorf("Purge after the hold: %d, %v; want e2's", n, err)
	}
	e.sync()
	wantWhere(t, side, map[string]string{"e2": "gone", "s0": "active", "s1": "active"})
	if n := len(e.held(store.HeldQuery{})); n != 0 {
		t.Errorf("%d objects still held after the purge", n)
	}
	purged := 0
	for _, l := range e.logs(0) {
		if l.Action == store.ActionDelete && l.Status == store.LogSuccess && strings.Contains(l.Details, "purged after the hold of 72h") {
			purged++
		}
	}
	if purged != 1 {
		t.Errorf("%d Delete entries say purged after the hold of 72h, want 1", purged)
	}
}

// newHoldEnv is an env on dir with b, exporting to a target of kind (a
// SCIM service started with opts), and how to read that target back.
func newHoldEnv(t *testing.T, kind string, dir directory, b store.Basics, opts scimtest.Options) (*env, holdSide) {
	t.Helper()
	switch kind {
	case TargetLDAP:
		srv, tgt := ldapTarget(t)
		e := newTargetEnv(t, dir, b, tgt)
		e.ldap = srv
		return e, ldapSide(e, dir)
	case TargetSCIM:
		srv, tgt := scimTarget(t, opts)
		e := newTargetEnv(t, dir, b, tgt)
		e.scim = srv
		return e, scimSide(e, dir)
	}
	e := newLDIFEnv(t, dir, b)
	return e, noneSide(e, dir)
}

// equalObjects compares two target objects but their hashes.
func equalObjects(a, b store.TargetObject) bool {
	a.Hash, b.Hash = "", ""
	if a.Anchor != b.Anchor || a.Type != b.Type || a.DN != b.DN || a.Name != b.Name || len(a.Attributes) != len(b.Attributes) {
		return false
	}
	for k, v := range a.Attributes {
		if !slices.Equal(v, b.Attributes[k]) {
			return false
		}
	}
	return true
}

// TestHoldRestoreTripsTheGuard: restoring objects the source still lacks
// does not delete them silently: the next cycle counts them against the
// limits, and stops sync when they reach one. Allowed, they are held
// again, by whoever allowed them; the mail and the status info say until
// when.
func TestHoldRestoreTripsTheGuard(t *testing.T) {
	dir := newDirectory(5)
	e := newLDIFEnv(t, dir, store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 3, Hold: 24 * time.Hour})
	e.runWant(store.OutcomeSucceeded)
	src := dir.clone()
	src.remove("s0", "s1")
	e.write(src)
	e.runWant(store.OutcomeSucceeded)
	src.remove("e0", "e1")
	e.write(src)
	e.runWant(store.OutcomeSucceeded)
	if n := len(e.held(store.HeldQuery{})); n != 4 {
		t.Fatalf("%d held after two cycles of 2 deletions, want 4", n)
	}

	if res := e.restore(RestoreSelection{All: true}); res.Objects != 4 {
		t.Fatalf("restore all: %+v", res)
	}
	c := e.runWant(store.OutcomeQuarantined)
	if c.StagedDeletes != 4 {
		t.Errorf("cycle %d staged %d, want the 4 restored objects", c.ID, c.StagedDeletes)
	}
	mails := e.notifications()
	if len(mails) != 1 || !strings.Contains(mails[0].Body, "held until") || !strings.Contains(mails[0].Body, "/deleted") {
		t.Errorf("the quarantine mail does not say until when allowed deletions are held:\n%v", mails)
	}

	if _, err := e.eng.AllowDeletes(t.Context(), e.id, c.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	held := e.held(store.HeldQuery{})
	if len(held) != 4 {
		t.Fatalf("%d held after allowing 4, want 4", len(held))
	}
	for _, h := range held {
		if h.AllowedBy != "alice" || h.CycleID != c.ID || h.Cause == "" || h.OU == "" {
			t.Errorf("held %s: allowed by %q, cycle %d, cause %q, OU %q; want alice, cycle %d, a cause and an OU",
				h.Name, h.AllowedBy, h.CycleID, h.Cause, h.OU, c.ID)
		}
	}
	for _, l := range e.logs(c.ID) {
		if l.Action == store.ActionDisable && !strings.Contains(l.Details, "allowed by alice; held until") {
			t.Errorf("Disable entry of %s: %q", l.Name, l.Details)
		}
	}
	if got := entryAnchors(e.logs(c.ID), store.ActionDelete, store.LogSuccess); len(got) != 0 {
		t.Errorf("Allow deletes with a hold deleted %q at once", got)
	}
	if got := e.run(TriggerAllow); got.Outcome != store.OutcomeSucceeded || got.Deletes != 0 {
		t.Errorf("the cycle after Allow deletes: %s with %d deletes; want Succeeded with none", got.Outcome, got.Deletes)
	}
}

// TestPurgerRun: a purger started after holds ended (syncguard was
// stopped meanwhile: the held objects are in the database) purges them at
// once, and tells whoever exports.
func TestPurgerRun(t *testing.T) {
	dir := newDirectory(5)
	e := newLDIFEnv(t, dir, store.Basics{Prevent: true, Threshold: 5, Hold: time.Hour})
	e.runWant(store.OutcomeSucceeded)
	src := dir.clone()
	src.remove("s0", "e0")
	e.write(src)
	e.runWant(store.OutcomeSucceeded)
	if n := len(e.held(store.HeldQuery{})); n != 2 {
		t.Fatalf("%d held, want 2", n)
	}
	e.clock.Advance(2 * time.Hour)
	var told atomic.Int64
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&Purger{Store: e.st, Queued: func(id int64) { told.Store(id) }}).Run(ctx, time.Minute)
	}()
	untilTrue(t, "the purge of the held objects", func() bool { return len(e.held(store.HeldQuery{})) == 0 })
	cancel()
	<-done
	if told.Load() != e.id {
		t.Errorf("the purger told %d it queued exports, want %d", told.Load(), e.id)
	}
	if got := countActions(e.logs(0))["Delete/Success"]; got != 2 {
		t.Errorf("%d Delete/Success entries after the purge, want 2", got)
	}
}
