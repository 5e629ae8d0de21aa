package guard

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/store"
)

// lineOf returns the 1-based number of the line of b that equals line.
func lineOf(t *testing.T, b []byte, line string) int {
	t.Helper()
	for i, l := range strings.Split(string(b), "\n") {
		if l == line {
			return i + 1
		}
	}
	t.Fatalf("no line %q", line)
	return 0
}

// ldifBreakages are LDIF sources that cannot be trusted: each returns the
// broken file (nil: no file at all) and the text the cycle error must hold.
var ldifBreakages = []struct {
	name      string
	breakFile func(t *testing.T, good []byte) ([]byte, string)
}{
	{"missing file", func(t *testing.T, good []byte) ([]byte, string) {
		return nil, "no such file or directory"
	}},
	{"bad base64", func(t *testing.T, good []byte) ([]byte, string) {
		n := lineOf(t, good, "title: Archived")
		bad := bytes.Replace(good, []byte("title: Archived\n"), []byte("title:: !!not base64!!\n"), 1)
		return bad, fmt.Sprintf("ldif: line %d: invalid base64 value for attribute \"title\"", n)
	}},
	{"empty file", func(t *testing.T, good []byte) ([]byte, string) {
		return []byte("# slapcat died here\n\n"), "no entries: an empty or unfinished export?"
	}},
	{"truncated mid-line", func(t *testing.T, good []byte) ([]byte, string) {
		n := lineOf(t, good, "cn: User e2")
		i := bytes.Index(good, []byte("cn: User e2\n"))
		return good[:i+len("cn: Us")], fmt.Sprintf("ldif: line %d: file ends in the middle of a line; truncated?", n)
	}},
}

// TestLDIFSourceFailures: a missing, malformed or truncated LDIF file ends
// the cycle as Failed with a clear message and changes nothing; while
// quarantined the status stays quarantined.
func TestLDIFSourceFailures(t *testing.T) {
	t.Parallel()
	for _, tt := range ldifBreakages {
		for _, whileQuarantined := range []bool{false, true} {
			name := tt.name
			if whileQuarantined {
				name += " while quarantined"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var e *env
				var src directory
				if whileQuarantined {
					e, _, src, _ = quarantined(t)
				} else {
					src = newDirectory(5)
					e = newLDIFEnv(t, src, defaultBasics)
					e.runWant(store.OutcomeSucceeded)
				}
				before := e.snapshot()
				bad, wantErr := tt.breakFile(t, src.LDIF())
				if bad == nil {
					if err := os.Remove(e.path); err != nil {
						t.Fatal(err)
					}
				} else {
					e.writeBytes(bad)
				}
				c := e.runWant(store.OutcomeFailed)
				if !strings.Contains(c.Error, wantErr) {
					t.Errorf("cycle error %q does not contain %q", c.Error, wantErr)
				}
				if c.Creates+c.Updates+c.Deletes+c.StagedDeletes+c.Discarded != 0 {
					t.Errorf("failed cycle = %+v, want no counts", c)
				}
				after := e.snapshot()
				sameExceptStatus(t, before, after)
				if whileQuarantined {
					if after.Status != store.StatusQuarantined || e.statusText() != "Delete threshold exceeded" {
						t.Errorf("status %q after a failure while quarantined, want quarantined", after.Status)
					}
				} else if after.Status != store.StatusError || after.StatusError != c.Error {
					t.Errorf("status %q (%q), want error with the cycle's message", after.Status, after.StatusError)
				}
				// Stored and read back, the cycle says the same.
				last, err := e.st.LastCycle(t.Context(), e.id)
				if err != nil || last.Outcome != store.OutcomeFailed || last.Error != c.Error {
					t.Errorf("last cycle = %+v, %v", last, err)
				}
			})
		}
	}
}

// ldapDirectory is the model loaded into slapd: slapd makes the entryUUIDs.
func ldapDirectory(perOU int) directory {
	d := newDirectory(perOU)
	d.NoUUIDs = true
	return d
}

// newLDAPEnv creates a configuration reading srv as its root DN.
func newLDAPEnv(t *testing.T, srv *slapdtest.Server, b store.Basics, scope ...string) *env {
	t.Helper()
	return newEnv(t, &store.Configuration{Name: "corp-ldap", Source: srv.URL, BaseDN: srv.Suffix,
		BindDN: srv.RootDN, BindPassword: srv.RootPW, Scope: scope, Basics: b})
}

// entryUUIDs reads the entryUUID of every user and group of srv by DN.
func entryUUIDs(t *testing.T, srv *slapdtest.Server) map[string]string {
	t.Helper()
	res, err := srv.Conn(t).Search(goldap.NewSearchRequest(srv.Suffix, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, 0, false, "(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))", []string{"entryUUID"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range res.Entries {
		out[e.DN] = e.GetAttributeValue("entryUUID")
	}
	return out
}

// TestLDAPSourceFailures: a bind refused, a server down, a page failing
// part-way and a size limit each end the cycle as Failed and change nothing.
func TestLDAPSourceFailures(t *testing.T) {
	t.Parallel()
	const password = "s3cret-Passw0rd-xyz"
	tests := []struct {
		name    string
		opts    slapdtest.Options
		perOU   int
		breakIt func(t *testing.T, e *env, srv *slapdtest.Server)
		wantErr []string
	}{
		{"bind refused", slapdtest.Options{}, 5, func(t *testing.T, e *env, srv *slapdtest.Server) {
			cfg := e.config()
			cfg.BindPassword = password
			if err := e.st.UpdateConfiguration(t.Context(), cfg, "alice"); err != nil {
				t.Fatal(err)
			}
		}, []string{"bind as cn=admin,dc=corp,dc=example", "invalid credentials"}},
		{"server down", slapdtest.Options{}, 5, func(t *testing.T, e *env, srv *slapdtest.Server) {
			srv.Stop()
		}, []string{"connect " + "ldap://127.0.0.1", "connection refused"}},
		{"killed part-way", slapdtest.Options{}, 60, func(t *testing.T, e *env, srv *slapdtest.Server) {
			// The server dies after 70 entries, in the middle of page 2 (pages of 50).
			e.eng.Open = func(c *store.Configuration, o SourceOptions) (Source, error) {
				src, err := OpenSource(c, o)
				if err != nil {
					return nil, err
				}
				return &funcSource{Source: src, read: func(ctx context.Context, bases []string, fn func(*Entry) error) error {
					n := 0
					return src.Read(ctx, bases, func(en *Entry) error {
						if n++; n == 70 {
							srv.Kill()
						}
						return fn(en)
					})
				}}, nil
			}
		}, []string{"connection to the server lost"}},
		{"size limit", slapdtest.Options{PagedTotalLimit: 40}, 30, func(t *testing.T, e *env, srv *slapdtest.Server) {
			// The root DN has no limits: read anonymously, as a service
			// account with a server-side limit would.
			cfg := e.config()
			cfg.BindDN, cfg.BindPassword = "", ""
			if err := e.st.UpdateConfiguration(t.Context(), cfg, "alice"); err != nil {
				t.Fatal(err)
			}
		}, []string{"size limit exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.LDIF = ldapDirectory(tt.perOU).LDIF()
			srv := slapdtest.Start(t, tt.opts)
			e := newLDAPEnv(t, srv, defaultBasics)
			first := e.runWant(store.OutcomeSucceeded)
			// The scope is the base DN: Sales, Engineering, Archive (2) and 2 groups.
			if want := 2*tt.perOU + 4; first.Creates != want {
				t.Fatalf("first cycle created %d, want %d", first.Creates, want)
			}
			before := e.snapshot()
			tt.breakIt(t, e, srv)
			c := e.runWant(store.OutcomeFailed)
			for _, w := range tt.wantErr {
				if !strings.Contains(c.Error, w) {
					t.Errorf("cycle error %q does not contain %q", c.Error, w)
				}
			}
			if strings.Contains(c.Error, password) || strings.Contains(e.config().StatusError, password) {
				t.Errorf("the bind password appears in the error %q", c.Error)
			}
			after := e.snapshot()
			sameExceptStatus(t, before, after)
			if after.Status != store.StatusError || after.StatusError != c.Error {
				t.Errorf("status %q (%q), want error with the cycle's message", after.Status, after.StatusError)
			}
			t.Logf("cycle error: %s", c.Error)
		})
	}
}

// TestEmptyLDAPOUIsTrusted: an OU that reads successfully but is now empty
// is not an error — it is what the guard is for: it quarantines.
func TestEmptyLDAPOUIsTrusted(t *testing.T) {
	t.Parallel()
	dir := ldapDirectory(6)
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: dir.LDIF()})
	e := newLDAPEnv(t, srv, defaultBasics, "ou=Sales,"+baseDN)
	if c := e.runWant(store.OutcomeSucceeded); c.Creates != 6 {
		t.Fatalf("first cycle created %d, want the 6 Sales users", c.Creates)
	}
	before := e.snapshot()
	conn := srv.Conn(t)
	for _, u := range dir.Users {
		if u.OU == "Sales" {
			if err := conn.Del(goldap.NewDelRequest(u.DN(), nil)); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := e.runWant(store.OutcomeQuarantined)
	if c.StagedDeletes != 6 || c.Read != 0 {
		t.Errorf("cycle = %+v, want 0 read and 6 staged deletes", c)
	}
	if got := len(e.pending()); got != 6 {
		t.Errorf("%d pending staged deletes, want 6", got)
	}
	if got := e.objects(); len(got) != len(before.Objects) {
		t.Errorf("target has %d objects, want %d", len(got), len(before.Objects))
	}
}

// TestLDAPSync: against a real slapd, only the in-scope OU is synced,
// anchors are "uuid:" + entryUUID, and a modrdn move between two in-scope
// OUs is one Update.
func TestLDAPSync(t *testing.T) {
	t.Parallel()
	dir := ldapDirectory(4)
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: dir.LDIF()})
	uuids := entryUUIDs(t, srv)
	e := newLDAPEnv(t, srv, store.Basics{Prevent: true, Threshold: 1}, "ou=Sales,"+baseDN)

	c := e.runWant(store.OutcomeSucceeded)
	if c.Creates != 4 {
		t.Errorf("created %d, want the 4 Sales users", c.Creates)
	}
	objs := e.objects()
	for _, u := range dir.Users {
		a := "uuid:" + uuids[u.DN()]
		if uuids[u.DN()] == "" {
			t.Fatalf("no entryUUID for %s", u.DN())
		}
		o, ok := objs[a]
		if ok != (u.OU == "Sales") {
			t.Errorf("%s synced = %v", u.DN(), ok)
			continue
		}
		if ok && (o.DN != u.DN() || o.Type != TypeUser || o.Attributes["title"][0] != u.Title || o.Attributes["uid"][0] != u.UID) {
			t.Errorf("target object %+v does not match %+v", o, u)
		}
	}
	if len(objs) != 4 {
		t.Errorf("target has %d objects, want 4", len(objs))
	}

	// Widen the scope to Engineering, then move s0 there with a modrdn.
	cfg := e.config()
	cfg.Scope = append(cfg.Scope, "ou=Engineering,"+baseDN)
	if err := e.st.UpdateConfiguration(t.Context(), cfg, "alice"); err != nil {
		t.Fatal(err)
	}
	if c := e.runWant(store.OutcomeSucceeded); c.Creates != 4 || c.Deletes != 0 {
		t.Errorf("cycle after widening the scope = %+v, want 4 creates", c)
	}
	s0 := dir.user("s0")
	req := goldap.NewModifyDNRequest(s0.DN(), "uid=s0", true, "ou=Engineering,"+baseDN)
	if err := srv.Conn(t).ModifyDN(req); err != nil {
		t.Fatal(err)
	}
	c = e.runWant(store.OutcomeSucceeded)
	if c.Updates != 1 || c.Creates != 0 || c.Deletes != 0 || c.StagedDeletes != 0 {
		t.Errorf("cycle after the move = %+v, want one update", c)
	}
	logs := e.logs(c.ID)
	anchor := "uuid:" + uuids[s0.DN()]
	newDN := "uid=s0,ou=Engineering," + baseDN
	if len(logs) != 1 || logs[0].Action != store.ActionUpdate || logs[0].Anchor != anchor || !strings.Contains(logs[0].Details, "moved") {
		t.Errorf("log entries %+v, want one Update of %s mentioning the move", logs, anchor)
	}
	if o := e.objects()[anchor]; o.DN != newDN {
		t.Errorf("s0 is at %q in the target, want %q", o.DN, newDN)
	}
}

// TestLDAPServerDyingIsNeverADeletion is the failure mode that wiped user
// bases in other tools: whenever the server dies during the read, with
// prevention off, nothing is deleted. Killed before the last page was
// received, the cycle must fail; killed while the last page is already in
// the client's buffer, the read was complete and may succeed.
func TestLDAPServerDyingIsNeverADeletion(t *testing.T) {
	t.Parallel()
	// 124 entries: pages of 50, 50 and 24.
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: ldapDirectory(60).LDIF()})
	e := newLDAPEnv(t, srv, store.Basics{Prevent: false, Threshold: 1})
	e.runWant(store.OutcomeSucceeded)
	before := e.snapshot()
	var killAt atomic.Int64
	e.eng.Open = func(c *store.Configuration, o SourceOptions) (Source, error) {
		src, err := OpenSource(c, o)
		if err != nil {
			return nil, err
		}
		return &funcSource{Source: src, read: func(ctx context.Context, bases []string, fn func(*Entry) error) error {
			n := int64(0)
			return src.Read(ctx, bases, func(en *Entry) error {
				if n++; n == killAt.Load() {
					srv.Kill()
				}
				return fn(en)
			})
		}}, nil
	}
	for _, k := range []int64{1, 49, 50, 51, 99, 100, 101, 120} {
		killAt.Store(k)
		c := e.run(TriggerManual)
		if k <= 100 && c.Outcome != store.OutcomeFailed {
			t.Errorf("killed after %d entries, before the last page: outcome %s, want Failed", k, c.Outcome)
		}
		if c.Outcome != store.OutcomeFailed && c.Outcome != store.OutcomeSucceeded {
			t.Errorf("killed after %d entries: outcome %s", k, c.Outcome)
		}
		if got := e.objects(); !reflect.DeepEqual(got, before.Objects) {
			t.Errorf("killed after %d entries: the target changed (%d → %d objects)", k, len(before.Objects), len(got))
		}
		t.Logf("killed after %d entries: %s %s", k, c.Outcome, c.Error)
		srv.Restart(t)
	}
}
