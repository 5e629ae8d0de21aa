package guard

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/ldap"
	"github.com/syncguard/syncguard/guard/ldap/adtest"
	"github.com/syncguard/syncguard/guard/ldap/sambatest"
	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/store"
)

// TestLDAPBindInClearRefused: a configuration that would send its bind
// password in clear over the network cannot be saved, and one stored
// before that rule fails its cycles with the reason, changing nothing,
// without sending anything.
func TestLDAPBindInClearRefused(t *testing.T) {
	t.Parallel()
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: ldapDirectory(3).LDIF()})
	e := newLDAPEnv(t, srv, defaultBasics) // ldap://127.0.0.1: loopback, allowed
	e.runWant(store.OutcomeSucceeded)
	before := e.snapshot()

	cfg := e.config()
	cfg.Source = "ldap://dc1.corp.example:389"
	const want = "ldap: connect ldap://dc1.corp.example:389: refusing to bind as cn=admin,dc=corp,dc=example in clear over the network: use ldaps:// or StartTLS"
	if err := ValidateConfiguration(cfg); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ValidateConfiguration = %v, want %q", err, want)
	}
	if err := e.st.UpdateConfiguration(t.Context(), cfg, "alice"); err != nil {
		t.Fatal(err)
	}
	c := e.runWant(store.OutcomeFailed)
	if !strings.Contains(c.Error, want) {
		t.Errorf("cycle error %q, want %q", c.Error, want)
	}
	sameExceptStatus(t, before, e.snapshot())

	cfg.StartTLS = true
	if err := ValidateConfiguration(cfg); err != nil {
		t.Errorf("with StartTLS: ValidateConfiguration = %v", err)
	}
	cfg.StartTLS, cfg.CAFile = false, "/etc/ssl/certs/ca-certificates.crt"
	cfg.Source = srv.URL
	if err := ValidateConfiguration(cfg); err == nil || !strings.Contains(err.Error(), "TLS settings (a CA, a pin, a server name) would be ignored without TLS") {
		t.Errorf("CA file on ldap:// without StartTLS: ValidateConfiguration = %v", err)
	}
}

// TestLDAPRangedMembers: a group with more members than Active Directory
// sends at once keeps all of them, and a change in its last range is a
// change (not a source found unchanged).
func TestLDAPRangedMembers(t *testing.T) {
	t.Parallel()
	const base = "DC=corp,DC=example"
	entries := []adtest.Entry{{DN: "OU=Staff," + base, Attrs: []adtest.Attr{{Name: "objectClass", Values: []string{"organizationalUnit"}}}}}
	var members []string
	for i := range 40 {
		dn := fmt.Sprintf("CN=u%02d,OU=Staff,%s", i, base)
		members = append(members, dn)
		entries = append(entries, adtest.Entry{DN: dn, Attrs: []adtest.Attr{
			{Name: "objectClass", Values: []string{"top", "person", "organizationalPerson", "user"}},
			{Name: "cn", Values: []string{fmt.Sprintf("u%02d", i)}},
			{Name: "objectGUID", Values: []string{fmt.Sprintf("guid-%02d-abcdefgh", i)}},
		}})
	}
	group := func(members []string) adtest.Entry {
		return adtest.Entry{DN: "CN=All,OU=Staff," + base, Attrs: []adtest.Attr{
			{Name: "objectClass", Values: []string{"top", "group"}}, {Name: "cn", Values: []string{"All"}},
			{Name: "objectGUID", Values: []string{"guid-all-abcdefgh"}}, {Name: "member", Values: members},
		}}
	}
	s := adtest.Start(t, adtest.Options{Suffix: base, MaxValRange: 10, Entries: append(entries, group(members[:35])),
		Accounts: []adtest.Account{{Name: `CORP\svc`, Password: "pw"}}})
	e := newEnv(t, &store.Configuration{Name: "ad", Source: s.URL, BaseDN: base, BindDN: `CORP\svc`, BindPassword: "pw", Basics: defaultBasics})
	members35 := func() int {
		t.Helper()
		for _, o := range e.objects() {
			if o.Type == "group" {
				return len(o.Attributes[MembersAttr])
			}
		}
		t.Fatal("no group in the target")
		return 0
	}
	if c := e.runWant(store.OutcomeSucceeded); c.Creates != 41 {
		t.Errorf("first cycle created %d, want 41", c.Creates)
	}
	if got := members35(); got != 35 {
		t.Errorf("group has %d members in the target, want 35", got)
	}
	if c := e.runWant(store.OutcomeSucceeded); c.Creates+c.Updates+c.Deletes != 0 {
		t.Errorf("unchanged source: cycle %+v", c)
	}
	changed := append(members[:34:34], members[39]) // the 35th member, in the last range, replaced
	s.Set(group(changed))
	if c := e.runWant(store.OutcomeSucceeded); c.Updates != 1 {
		t.Errorf("after the 35th member changed: %d updates, want 1", c.Updates)
	}
}

// TestLDAPPinnedCertificate: a certificate without subjectAltName fails the
// cycle with its fingerprint and how to pin it; pinned, the cycle reads.
// --tls-server-name checks another name than the URL's host.
func TestLDAPPinnedCertificate(t *testing.T) {
	t.Parallel()
	dir := ldapDirectory(3)
	legacy := slapdtest.Start(t, slapdtest.Options{LDIF: dir.LDIF(), TLS: true, LegacyCert: true})
	e := newEnv(t, &store.Configuration{Name: "pinned", Source: legacy.LDAPSURL, BaseDN: legacy.Suffix,
		BindDN: legacy.RootDN, BindPassword: legacy.RootPW, CAFile: filepath.Join(legacy.Dir, "ca.pem"), TLSServer: "localhost", Basics: defaultBasics})
	c := e.runWant(store.OutcomeFailed)
	pin := ldap.Pin(legacy.Cert)
	for _, want := range []string{"certificate relies on legacy Common Name field", "--tls-pin " + pin} {
		if !strings.Contains(c.Error, want) {
			t.Errorf("cycle error %q, want %q", c.Error, want)
		}
	}
	cfg := e.config()
	cfg.TLSPin = pin
	if err := e.st.UpdateConfiguration(t.Context(), cfg, "alice"); err != nil {
		t.Fatal(err)
	}
	e.runWant(store.OutcomeSucceeded)

	modern := slapdtest.Start(t, slapdtest.Options{LDIF: dir.LDIF(), TLS: true})
	cfg = &store.Configuration{Name: "named", Source: modern.LDAPSURL, BaseDN: modern.Suffix, BindDN: modern.RootDN,
		BindPassword: modern.RootPW, CAFile: filepath.Join(modern.Dir, "ca.pem"), TLSServer: "localhost", Basics: defaultBasics}
	newEnv(t, cfg).runWant(store.OutcomeSucceeded)
	cfg.TLSServer = "dc1.corp.example"
	if c := newEnv(t, cfg).runWant(store.OutcomeFailed); !strings.Contains(c.Error, "x509: certificate is valid for localhost, not dc1.corp.example") {
		t.Errorf("cycle error %q", c.Error)
	}
}

// TestSambaCycle: a cycle against a real Active Directory domain
// controller, bound with NTLM, its own certificate pinned.
func TestSambaCycle(t *testing.T) {
	t.Parallel()
	dc := sambatest.Start(t)
	dc.AddUser(t, "svc-sync", "Svc-Passw0rd!", nil)
	e := newEnv(t, &store.Configuration{Name: "samba", Source: dc.URL, StartTLS: true, BaseDN: sambatest.BaseDN,
		BindMethod: "ntlm", BindDN: sambatest.Domain + `\svc-sync`, BindPassword: "Svc-Passw0rd!", TLSPin: ldap.Pin(dc.Cert),
		Basics: defaultBasics})
	c := e.runWant(store.OutcomeSucceeded)
	var found bool
	for _, o := range e.objects() {
		if strings.HasPrefix(o.DN, "CN=svc-sync,") {
			found = o.Type == "user" && strings.HasPrefix(o.Anchor, "guid:")
		}
	}
	if !found {
		t.Errorf("CN=svc-sync not in the target as a user anchored by its objectGUID (cycle %+v)", c)
	}
}
