package ldap

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target"
)

const (
	sourceBase = "dc=corp,dc=example"
	targetBase = "dc=cloud,dc=example"
)

// newTarget starts an empty slapd under dc=cloud,dc=example and a Writer
// bound to it as its root DN; opts may adjust the Config.
func newTarget(t testing.TB, opts ...func(*Config)) (*slapdtest.Server, *Writer) {
	t.Helper()
	srv := slapdtest.Start(t, slapdtest.Options{Suffix: targetBase})
	return srv, newWriter(t, srv, opts...)
}

func newWriter(t testing.TB, srv *slapdtest.Server, opts ...func(*Config)) *Writer {
	t.Helper()
	cfg := Config{
		URL:          srv.URL,
		BindDN:       srv.RootDN,
		BindPassword: srv.RootPW,
		SourceBaseDN: sourceBase,
		TargetBaseDN: targetBase,
	}
	for _, o := range opts {
		o(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// user is a user object at the source DN with attributes given as
// name, value pairs (a name given twice gets two values).
func user(dn string, kv ...string) *target.Object {
	return object(target.TypeUser, dn, kv...)
}

func group(dn string, members ...target.Member) *target.Object {
	o := object(target.TypeGroup, dn)
	o.Members = members
	return o
}

func object(typ, dn string, kv ...string) *target.Object {
	o := &target.Object{Anchor: "uuid:" + strings.ToLower(dn), Type: typ, DN: dn, Enabled: true, Attributes: map[string][]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Attributes[kv[i]] = append(o.Attributes[kv[i]], kv[i+1])
	}
	return o
}

// put calls w.Put and fails the test on an error.
func put(t testing.TB, w *Writer, obj *target.Object, link target.Link, find target.Find) target.Link {
	t.Helper()
	got, err := w.Put(context.Background(), obj, link, find)
	if err != nil {
		t.Fatalf("Put %s (link %q): %v", obj.DN, link, err)
	}
	return got
}

// get reads the entry at dn with every user attribute and entryUUID
// through a plain connection, or nil when there is none.
func get(t testing.TB, c *ldapv3.Conn, dn string) *ldapv3.Entry {
	t.Helper()
	res, err := c.Search(ldapv3.NewSearchRequest(dn, ldapv3.ScopeBaseObject, ldapv3.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"*", "entryUUID"}, nil))
	if ldapv3.IsErrorWithCode(err, ldapv3.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", dn, err)
	}
	return res.Entries[0]
}

// mustGet is get that fails the test when the entry is missing.
func mustGet(t testing.TB, c *ldapv3.Conn, dn string) *ldapv3.Entry {
	t.Helper()
	e := get(t, c, dn)
	if e == nil {
		t.Fatalf("%s: no such entry in the target", dn)
	}
	return e
}

// search returns the DNs below the target base matching filter, sorted.
func search(t testing.TB, c *ldapv3.Conn, filter string) []string {
	t.Helper()
	res, err := c.SearchWithPaging(ldapv3.NewSearchRequest(targetBase, ldapv3.ScopeWholeSubtree, ldapv3.NeverDerefAliases, 0, 0, false,
		filter, []string{"1.1"}, nil), 500)
	if err != nil {
		t.Fatalf("search %s: %v", filter, err)
	}
	var out []string
	for _, e := range res.Entries {
		out = append(out, e.DN)
	}
	slices.Sort(out)
	return out
}

// values returns an attribute's values, sorted.
func values(e *ldapv3.Entry, attr string) []string {
	v := slices.Clone(e.GetAttributeValues(attr))
	slices.Sort(v)
	return v
}

func wantValues(t testing.TB, e *ldapv3.Entry, attr string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := values(e, attr); !slices.Equal(got, want) {
		t.Errorf("%s: %s = %q, want %q", e.DN, attr, got, want)
	}
}

// wantDNs compares DN values as LDAP does (the server may respell them:
// "CN=Lee\, Bob" comes back as "cn=Lee\2C Bob").
func wantDNs(t testing.TB, e *ldapv3.Entry, attr string, want ...string) {
	t.Helper()
	got := e.GetAttributeValues(attr)
	same := len(got) == len(want)
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || sameDN(g, w)
		}
		same = same && found
	}
	if !same {
		t.Errorf("%s: %s = %q, want %q", e.DN, attr, got, want)
	}
}

func sameDN(a, b string) bool {
	da, err1 := ldapv3.ParseDN(a)
	db, err2 := ldapv3.ParseDN(b)
	return err1 == nil && err2 == nil && da.EqualFold(db)
}

// scriptedServer listens on loopback and runs serve on each connection, for
// what slapd cannot be made to do (never answer; answer as another server
// does). It stops at cleanup, closing the connections.
func scriptedServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serve(c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// answer reads one request from c and answers it with the response op,
// result code and diagnostic message; false when no request came.
func answer(c net.Conn, op uint8, code uint16, diag string) bool {
	req, err := ber.ReadPacket(c)
	if err != nil || len(req.Children) < 1 {
		return false
	}
	resp := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	resp.AppendChild(req.Children[0]) // the message ID
	res := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(op), nil, "Response")
	res.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(code), "resultCode"))
	res.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	res.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, "diagnosticMessage"))
	resp.AppendChild(res)
	_, err = c.Write(resp.Bytes())
	return err == nil
}
