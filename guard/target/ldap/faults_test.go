package ldap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target"
)

// targetError returns err as a *target.Error, failing the test otherwise.
func targetError(t *testing.T, err error) *target.Error {
	t.Helper()
	var te *target.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T), want a *target.Error", err, err)
	}
	return te
}

func TestServerStoppedIsTransient(t *testing.T) {
	srv, w := newTarget(t)
	ctx := context.Background()
	put(t, w, user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann"), "", target.CreateFirst)
	srv.Stop()

	// The idle connection may be found dead only when used: either way
	// the call says the server is unreachable, and the next one dials.
	refused := false
	for i := range 2 {
		_, err := w.Put(ctx, user(fmt.Sprintf("uid=u%d,ou=Sales,%s", i, sourceBase), "uid", fmt.Sprint("u", i)), "", target.CreateFirst)
		te := targetError(t, err)
		if !te.Transient {
			t.Errorf("Put with slapd stopped: permanent %q, want transient", te.Message)
		}
		refused = refused || te.Message == "LDAP connect "+srv.URL+": connection refused"
	}
	if !refused {
		t.Error(`no call said "connection refused"`)
	}
	_, err := w.Test(ctx)
	if te := targetError(t, err); !te.Transient || te.Message != "LDAP connect "+srv.URL+": connection refused" {
		t.Errorf("Test with slapd stopped = %#v", te)
	}

	srv.Restart(t)
	put(t, w, user("uid=bob,ou=Sales,"+sourceBase, "uid", "bob"), "", target.CreateFirst)
}

func TestKilledMidBatchThenRestarted(t *testing.T) {
	srv, w := newTarget(t, func(c *Config) { c.Concurrency = 8 })
	ctx := context.Background()
	const n, killAt = 400, 100
	objs := make([]*target.Object, n)
	for i := range objs {
		objs[i] = user(fmt.Sprintf("uid=u%03d,ou=OU%d,%s", i, i%4, sourceBase), "uid", fmt.Sprintf("u%03d", i), "cn", fmt.Sprint("User ", i))
	}
	var (
		done   atomic.Int32
		mu     sync.Mutex
		failed []*target.Object
		next   = make(chan *target.Object)
		wg     sync.WaitGroup
	)
	for range w.Concurrency() {
		wg.Go(func() {
			for obj := range next {
				_, err := w.Put(ctx, obj, "", target.CreateFirst)
				if err != nil {
					if te := targetError(t, err); !te.Transient {
						t.Errorf("Put %s while slapd was killed: permanent %q, want transient", obj.DN, te.Message)
					}
					mu.Lock()
					failed = append(failed, obj)
					mu.Unlock()
					continue
				}
				if done.Add(1) == killAt {
					srv.Kill() // the other workers' calls are in flight
				}
			}
		})
	}
	for _, o := range objs {
		next <- o
	}
	close(next)
	wg.Wait()
	if len(failed) == 0 {
		t.Fatal("no call failed: slapd was not killed mid-batch")
	}
	t.Logf("%d of %d calls failed while slapd was down", len(failed), n)

	srv.Restart(t)
	// The exporter retries what failed, looking first: a create that
	// reached the server before the kill is not made twice.
	for _, obj := range failed {
		put(t, w, obj, "", target.LookFirst)
	}
	c := srv.Conn(t)
	got := search(t, c, "(objectClass=inetOrgPerson)")
	if len(got) != n {
		t.Fatalf("%d users in the target, want %d", len(got), n)
	}
	for _, o := range objs {
		mustGet(t, c, strings.Replace(o.DN, sourceBase, targetBase, 1))
	}
}

func TestSchemaViolationsArePermanentInTheServersWords(t *testing.T) {
	_, w := newTarget(t)
	ctx := context.Background()
	for _, tc := range []struct {
		obj  *target.Object
		want string
	}{
		// dc is not an attribute of inetOrgPerson.
		{user("dc=ann,ou=Sales,"+sourceBase, "uid", "ann"), "LDAP 65 object class violation: attribute 'dc' not allowed"},
		{user("uid=bob,ou=Sales,"+sourceBase, "uid", "bob", "mail", "bob@exämple.com"), "LDAP 21 invalid attribute syntax: mail: value #0 invalid per syntax"},
	} {
		_, err := w.Put(ctx, tc.obj, "", target.CreateFirst)
		if te := targetError(t, err); te.Transient || te.Message != tc.want {
			t.Errorf("Put %s: error %q (transient %v), want permanent %q", tc.obj.DN, te.Message, te.Transient, tc.want)
		}
	}
}

func TestWrongPasswordIsPermanent(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Suffix: targetBase})
	const pw = "not-the-password"
	w := newWriter(t, srv, func(c *Config) { c.BindPassword = pw })
	want := "LDAP 49 invalid credentials (bind as cn=admin,dc=cloud,dc=example)"
	_, err := w.Put(context.Background(), user("uid=ann,"+sourceBase, "uid", "ann"), "", target.CreateFirst)
	if te := targetError(t, err); te.Transient || te.Message != want {
		t.Errorf("Put: error %q (transient %v), want permanent %q", te.Message, te.Transient, want)
	}
	_, err = w.Test(context.Background())
	if te := targetError(t, err); te.Transient || te.Message != want || strings.Contains(te.Message, pw) {
		t.Errorf("Test: error %q (transient %v), want permanent %q", te.Message, te.Transient, want)
	}
}

func TestTargetBaseMissing(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Suffix: targetBase})
	w := newWriter(t, srv, func(c *Config) { c.TargetBaseDN = "ou=missing," + targetBase })
	_, err := w.Test(context.Background())
	want := "LDAP 32 no such object: the target base DN ou=missing,dc=cloud,dc=example does not exist"
	if te := targetError(t, err); te.Transient || te.Message != want {
		t.Errorf("Test: error %q (transient %v), want permanent %q", te.Message, te.Transient, want)
	}
	_, err = w.Put(context.Background(), user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann"), "", target.CreateFirst)
	if te := targetError(t, err); te.Transient || !strings.HasPrefix(te.Message, "LDAP 32 no such object") {
		t.Errorf("Put: error %q (transient %v), want permanent noSuchObject", te.Message, te.Transient)
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	addr := scriptedServer(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // reads, never answers
	w, err := New(Config{URL: "ldap://" + addr, BindDN: "cn=admin," + targetBase, BindPassword: "secret",
		SourceBaseDN: sourceBase, TargetBaseDN: targetBase, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = w.Put(context.Background(), user("uid=ann,"+sourceBase, "uid", "ann"), "", target.CreateFirst)
	if te := targetError(t, err); !te.Transient || te.Message != "LDAP timed out after 200ms waiting for the server" {
		t.Errorf("Put: error %q (transient %v), want a transient timeout", te.Message, te.Transient)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = w.Put(ctx, user("uid=ann,"+sourceBase, "uid", "ann"), "", target.CreateFirst)
	if te := targetError(t, err); !te.Transient || te.Message != "LDAP: context canceled" {
		t.Errorf("Put with a cancelled context: error %q (transient %v)", te.Message, te.Transient)
	}
}

// Connections left idle across a restart are dead: the next calls find
// that out and reconnect instead of failing.
func TestIdleConnectionsAfterARestart(t *testing.T) {
	srv, w := newTarget(t, func(c *Config) { c.Concurrency = 4 })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			put(t, w, user(fmt.Sprintf("uid=a%d,ou=Sales,%s", i, sourceBase), "uid", fmt.Sprint("a", i)), "", target.CreateFirst)
		})
	}
	wg.Wait()
	srv.Restart(t)
	for i := range 8 {
		put(t, w, user(fmt.Sprintf("uid=b%d,ou=Sales,%s", i, sourceBase), "uid", fmt.Sprint("b", i)), "", target.CreateFirst)
	}
}

// A server that dies in the middle of a request (here: after the bind,
// without answering the add) leaves the call with a transient error.
func TestServerDyingMidRequestIsTransient(t *testing.T) {
	addr := scriptedServer(t, func(c net.Conn) {
		if answer(c, ldapv3.ApplicationBindResponse, ldapv3.LDAPResultSuccess, "") {
			ber.ReadPacket(c)
		}
		c.Close()
	})
	w, err := New(Config{URL: "ldap://" + addr, BindDN: "cn=admin," + targetBase, BindPassword: "secret",
		SourceBaseDN: sourceBase, TargetBaseDN: targetBase})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = w.Put(context.Background(), user("uid=ann,"+sourceBase, "uid", "ann"), "", target.CreateFirst)
	if te := targetError(t, err); !te.Transient || te.Message != "LDAP connection lost: the server closed the connection" {
		t.Errorf("Put: error %q (transient %v), want a transient lost connection", te.Message, te.Transient)
	}
}

// A server's diagnostic is quoted, but never a password it echoes.
func TestPasswordEchoedByTheServerIsNotQuoted(t *testing.T) {
	const pw = "s3cret-Passw0rd"
	addr := scriptedServer(t, func(c net.Conn) {
		answer(c, ldapv3.ApplicationBindResponse, ldapv3.LDAPResultInvalidCredentials, "bad password "+pw+" for cn=admin")
	})
	w, err := New(Config{URL: "ldap://" + addr, BindDN: "cn=admin," + targetBase, BindPassword: pw,
		SourceBaseDN: sourceBase, TargetBaseDN: targetBase})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = w.Put(context.Background(), user("uid=ann,"+sourceBase, "uid", "ann"), "", target.CreateFirst)
	want := "LDAP 49 invalid credentials: bad password [password] for cn=admin (bind as cn=admin,dc=cloud,dc=example)"
	if te := targetError(t, err); te.Transient || te.Message != want {
		t.Errorf("Put: error %q (transient %v), want %q", te.Message, te.Transient, want)
	}
}
