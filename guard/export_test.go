package guard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
	"github.com/syncguard/syncguard/store"
)

// The exporter's tests run cycles over an LDIF source, as the engine
// tests do, into a real target: a second private slapd under
// dc=cloud,dc=example, read back with plain go-ldap searches, or a SCIM
// service (scimtest), read back through its own state.

const cloudBase = "dc=cloud,dc=example"

// newTargetEnv is an LDIF configuration exporting to t, on the real
// clock (the exporter waits in real time).
func newTargetEnv(tt *testing.T, dir directory, b store.Basics, t store.Target) *env {
	tt.Helper()
	e := newLDIFEnv(tt, dir, b)
	e.st.SetClock(time.Now)
	t.ConfigID = e.id
	if err := e.st.SetTarget(tt.Context(), &t, "test"); err != nil {
		tt.Fatalf("SetTarget: %v", err)
	}
	return e
}

// ldapTarget starts an empty slapd for the target and returns it with the
// target settings that reach it.
func ldapTarget(t *testing.T) (*slapdtest.Server, store.Target) {
	t.Helper()
	slapdtest.Require(t)
	srv := slapdtest.Start(t, slapdtest.Options{Suffix: cloudBase})
	return srv, store.Target{URL: srv.URL, BaseDN: cloudBase, BindDN: srv.RootDN, BindPassword: srv.RootPW}
}

// scimTarget starts a SCIM service and returns it with the target
// settings that reach it.
func scimTarget(t *testing.T, opts scimtest.Options) (*scimtest.Server, store.Target) {
	t.Helper()
	srv := scimtest.Start(t, opts)
	return srv, store.Target{URL: srv.URL, Token: srv.Token}
}

// exporter returns an exporter of the env's store with a short backoff.
func (e *env) exporter() *Exporter {
	return &Exporter{Store: e.st, Backoff: func(int) time.Duration { return 20 * time.Millisecond }}
}

// drain exports the queue until it is empty and fails the test if
// anything is left or refused.
func (e *env) drain() Drained {
	e.t.Helper()
	x := e.exporter()
	defer x.Close()
	d, err := x.Drain(e.t.Context(), e.id, 10*time.Second)
	if err != nil {
		e.t.Fatalf("Drain: %v", err)
	}
	if d.Pending != 0 || d.Failed != 0 {
		e.t.Fatalf("Drain left %d pending, %d refused (last error %q)", d.Pending, d.Failed, d.LastError)
	}
	return d
}

// ldapEntry is a target entry as a plain search reads it.
type ldapEntry struct {
	DN    string
	UUID  string
	Attrs map[string][]string
}

// ldapEntries reads every user and group below the target base with a
// plain search, by lower-cased DN.
func ldapEntries(t *testing.T, srv *slapdtest.Server) map[string]ldapEntry {
	t.Helper()
	c := srv.Conn(t)
	res, err := c.Search(ldapv3.NewSearchRequest(cloudBase, ldapv3.ScopeWholeSubtree, ldapv3.NeverDerefAliases, 0, 0, false,
		"(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))", []string{"*", "entryUUID"}, nil))
	if err != nil {
		t.Fatalf("search the target: %v", err)
	}
	out := map[string]ldapEntry{}
	for _, en := range res.Entries {
		le := ldapEntry{DN: en.DN, UUID: en.GetAttributeValue("entryUUID"), Attrs: map[string][]string{}}
		for _, a := range en.Attributes {
			le.Attrs[strings.ToLower(a.Name)] = a.Values
		}
		out[strings.ToLower(en.DN)] = le
	}
	return out
}

func cloudDN(rdn, ou string) string { return strings.ToLower(rdn + ",ou=" + ou + "," + cloudBase) }

// wantLDAP checks that the target holds exactly the users and groups dir
// syncs, each at its place below the target base, groups with the
// target DNs of their synced members.
func wantLDAP(t *testing.T, srv *slapdtest.Server, dir directory) map[string]ldapEntry {
	t.Helper()
	got := ldapEntries(t, srv)
	want := map[string][]string{}
	synced := map[string]bool{}
	for _, u := range dir.Users {
		if inScope(u.OU) {
			want[cloudDN("uid="+u.UID, u.OU)] = nil
			synced[u.UID] = true
		}
	}
	for _, g := range dir.Groups {
		var members []string
		for _, m := range g.Members {
			if synced[m] {
				members = append(members, cloudDN("uid="+m, dir.user(m).OU))
			}
		}
		if len(members) == 0 {
			members = []string{""}
		}
		slices.Sort(members)
		want[cloudDN("cn="+g.CN, "Groups")] = members
	}
	for dn, members := range want {
		en, ok := got[dn]
		if !ok {
			t.Errorf("the target lacks %s", dn)
			continue
		}
		if members != nil {
			have := slices.Clone(en.Attrs["member"])
			for i := range have {
				have[i] = strings.ToLower(have[i])
			}
			slices.Sort(have)
			if !slices.Equal(have, members) {
				t.Errorf("members of %s = %q, want %q", dn, have, members)
			}
		}
	}
	for dn := range got {
		if _, ok := want[dn]; !ok {
			t.Errorf("the target holds %s, which the source does not sync", dn)
		}
	}
	return got
}

// logStatuses counts the entries of the configuration's log by status.
func (e *env) logStatuses() map[string]int {
	out := map[string]int{}
	for _, l := range e.logs(0) {
		out[l.Status]++
	}
	return out
}

func TestExportLDAPFollowsTheSource(t *testing.T) {
	srv, tgt := ldapTarget(t)
	dir := newDirectory(3)
	e := newTargetEnv(t, dir, defaultBasics, tgt)

	c := e.runWant(store.OutcomeSucceeded)
	if got := countActions(e.logs(c.ID)); got["Create/Pending"] != 8 {
		t.Fatalf("first cycle logged %v, want 8 Create/Pending", got)
	}
	if got := len(ldapEntries(t, srv)); got != 0 {
		t.Fatalf("the target holds %d entries before the exporter ran", got)
	}
	if d := e.drain(); d.Sent != 8 {
		t.Errorf("Drain sent %d, want 8", d.Sent)
	}
	if got := countActions(e.logs(c.ID)); got["Create/Success"] != 8 {
		t.Errorf("after the export, cycle %d logged %v, want 8 Create/Success", c.ID, got)
	}
	before := wantLDAP(t, srv, dir)

	// An update, a move (one ModifyDN: the entry keeps its entryUUID) and
	// a deletion below the threshold.
	s1 := before[cloudDN("uid=s1", "Sales")]
	dir.user("s0").Title = "Head of Sales"
	dir.user("s1").OU = "Engineering"
	dir.remove("e2")
	e.write(dir)
	c = e.runWant(store.OutcomeSucceeded)
	e.drain()
	after := wantLDAP(t, srv, dir)
	if got := after[cloudDN("uid=s0", "Sales")].Attrs["title"]; !slices.Equal(got, []string{"Head of Sales"}) {
		t.Errorf("title of s0 in the target = %q, want Head of Sales", got)
	}
	if moved := after[cloudDN("uid=s1", "Engineering")]; moved.UUID != s1.UUID || s1.UUID == "" {
		t.Errorf("s1 moved to %s with entryUUID %q, was %q: not one ModifyDN", moved.DN, moved.UUID, s1.UUID)
	}
	if got := e.logStatuses(); got[store.LogPending] != 0 || got[store.LogFailure] != 0 {
		t.Errorf("log statuses after the export: %v", got)
	}
	// The group naming s1 follows its move: LDAP members are DNs.
	if got := countActions(e.logs(c.ID)); got["Update/Success"] != 3 || got["Delete/Success"] != 1 {
		t.Errorf("cycle %d logged %v, want 3 Update/Success (s0, s1, Staff) and 1 Delete/Success", c.ID, got)
	}
}

// TestExportGuardInFront trips the guard with an LDAP target: a quarantined
// cycle exports nothing; Restart sync after the fix deletes nothing; Allow
// deletes deletes exactly the staged objects from the target.
func TestExportGuardInFront(t *testing.T) {
	srv, tgt := ldapTarget(t)
	dir := newDirectory(5)
	e := newTargetEnv(t, dir, defaultBasics, tgt)
	e.runWant(store.OutcomeSucceeded)
	e.drain()
	full := wantLDAP(t, srv, dir)

	// The Sales OU leaves the source: 5 deletions reach the threshold.
	gone := dir.clone()
	for i := range gone.Users {
		if gone.Users[i].OU == "Sales" {
			gone.Users[i].OU = "Archive"
		}
	}
	trip := func() {
		t.Helper()
		e.write(gone)
		e.runWant(store.OutcomeQuarantined)
		if d := e.drain(); d.Sent != 0 {
			t.Errorf("a quarantined cycle exported %d", d.Sent)
		}
		if got := ldapEntries(t, srv); len(got) != len(full) {
			t.Fatalf("quarantined: the target holds %d entries, want the %d it held", len(got), len(full))
		}
	}
	trip()
	e.write(dir)
	cfg := e.config()
	if _, err := e.eng.RestartSync(t.Context(), e.id, cfg.QuarantineID, "test"); err != nil {
		t.Fatal(err)
	}
	e.run(TriggerRestart)
	e.drain()
	wantLDAP(t, srv, dir)

	trip()
	cfg = e.config()
	res, err := e.eng.AllowDeletes(t.Context(), e.id, cfg.QuarantineID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if d := e.drain(); d.Sent != 5 || res.Count != 5 {
		t.Errorf("Allow deletes of %d exported %d, want 5", res.Count, d.Sent)
	}
	e.run(TriggerAllow)
	e.drain()
	wantLDAP(t, srv, gone)
}

// TestExportNoneIsTheCopy: without a target nothing is queued and every
// entry is a Success at once, as before targets existed.
func TestExportNoneIsTheCopy(t *testing.T) {
	dir := newDirectory(3)
	e := newLDIFEnv(t, dir, defaultBasics)
	c := e.runWant(store.OutcomeSucceeded)
	if got := countActions(e.logs(c.ID)); got["Create/Success"] != 8 || len(got) != 1 {
		t.Errorf("logged %v, want 8 Create/Success", got)
	}
	d, err := e.exporter().Drain(t.Context(), e.id, time.Second)
	if err != nil || d != (Drained{}) {
		t.Errorf("Drain = %+v, %v; want nothing", d, err)
	}
}

// scimUsers returns the service's users by externalId.
func scimUsers(srv *scimtest.Server) map[string]scimtest.User {
	out := map[string]scimtest.User{}
	for _, u := range srv.Users() {
		out[u.ExternalID] = u
	}
	return out
}

// wantSCIM checks the service holds exactly dir's synced users (once
// each) and its groups with their synced members' SCIM ids.
func wantSCIM(t *testing.T, srv *scimtest.Server, dir directory) {
	t.Helper()
	users := srv.Users()
	byExt := map[string]scimtest.User{}
	for _, u := range users {
		if _, dup := byExt[u.ExternalID]; dup {
			t.Errorf("user %s (%s) is in the service twice", u.ExternalID, u.UserName)
		}
		byExt[u.ExternalID] = u
	}
	want := map[string]string{}
	for _, u := range dir.Users {
		if inScope(u.OU) {
			want["uuid:"+u.UUID] = u.UID
		}
	}
	for ext, uid := range want {
		if u, ok := byExt[ext]; !ok || u.UserName != uid {
			t.Errorf("user %s: %+v, want userName %s", ext, u, uid)
		}
	}
	if len(byExt) != len(want) {
		t.Errorf("the service holds %d users, want %d", len(byExt), len(want))
	}
	for _, g := range dir.Groups {
		sg, ok := srv.GroupByExternalID("uuid:" + g.UUID)
		if !ok {
			t.Errorf("group %s is missing", g.CN)
			continue
		}
		var wantMembers []string
		for _, m := range g.Members {
			if u, ok := byExt["uuid:"+dir.user(m).UUID]; ok && inScope(dir.user(m).OU) {
				wantMembers = append(wantMembers, u.ID)
			}
		}
		have := slices.Clone(sg.Members)
		sort.Strings(have)
		sort.Strings(wantMembers)
		if !slices.Equal(have, wantMembers) {
			t.Errorf("members of %s = %v, want %v", g.CN, have, wantMembers)
		}
	}
}

func TestExportSCIMFollowsTheSource(t *testing.T) {
	srv, tgt := scimTarget(t, scimtest.Options{})
	dir := newDirectory(3)
	e := newTargetEnv(t, dir, defaultBasics, tgt)
	e.runWant(store.OutcomeSucceeded)
	e.drain()
	wantSCIM(t, srv, dir)
	if n := srv.Requests("POST", "/Users"); n != 6 {
		t.Errorf("%d POST /Users, want 6 (an empty service takes creates at once)", n)
	}

	dir.user("s0").Title = "Head of Sales"
	dir.user("s1").OU = "Engineering"
	dir.remove("e2")
	e.write(dir)
	e.runWant(store.OutcomeSucceeded)
	e.drain()
	wantSCIM(t, srv, dir)
	if n := srv.Requests("DELETE", "/Users"); n != 1 {
		t.Errorf("%d DELETE /Users, want 1", n)
	}
}

var errStop = errors.New("stop")

// untilTrue polls cond until it holds or the test's deadline nears.
func untilTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waited in vain for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

var _ = fmt.Sprint

// TestExportWholeCopyToANewTarget: a target added to a configuration that
// already synced gets the whole copy from the next cycle, though the
// source is unchanged (the digest applies).
func TestExportWholeCopyToANewTarget(t *testing.T) {
	srv, tgt := scimTarget(t, scimtest.Options{})
	dir := newDirectory(3)
	e := newLDIFEnv(t, dir, defaultBasics)
	e.st.SetClock(time.Now)
	e.runWant(store.OutcomeSucceeded)
	tgt.ConfigID = e.id
	if err := e.st.SetTarget(t.Context(), &tgt, "test"); err != nil {
		t.Fatal(err)
	}
	c := e.runWant(store.OutcomeSucceeded)
	if !c.SourceUnchanged {
		t.Errorf("cycle %d planned in full; the digest should have applied", c.ID)
	}
	if got := countActions(e.logs(c.ID)); got["Create/Pending"] != 8 {
		t.Errorf("cycle %d logged %v, want the 8 objects queued for the new target", c.ID, got)
	}
	e.drain()
	wantSCIM(t, srv, dir)
}

// TestTargetObject: a put sends members by their source DNs and links
// (those not in the copy left out), a manager kept as an anchor as its
// source DN (dropped when unknown, kept when already a DN), and whether
// the account is enabled.
func TestTargetObject(t *testing.T) {
	refs := map[string]store.TargetRef{
		"uuid:1": {DN: "uid=ann,ou=Sales,dc=corp,dc=example", Link: "id-1"},
		"uuid:2": {DN: "uid=bob,ou=Sales,dc=corp,dc=example"},
	}
	g := targetObject(&store.TargetObject{Anchor: "uuid:9", Type: TypeGroup, Attributes: map[string][]string{
		"cn": {"Staff"}, MembersAttr: {"uuid:1", "uuid:2", "uuid:3"}}}, refs)
	if _, ok := g.Attributes[MembersAttr]; ok || len(g.Members) != 2 || g.Members[0].Link != "id-1" || g.Members[1].DN != refs["uuid:2"].DN {
		t.Errorf("group = %+v", g)
	}
	u := targetObject(&store.TargetObject{Anchor: "uuid:8", Type: TypeUser, Attributes: map[string][]string{
		"manager": {"uuid:1", "guid:77", "uid=boss,dc=corp,dc=example"}, "userAccountControl": {"514"}}}, refs)
	if want := []string{refs["uuid:1"].DN, "uid=boss,dc=corp,dc=example"}; !slices.Equal(u.Attributes["manager"], want) || u.Enabled {
		t.Errorf("user = %+v, want manager %q and disabled", u, want)
	}
	u = targetObject(&store.TargetObject{Anchor: "uuid:7", Type: TypeUser, Attributes: map[string][]string{"manager": {"uuid:404"}}}, refs)
	if _, ok := u.Attributes["manager"]; ok || !u.Enabled {
		t.Errorf("user with an unknown manager = %+v", u)
	}
}
