package ldap

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
)

// photo is a binary value (not UTF-8, with NULs) to check values come back byte for byte.
var photo = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(255 - i)
	}
	return b
}()

// usersLDIF is the suffix, two OUs and n inetOrgPerson users split between
// them, each with a password "pw-<uid>"; user u0000 also has a jpegPhoto.
func usersLDIF(n int) []byte {
	var b bytes.Buffer
	b.WriteString("dn: dc=corp,dc=example\nobjectClass: dcObject\nobjectClass: organization\no: corp\ndc: corp\n\n")
	for _, ou := range []string{"Staff", "Contractors"} {
		fmt.Fprintf(&b, "dn: ou=%s,dc=corp,dc=example\nobjectClass: organizationalUnit\nou: %s\n\n", ou, ou)
	}
	for i := range n {
		ou := "Staff"
		if i%2 == 1 {
			ou = "Contractors"
		}
		uid := fmt.Sprintf("u%04d", i)
		fmt.Fprintf(&b, "dn: uid=%s,ou=%s,dc=corp,dc=example\nobjectClass: inetOrgPerson\nuid: %s\ncn: User %d\nsn: %d\nmail: %s@corp.example\nuserPassword: pw-%s\n",
			uid, ou, uid, i, i, uid, uid)
		if i == 0 {
			fmt.Fprintf(&b, "jpegPhoto:: %s\n", base64.StdEncoding.EncodeToString(photo))
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

const users = "(objectClass=inetOrgPerson)"

func cfgFor(s *slapdtest.Server) Config {
	return Config{URL: s.URL, BaseDN: s.Suffix, Timeout: 10 * time.Second, PageSize: 200}
}

func TestSearchStreamsAllPages(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: usersLDIF(1200)})

	// Which page each entry arrived in: proves fn runs while the search goes on.
	var pages []int // entries seen when page i was requested
	testHookPage = func(page, entries int) { pages = append(pages, entries) }
	t.Cleanup(func() { testHookPage = nil })

	seen := map[string]int{}
	uuids := map[string]bool{}
	var gotPhoto []byte
	cfg := cfgFor(s) // anonymous: the root DN would not be subject to the size limit
	err := Search(t.Context(), cfg, users, []string{"uid", "cn", "mail", "jpegPhoto", "entryUUID"}, func(e *Entry) error {
		dn := e.DN
		seen[dn]++
		for _, a := range e.Attrs {
			switch a.Name {
			case "entryUUID":
				if len(a.Values) != 1 || len(a.Values[0]) != 36 {
					t.Errorf("%s: entryUUID = %q", dn, a.Values)
				}
				uuids[a.Values[0]] = true
			case "jpegPhoto":
				gotPhoto = []byte(a.Values[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if got, want := len(seen), 1200; got != want {
		t.Errorf("distinct entries = %d, want %d", got, want)
	}
	for dn, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", dn, n)
		}
	}
	if got, want := len(uuids), 1200; got != want {
		t.Errorf("distinct entryUUIDs = %d, want %d", got, want)
	}
	if !bytes.Equal(gotPhoto, photo) {
		t.Errorf("jpegPhoto = %x, want %x", gotPhoto, photo)
	}
	if got, want := fmt.Sprint(pages), "[0 200 400 600 800 1000]"; got != want {
		t.Errorf("entries handed to fn before each page request = %s, want %s", got, want)
	}
}

func TestSearchErrors(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: usersLDIF(1200), SizeLimit: 500})

	t.Run("bind refused", func(t *testing.T) {
		cfg := cfgFor(s)
		cfg.BindDN, cfg.BindPassword = s.RootDN, "wrong-password-xyz"
		err := Search(t.Context(), cfg, users, nil, noop)
		wantErr(t, err, "ldap: bind as cn=admin,dc=corp,dc=example: invalid credentials")
		if strings.Contains(err.Error(), "wrong-password-xyz") {
			t.Errorf("error shows the password: %v", err)
		}
		if got := code(err); got != ldapv3.LDAPResultInvalidCredentials {
			t.Errorf("code = %d, want 49", got)
		}
	})
	t.Run("user bind", func(t *testing.T) {
		cfg := cfgFor(s)
		cfg.BindDN, cfg.BindPassword = "uid=u0003,ou=Contractors,dc=corp,dc=example", "pw-u0003"
		n, err := count(t.Context(), cfg, users)
		if err != nil || n != 1200 {
			t.Errorf("Search = %d entries, %v; want 1200, nil", n, err)
		}
	})
	t.Run("no such base", func(t *testing.T) {
		cfg := cfgFor(s)
		cfg.BaseDN = "ou=Gone,dc=corp,dc=example"
		err := Search(t.Context(), cfg, users, nil, noop)
		wantErr(t, err, "ldap: search ou=Gone,dc=corp,dc=example (page 1, after 0 entries): no such object (closest existing entry: dc=corp,dc=example)")
	})
	t.Run("bad filter", func(t *testing.T) {
		err := Search(t.Context(), cfgFor(s), "(objectClass=", nil, noop)
		wantErr(t, err, `ldap: invalid search filter "(objectClass="`)
	})
	t.Run("fn error", func(t *testing.T) {
		stop := errors.New("stop here")
		n := 0
		err := Search(t.Context(), cfgFor(s), users, nil, func(*Entry) error {
			if n++; n == 300 {
				return stop
			}
			return nil
		})
		if err != stop {
			t.Errorf("Search = %v, want fn's error unchanged", err)
		}
	})
	t.Run("page larger than the size limit", func(t *testing.T) {
		// slapd refuses a page larger than its limit for this client
		// rather than silently truncating it: the error must come through.
		cfg := cfgFor(s)
		cfg.PageSize = 800
		n, err := count(t.Context(), cfg, users)
		if err == nil {
			// OpenLDAP 2.5 with size.prtotal=unlimited serves such pages whole.
			if n != 1200 {
				t.Fatalf("Search = %d entries and no error, want 1200 or an error", n)
			}
			t.Logf("page 800 > size limit 500: served whole, %d entries", n)
			return
		}
		t.Logf("page 800 > limit 500: %v (after %d entries)", err, n)
		wantErr(t, err, "ldap: search dc=corp,dc=example (page ")
		if code(err) == 0 {
			t.Errorf("no LDAP result code in %#v", err)
		}
	})
	t.Run("referral", func(t *testing.T) {
		c := s.Conn(t)
		add := ldapv3.NewAddRequest("ou=Remote,dc=corp,dc=example", nil)
		add.Attribute("objectClass", []string{"referral", "extensibleObject"})
		add.Attribute("ou", []string{"Remote"})
		add.Attribute("ref", []string{"ldap://other.example/ou=Remote,dc=corp,dc=example"})
		if err := c.Add(add); err != nil {
			t.Fatal(err)
		}
		// A continuation reference inside the subtree is ignored...
		if n, err := count(t.Context(), cfgFor(s), users); err != nil || n != 1200 {
			t.Errorf("Search with a referral object below the base = %d, %v; want 1200, nil", n, err)
		}
		// ...but a base that is itself a referral is an error.
		cfg := cfgFor(s)
		cfg.BaseDN = "ou=Remote,dc=corp,dc=example"
		err := Search(t.Context(), cfg, users, nil, noop)
		wantErr(t, err, "referral returned by the server (not followed): ldap://other.example/ou=Remote,dc=corp,dc=example")
		if got := code(err); got != ldapv3.LDAPResultReferral {
			t.Errorf("code = %d, want 10", got)
		}
	})
}

func TestSearchPagedTotalLimit(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: usersLDIF(1200), PagedTotalLimit: 700})
	n, err := count(t.Context(), cfgFor(s), users)
	wantErr(t, err, "size limit exceeded")
	if got := code(err); got != ldapv3.LDAPResultSizeLimitExceeded {
		t.Errorf("code = %d, want 4", got)
	}
	if !ldapv3.IsErrorWithCode(err, ldapv3.LDAPResultSizeLimitExceeded) {
		t.Errorf("go-ldap error not reachable with errors.As: %#v", err)
	}
	if n >= 1200 {
		t.Errorf("saw %d entries", n)
	}
	t.Logf("%v (fn saw %d entries)", err, n)
}

func TestSearchServerDownAndBack(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: usersLDIF(10)})
	s.Stop()
	err := Search(t.Context(), cfgFor(s), users, nil, noop)
	wantErr(t, err, "ldap: connect "+s.URL+": connection refused")
	if e := (*Error)(nil); !errors.As(err, &e) || e.Op != "connect" {
		t.Errorf("Search = %#v, want an *Error with Op connect", err)
	}
	s.Restart(t)
	if n, err := count(t.Context(), cfgFor(s), users); err != nil || n != 10 {
		t.Errorf("after restart: Search = %d, %v; want 10, nil", n, err)
	}
}

func TestSearchServerKilledMidway(t *testing.T) {
	// Killed as the last entry of page 1 is handled (the page itself ended
	// well: the loss shows between pages), and in the middle of page 2.
	for _, killAt := range []int{200, 201, 250} {
		t.Run(fmt.Sprint(killAt), func(t *testing.T) {
			s := slapdtest.Start(t, slapdtest.Options{LDIF: usersLDIF(1200)})
			n := 0
			err := Search(t.Context(), cfgFor(s), users, nil, func(*Entry) error {
				if n++; n == killAt {
					s.Kill()
				}
				return nil
			})
			if err == nil {
				t.Fatalf("Search after the server died = nil error with %d entries", n)
			}
			if n >= 1200 {
				t.Errorf("fn saw %d entries", n)
			}
			if !errors.Is(err, ErrConnectionLost) {
				t.Errorf("errors.Is(%v, ErrConnectionLost) = false", err)
			}
			t.Logf("%v (fn saw %d)", err, n)
		})
	}
}

func TestSearchTLS(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: usersLDIF(5), TLS: true})
	roots := &tls.Config{RootCAs: s.CAPool}

	t.Run("ldaps", func(t *testing.T) {
		cfg := cfgFor(s)
		cfg.URL, cfg.TLSConfig = s.LDAPSURL, roots
		cfg.BindDN, cfg.BindPassword = s.RootDN, s.RootPW
		if n, err := count(t.Context(), cfg, users); err != nil || n != 5 {
			t.Errorf("Search = %d, %v; want 5, nil", n, err)
		}
	})
	t.Run("starttls", func(t *testing.T) {
		cfg := cfgFor(s)
		cfg.StartTLS, cfg.TLSConfig = true, roots
		cfg.BindDN, cfg.BindPassword = s.RootDN, s.RootPW
		if n, err := count(t.Context(), cfg, users); err != nil || n != 5 {
			t.Errorf("Search = %d, %v; want 5, nil", n, err)
		}
	})
	t.Run("ldaps unknown CA", func(t *testing.T) {
		cfg := cfgFor(s)
		cfg.URL = s.LDAPSURL
		err := Search(t.Context(), cfg, users, nil, noop)
		wantErr(t, err, "ldap: connect "+s.LDAPSURL+": TLS handshake: tls: failed to verify certificate")
		if e := (*tls.CertificateVerificationError)(nil); !errors.As(err, &e) {
			t.Errorf("no *tls.CertificateVerificationError in %#v", err)
		}
	})
	t.Run("starttls unknown CA", func(t *testing.T) {
		cfg := cfgFor(s)
		cfg.StartTLS = true
		err := Search(t.Context(), cfg, users, nil, noop)
		wantErr(t, err, "ldap: starttls with "+s.URL+": ")
		wantErr(t, err, "certificate")
	})
	t.Run("starttls on ldaps", func(t *testing.T) {
		cfg := cfgFor(s)
		cfg.URL, cfg.StartTLS = s.LDAPSURL, true
		wantErr(t, Search(t.Context(), cfg, users, nil, noop), "StartTLS needs an ldap:// URL")
	})
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "ldap://" + l.Addr().String()
}

func TestSearchSilentServer(t *testing.T) {
	url := silentServer(t)
	cfg := Config{URL: url, BaseDN: "dc=corp,dc=example", Timeout: 300 * time.Millisecond}

	t.Run("search times out", func(t *testing.T) {
		start := time.Now()
		err := Search(t.Context(), cfg, users, nil, noop)
		elapsed := time.Since(start)
		wantErr(t, err, "ldap: search dc=corp,dc=example (page 1, after 0 entries): timed out after 300ms waiting for the server")
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("errors.Is(%v, ErrTimeout) = false", err)
		}
		if elapsed < 300*time.Millisecond || elapsed > 2*time.Second {
			t.Errorf("Search returned after %v, want about 300ms", elapsed)
		}
	})
	t.Run("bind times out", func(t *testing.T) {
		cfg := cfg
		cfg.BindDN, cfg.BindPassword = "cn=admin,dc=corp,dc=example", "secret"
		err := Search(t.Context(), cfg, users, nil, noop)
		wantErr(t, err, "ldap: bind as cn=admin,dc=corp,dc=example: timed out after 300ms")
	})
	t.Run("ctx cancelled", func(t *testing.T) {
		cfg := cfg
		cfg.Timeout = time.Minute
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := Search(ctx, cfg, users, nil, noop)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Search = %v, want context.DeadlineExceeded", err)
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("Search returned after %v", elapsed)
		}
	})
}

func TestSearchConfigErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://x", `ldap: invalid server URL "http://x"`},
		{"ldap://", `ldap: invalid server URL "ldap://"`},
	} {
		wantErr(t, Search(t.Context(), Config{URL: tc.url}, users, nil, noop), tc.want)
	}
}

func noop(*Entry) error { return nil }

func count(ctx context.Context, cfg Config, filter string) (int, error) {
	n := 0
	err := Search(ctx, cfg, filter, []string{"uid"}, func(*Entry) error {
		n++
		return nil
	})
	return n, err
}

func code(err error) uint16 {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain %q", err, want)
	}
}

// BenchmarkSearch reads 20,000 users in pages of 500 from a private slapd;
// allocs/op and B/op are per whole search (20,000 entries): the decoder packs
// each entry's DN and values into a few strings and reuses its slices.
func BenchmarkSearch(b *testing.B) {
	s := slapdtest.Start(b, slapdtest.Options{LDIF: usersLDIF(20000)})
	cfg := Config{URL: s.URL, BaseDN: s.Suffix, BindDN: s.RootDN, BindPassword: s.RootPW}
	attrs := []string{"uid", "cn", "mail", "entryUUID"}
	b.Run("Search", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			err := Search(b.Context(), cfg, users, attrs, func(*Entry) error {
				n++
				return nil
			})
			if err != nil || n != 20000 {
				b.Fatalf("Search = %d, %v", n, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*20000), "ns/entry")
	})
	b.Run("SearchRaw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			err := SearchRaw(b.Context(), cfg, users, attrs, func([]byte) error {
				n++
				return nil
			})
			if err != nil || n != 20000 {
				b.Fatalf("SearchRaw = %d, %v", n, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*20000), "ns/entry")
	})
}

// selfSignedDER is a fresh self-signed certificate, DER encoded.
func selfSignedDER(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "u0001"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// rawEntry is what one search said of one entry, copied out of fn.
type rawEntry struct {
	dn    string
	attrs []Attr
	raw   []byte
}

func collect(t *testing.T, cfg Config, filter string, attrs []string) []rawEntry {
	t.Helper()
	var out []rawEntry
	err := Search(t.Context(), cfg, filter, attrs, func(e *Entry) error {
		r := rawEntry{dn: e.DN, raw: bytes.Clone(e.Raw)}
		for _, a := range e.Attrs {
			r.attrs = append(r.attrs, Attr{Name: a.Name, Values: slices.Clone(a.Values)})
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	return out
}

// TestSearchRawAndValues: Entry.Raw is the SearchResultEntry as the server
// encoded it — the same bytes for an unchanged entry in every search, other
// bytes once it changed, the same bytes from SearchRaw — and the decoded
// entry (multi-valued and binary attributes included) says what Raw says.
func TestSearchRawAndValues(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: usersLDIF(450)})
	cfg := cfgFor(s)
	cfg.BindDN, cfg.BindPassword = s.RootDN, s.RootPW

	// u0001 gets several binary photos (every byte value, sizes around the
	// decoder's chunk size), a certificate, three mail addresses and three
	// names.
	var photos [][]byte
	for _, n := range []int{1, chunkSize - 1, chunkSize, chunkSize + 1, 1000} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*7 + n)
		}
		photos = append(photos, p)
	}
	photos = append(photos, photo) // 0xff down to 0x00
	cert := selfSignedDER(t)
	mails := []string{"u0001@corp.example", "first.last@corp.example", "u.one@Corp.Example"}
	cns := []string{"User 1", "Ünïcödé Üser 1", strings.Repeat("long name ", 40)}
	mod := ldapv3.NewModifyRequest("uid=u0001,ou=Contractors,dc=corp,dc=example", nil)
	var photoStrs []string
	for _, p := range photos {
		photoStrs = append(photoStrs, string(p))
	}
	mod.Add("jpegPhoto", photoStrs)
	mod.Add("userCertificate;binary", []string{string(cert)})
	mod.Replace("mail", mails)
	mod.Replace("cn", cns)
	conn := s.Conn(t)
	if err := conn.Modify(mod); err != nil {
		t.Fatal(err)
	}

	attrs := []string{"*", "entryUUID"}
	first := collect(t, cfg, users, attrs)
	if len(first) != 450 {
		t.Fatalf("Search saw %d entries, want 450", len(first))
	}
	for _, e := range first {
		checkRaw(t, e)
	}
	u1 := slices.IndexFunc(first, func(e rawEntry) bool { return strings.HasPrefix(e.dn, "uid=u0001,") })
	if u1 < 0 {
		t.Fatal("no u0001")
	}
	get := func(e rawEntry, name string) []string {
		for _, a := range e.attrs {
			if strings.EqualFold(a.Name, name) {
				return a.Values
			}
		}
		return nil
	}
	sameSet := func(what string, got, want []string) {
		t.Helper()
		g, w := slices.Clone(got), slices.Clone(want)
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	sameSet("jpegPhoto", get(first[u1], "jpegPhoto"), photoStrs)
	sameSet("mail", get(first[u1], "mail"), mails)
	sameSet("cn", get(first[u1], "cn"), cns)
	if got := get(first[u1], "userCertificate;binary"); len(got) != 1 || got[0] != string(cert) {
		t.Errorf("userCertificate;binary = %x, want %x", got, cert)
	}
	if i := slices.IndexFunc(first[u1].attrs, func(a Attr) bool { return strings.HasPrefix(a.Name, "userCertificate") }); i < 0 || first[u1].attrs[i].Name != "userCertificate;binary" {
		t.Errorf("attributes %v: want the name userCertificate;binary as the server spells it", first[u1].attrs)
	}

	// SearchRaw hands out the same bytes, in the same order.
	var raws [][]byte
	if err := SearchRaw(t.Context(), cfg, users, attrs, func(raw []byte) error {
		raws = append(raws, bytes.Clone(raw))
		return nil
	}); err != nil {
		t.Fatalf("SearchRaw: %v", err)
	}
	if len(raws) != len(first) {
		t.Fatalf("SearchRaw saw %d entries, Search %d", len(raws), len(first))
	}
	for i := range raws {
		if !bytes.Equal(raws[i], first[i].raw) {
			t.Errorf("entry %d (%s): SearchRaw and Search differ:\n%x\n%x", i, first[i].dn, raws[i], first[i].raw)
		}
	}

	// Unchanged: the same bytes. Changed: other bytes, only for that entry.
	second := collect(t, cfg, users, attrs)
	for i := range second {
		if second[i].dn != first[i].dn || !bytes.Equal(second[i].raw, first[i].raw) {
			t.Errorf("entry %d (%s) unchanged but its Raw differs between two searches", i, first[i].dn)
		}
	}
	changed := "uid=u0002,ou=Staff,dc=corp,dc=example"
	mod = ldapv3.NewModifyRequest(changed, nil)
	mod.Replace("mail", []string{"new@corp.example"})
	if err := conn.Modify(mod); err != nil {
		t.Fatal(err)
	}
	third := collect(t, cfg, users, attrs)
	if len(third) != len(first) {
		t.Fatalf("third search saw %d entries, want %d", len(third), len(first))
	}
	for i := range third {
		same := bytes.Equal(third[i].raw, first[i].raw)
		if third[i].dn == changed {
			if same {
				t.Errorf("%s modified but its Raw is unchanged", changed)
			}
			if got := get(third[i], "mail"); !slices.Equal(got, []string{"new@corp.example"}) {
				t.Errorf("%s: mail = %q after the modify", changed, got)
			}
			checkRaw(t, third[i])
		} else if !same {
			t.Errorf("entry %s not modified but its Raw changed", third[i].dn)
		}
	}
}

// checkRaw decodes e.raw with asn1-ber and compares it with the lean decoder's view.
func checkRaw(t *testing.T, e rawEntry) {
	t.Helper()
	p, err := ber.DecodePacketErr(e.raw)
	if err != nil {
		t.Fatalf("%s: Raw does not decode: %v", e.dn, err)
	}
	if p.ClassType != ber.ClassApplication || p.Tag != ldapv3.ApplicationSearchResultEntry || len(p.Children) != 2 {
		t.Fatalf("%s: Raw is not a SearchResultEntry: %s", e.dn, ber.DescribePacket(p))
	}
	if dn := string(p.Children[0].ByteValue); dn != e.dn {
		t.Errorf("Raw DN %q, decoded %q", dn, e.dn)
	}
	var attrs []Attr
	for _, a := range p.Children[1].Children {
		attr := Attr{Name: string(a.Children[0].ByteValue), Values: []string{}}
		for _, v := range a.Children[1].Children {
			attr.Values = append(attr.Values, string(v.ByteValue))
		}
		attrs = append(attrs, attr)
	}
	if len(attrs) != len(e.attrs) {
		t.Fatalf("%s: Raw has %d attributes, decoded %d", e.dn, len(attrs), len(e.attrs))
	}
	for i := range attrs {
		if attrs[i].Name != e.attrs[i].Name || !slices.Equal(attrs[i].Values, e.attrs[i].Values) {
			t.Errorf("%s: attribute %d: Raw %q %q, decoded %q %q", e.dn, i, attrs[i].Name, attrs[i].Values, e.attrs[i].Name, e.attrs[i].Values)
		}
	}
}
