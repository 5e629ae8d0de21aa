package guard

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
	"github.com/syncguard/syncguard/store"
)

// This file holds what the engine tests share: a real SQLite store in
// t.TempDir(), a small directory model written out as LDIF, and snapshots of
// everything a cycle may change.

const baseDN = "dc=corp,dc=example"

// fakeClock is the store's clock in tests: it only moves when told to, and
// is safe to read from the cycle's lease-renewal goroutine.
type fakeClock struct {
	base time.Time
	off  atomic.Int64
}

func (c *fakeClock) Now() time.Time          { return c.base.Add(time.Duration(c.off.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// openStore opens the database at path (created when new) with clock.
func openStore(t *testing.T, path string, clock *fakeClock) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	st.SetClock(clock.Now)
	return st
}

// person is a user of the directory model: uid=UID,ou=OU,dc=corp,dc=example.
type person struct {
	UID, OU, UUID, Title string
	// Class is the structural object class; "" is inetOrgPerson.
	Class string
}

func (p person) DN() string { return "uid=" + p.UID + ",ou=" + p.OU + "," + baseDN }

// team is a groupOfNames under ou=Groups whose members are uids.
type team struct {
	CN, UUID string
	Members  []string
}

func (g team) DN() string { return "cn=" + g.CN + ",ou=Groups," + baseDN }

// directory is a small source directory the tests edit and write as LDIF.
type directory struct {
	OUs    []string
	Users  []person
	Groups []team
	// NoUUIDs leaves entryUUID out (slapd makes its own).
	NoUUIDs bool
}

func uuidFor(n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n) }

// newDirectory returns Sales and Engineering with perOU users each (s0…,
// e0…), Archive (never in scope) with two users (a0, a1), and two groups.
func newDirectory(perOU int) directory {
	d := directory{OUs: []string{"Sales", "Engineering", "Archive", "Groups"}}
	n := 1
	for _, ou := range []string{"Sales", "Engineering"} {
		for i := range perOU {
			d.Users = append(d.Users, person{UID: fmt.Sprintf("%c%d", strings.ToLower(ou)[0], i), OU: ou,
				UUID: uuidFor(n), Title: "Title " + fmt.Sprint(n)})
			n++
		}
	}
	for i := range 2 {
		d.Users = append(d.Users, person{UID: fmt.Sprintf("a%d", i), OU: "Archive", UUID: uuidFor(n), Title: "Archived"})
		n++
	}
	d.Groups = []team{
		{CN: "Staff", UUID: uuidFor(1000), Members: []string{"s0", "s1", "e0", "a0"}},
		{CN: "Leads", UUID: uuidFor(1001), Members: []string{"s2", "e1"}},
	}
	return d
}

// ldifScope is the scope the LDIF tests use: everything but ou=Archive.
var ldifScope = []string{"ou=Sales," + baseDN, "ou=Engineering," + baseDN, "ou=Groups," + baseDN}

// inScope reports whether an OU of the model is in ldifScope.
func inScope(ou string) bool { return ou != "Archive" }

func (d directory) clone() directory {
	c := d
	c.OUs = slices.Clone(d.OUs)
	c.Users = slices.Clone(d.Users)
	c.Groups = slices.Clone(d.Groups)
	for i := range c.Groups {
		c.Groups[i].Members = slices.Clone(d.Groups[i].Members)
	}
	return c
}

func (d *directory) user(uid string) *person {
	for i := range d.Users {
		if d.Users[i].UID == uid {
			return &d.Users[i]
		}
	}
	panic("no user " + uid)
}

// remove deletes users from the directory (and so from their groups' member lists).
func (d *directory) remove(uids ...string) {
	d.Users = slices.DeleteFunc(d.Users, func(p person) bool { return slices.Contains(uids, p.UID) })
}

// LDIF writes the directory as slapcat would: base, OUs, users, groups.
func (d directory) LDIF() []byte {
	var b bytes.Buffer
	uuid := func(u string) {
		if !d.NoUUIDs && u != "" {
			fmt.Fprintf(&b, "entryUUID: %s\n", u)
		}
	}
	b.WriteString("# test directory\n\n")
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: Corp\ndc: corp\n\n", baseDN)
	for _, ou := range d.OUs {
		fmt.Fprintf(&b, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, baseDN, ou)
	}
	for _, u := range d.Users {
		class := u.Class
		if class == "" {
			class = "inetOrgPerson"
		}
		fmt.Fprintf(&b, "dn: %s\nobjectClass: %s\nuid: %s\ncn: User %s\nsn: %s\n", u.DN(), class, u.UID, u.UID, u.UID)
		if u.Title != "" {
			fmt.Fprintf(&b, "title: %s\n", u.Title)
		}
		uuid(u.UUID)
		b.WriteString("\n")
	}
	for _, g := range d.Groups {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: %s\n", g.DN(), g.CN)
		for _, m := range g.Members {
			for _, u := range d.Users {
				if u.UID == m {
					fmt.Fprintf(&b, "member: %s\n", u.DN())
				}
			}
		}
		uuid(g.UUID)
		b.WriteString("\n")
	}
	return b.Bytes()
}

// want is the target directory the model must sync to, without hashes.
func (d directory) want() map[string]store.TargetObject {
	out := map[string]store.TargetObject{}
	anchorOf := map[string]string{}
	for _, u := range d.Users {
		if !inScope(u.OU) {
			continue
		}
		a := "uuid:" + u.UUID
		anchorOf[u.UID] = a
		attrs := map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {u.UID}, "cn": {"User " + u.UID}, "sn": {u.UID}}
		if u.Title != "" {
			attrs["title"] = []string{u.Title}
		}
		out[a] = store.TargetObject{Anchor: a, Type: TypeUser, DN: u.DN(), Name: "User " + u.UID, Attributes: attrs}
	}
	for _, g := range d.Groups {
		a := "uuid:" + g.UUID
		attrs := map[string][]string{"objectClass": {"groupOfNames"}, "cn": {g.CN}}
		var members []string
		for _, m := range g.Members {
			if ma, ok := anchorOf[m]; ok {
				members = append(members, ma)
			}
		}
		if len(members) > 0 {
			slices.Sort(members)
			attrs[MembersAttr] = members
		}
		out[a] = store.TargetObject{Anchor: a, Type: TypeGroup, DN: g.DN(), Name: g.CN, Attributes: attrs}
	}
	return out
}

// env is one configuration on a real store, driven through a real Engine.
type env struct {
	t     *testing.T
	st    *store.Store
	clock *fakeClock
	eng   *Engine
	id    int64
	db    string // the database file
	path  string // the LDIF source file, for LDIF configurations
	// ldap and scim are the env's target, when a test keeps it here.
	ldap *slapdtest.Server
	scim *scimtest.Server
}

// newLDIFEnv writes dir to an LDIF file and creates a configuration reading
// it with ldifScope and the given Basics.
func newLDIFEnv(t *testing.T, dir directory, b store.Basics) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "export.ldif")
	e := newEnv(t, &store.Configuration{Name: "corp", Source: "ldif:" + path, BaseDN: baseDN, Scope: ldifScope, Basics: b})
	e.path = path
	e.write(dir)
	return e
}

// newEnv creates the configuration c on a fresh store.
func newEnv(t *testing.T, c *store.Configuration) *env {
	t.Helper()
	db := filepath.Join(t.TempDir(), "syncguard.db")
	clock := &fakeClock{base: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}
	st := openStore(t, db, clock)
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if err := ValidateConfiguration(c); err != nil {
		t.Fatalf("ValidateConfiguration: %v", err)
	}
	if err := st.CreateConfiguration(t.Context(), c, "test"); err != nil {
		t.Fatalf("CreateConfiguration: %v", err)
	}
	eng := &Engine{Store: st, PublicURL: "https://sync.example.com",
		Source: SourceOptions{Timeout: 10 * time.Second, PageSize: 50}}
	return &env{t: t, st: st, clock: clock, eng: eng, id: c.ID, db: db}
}

func (e *env) write(dir directory) { e.writeBytes(dir.LDIF()) }

func (e *env) writeBytes(b []byte) {
	e.t.Helper()
	if err := os.WriteFile(e.path, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// run runs one cycle and fails the test on an engine error.
func (e *env) run(trigger string) *store.Cycle {
	e.t.Helper()
	c, err := e.eng.RunCycle(e.t.Context(), e.id, trigger)
	if err != nil {
		e.t.Fatalf("RunCycle: %v", err)
	}
	return c
}

// runWant runs a cycle and checks its outcome.
func (e *env) runWant(outcome string) *store.Cycle {
	e.t.Helper()
	c := e.run(TriggerManual)
	if c.Outcome != outcome {
		e.t.Fatalf("cycle %d: outcome %s (error %q), want %s", c.ID, c.Outcome, c.Error, outcome)
	}
	return c
}

func (e *env) config() *store.Configuration {
	e.t.Helper()
	c, err := e.st.Configuration(e.t.Context(), e.id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// objects returns the target directory by anchor, hashes left out.
func (e *env) objects() map[string]store.TargetObject {
	e.t.Helper()
	out := map[string]store.TargetObject{}
	if err := e.st.TargetObjects(e.t.Context(), e.id, func(o *store.TargetObject) {
		c := *o
		c.Hash = ""
		out[o.Anchor] = c
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// logs returns the provisioning log entries of one cycle (0: all), oldest first.
func (e *env) logs(cycle int64) []store.LogEntry {
	e.t.Helper()
	l, err := e.st.Logs(e.t.Context(), store.LogQuery{ConfigID: e.id, Cycle: cycle, Limit: 1 << 20})
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Reverse(l)
	return l
}

// staged returns every staged delete of the configuration, of all cycles.
func (e *env) staged() []store.Staged {
	e.t.Helper()
	cycles, err := e.st.Cycles(e.t.Context(), e.id, 1<<20)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []store.Staged
	for _, c := range cycles {
		s, err := e.st.StagedDeletes(e.t.Context(), e.id, c.ID, "", 1<<20)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s...)
	}
	slices.SortFunc(out, func(a, b store.Staged) int { return int(a.ID - b.ID) })
	return out
}

// pending returns the anchors of the pending staged deletes, sorted.
func (e *env) pending() []string {
	var out []string
	for _, s := range e.staged() {
		if s.State == store.StagedPending {
			out = append(out, s.Anchor)
		}
	}
	slices.Sort(out)
	return out
}

func (e *env) notifications() []*store.Notification {
	e.t.Helper()
	n, err := e.st.Notifications(e.t.Context(), 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) statusText() string {
	e.t.Helper()
	return e.status().Text
}

// status returns the configuration's status as people see it.
func (e *env) status() Status {
	e.t.Helper()
	s, err := StatusOf(e.t.Context(), e.st, e.config())
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// snapshot is everything a cycle could change, apart from the cycle list.
type snapshot struct {
	Objects       map[string]store.TargetObject
	Logs          []store.LogEntry
	Staged        []store.Staged
	Notifications int
	Status        string
	StatusError   string
	QuarantineID  int64
	Generation    int64
}

func (e *env) snapshot() snapshot {
	c := e.config()
	return snapshot{Objects: e.objects(), Logs: e.logs(0), Staged: e.staged(), Notifications: len(e.notifications()),
		Status: c.Status, StatusError: c.StatusError, QuarantineID: c.QuarantineID, Generation: c.Generation}
}

// sameExceptStatus reports the first difference between two snapshots other
// than the status and its error text.
func sameExceptStatus(t *testing.T, before, after snapshot) {
	t.Helper()
	before.Status, before.StatusError, after.Status, after.StatusError = "", "", "", ""
	if !reflect.DeepEqual(before.Objects, after.Objects) {
		t.Errorf("target directory changed:\nbefore %d objects, after %d", len(before.Objects), len(after.Objects))
	}
	if !reflect.DeepEqual(before.Logs, after.Logs) {
		t.Errorf("provisioning log changed: %d entries → %d", len(before.Logs), len(after.Logs))
	}
	if !reflect.DeepEqual(before.Staged, after.Staged) {
		t.Errorf("staged deletes changed:\nbefore %+v\nafter  %+v", before.Staged, after.Staged)
	}
	if before.Notifications != after.Notifications {
		t.Errorf("notifications: %d → %d", before.Notifications, after.Notifications)
	}
	if before.QuarantineID != after.QuarantineID || before.Generation != after.Generation {
		t.Errorf("quarantine/generation: %d/%d → %d/%d", before.QuarantineID, before.Generation, after.QuarantineID, after.Generation)
	}
}

// wantTarget checks the target directory is exactly what dir must sync to.
func (e *env) wantTarget(dir directory) {
	e.t.Helper()
	got, want := e.objects(), dir.want()
	for a, w := range want {
		g, ok := got[a]
		if !ok {
			e.t.Errorf("target lacks %s (%s)", a, w.DN)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			e.t.Errorf("target object %s:\n got %+v\nwant %+v", a, g, w)
		}
	}
	for a, g := range got {
		if _, ok := want[a]; !ok {
			e.t.Errorf("target has %s (%s), which is not in the source's scope", a, g.DN)
		}
	}
}

// anchors returns "uuid:"+UUID of the named users of dir, sorted.
func anchors(dir directory, uids ...string) []string {
	var out []string
	for _, u := range uids {
		out = append(out, "uuid:"+dir.user(u).UUID)
	}
	slices.Sort(out)
	return out
}

// entryAnchors returns the anchors of log entries with the given action and status, sorted.
func entryAnchors(entries []store.LogEntry, action, status string) []string {
	var out []string
	for _, l := range entries {
		if l.Action == action && l.Status == status {
			out = append(out, l.Anchor)
		}
	}
	slices.Sort(out)
	return out
}

// countActions counts log entries by "Action/Status".
func countActions(entries []store.LogEntry) map[string]int {
	out := map[string]int{}
	for _, l := range entries {
		out[l.Action+"/"+l.Status]++
	}
	return out
}

// funcSource wraps a real source, replacing Read.
type funcSource struct {
	Source
	read func(ctx context.Context, bases []string, fn func(*Entry) error) error
}

func (s *funcSource) Read(ctx context.Context, bases []string, fn func(*Entry) error) error {
	return s.read(ctx, bases, fn)
}

var defaultBasics = store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: 5}
