package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target"
)

func TestStartTLSAndLDAPS(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Suffix: targetBase, TLS: true})
	c := srv.Conn(t)
	ctx := context.Background()
	trusted := &tls.Config{RootCAs: srv.CAPool}
	for _, tc := range []struct {
		name, url string
		startTLS  bool
		wantTest  string
	}{
		{"starttls", srv.URL, true, "LDAP ok: bound as cn=admin,dc=cloud,dc=example over StartTLS; dc=cloud,dc=example exists"},
		{"ldaps", srv.LDAPSURL, false, "LDAP ok: bound as cn=admin,dc=cloud,dc=example over TLS; dc=cloud,dc=example exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWriter(t, srv, func(cfg *Config) { cfg.URL, cfg.StartTLS, cfg.TLSConfig = tc.url, tc.startTLS, trusted })
			got, err := w.Test(ctx)
			if err != nil || got != tc.wantTest {
				t.Fatalf("Test = %q, %v; want %q", got, err, tc.wantTest)
			}
			link := put(t, w, user("uid="+tc.name+",ou=TLS,"+sourceBase, "uid", tc.name), "", target.CreateFirst)
			mustGet(t, c, string(link))

			// Without the test CA the certificate is not trusted: said so,
			// and not retried as if the server were down.
			w = newWriter(t, srv, func(cfg *Config) { cfg.URL, cfg.StartTLS = tc.url, tc.startTLS })
			_, err = w.Test(ctx)
			var te *target.Error
			if !errors.As(err, &te) || te.Transient || !strings.Contains(te.Message, "certificate is not trusted: x509: certificate signed by unknown authority") {
				t.Errorf("untrusted Test error = %#v", err)
			}
		})
	}
}

func TestStartTLSRefusedByAServerWithoutTLS(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Suffix: targetBase})
	w := newWriter(t, srv, func(cfg *Config) { cfg.StartTLS = true })
	_, err := w.Test(context.Background())
	var te *target.Error
	if !errors.As(err, &te) || te.Transient || !strings.HasPrefix(te.Message, "LDAP 2 protocol error: unsupported extended operation") || !strings.Contains(te.Message, "(StartTLS refused by "+srv.URL+")") {
		t.Errorf("Test error = %#v", err)
	}
}

// Active Directory without a certificate answers StartTLS with 52
// unavailable: a configuration to fix, not a server to wait for.
func TestStartTLSUnavailableIsPermanent(t *testing.T) {
	addr := scriptedServer(t, func(c net.Conn) {
		answer(c, ldapv3.ApplicationExtendedResponse, ldapv3.LDAPResultUnavailable,
			"00000000: LdapErr: DSID-0C091030, comment: Error initializing SSL/TLS, data 0, v4563")
	})
	w, err := New(Config{URL: "ldap://" + addr, StartTLS: true, BindDN: "cn=admin," + targetBase, BindPassword: "secret",
		SourceBaseDN: sourceBase, TargetBaseDN: targetBase})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = w.Test(context.Background())
	want := "LDAP 52 unavailable: 00000000: LdapErr: DSID-0C091030, comment: Error initializing SSL/TLS, data 0, v4563 (StartTLS refused by ldap://" + addr + ")"
	var te *target.Error
	if !errors.As(err, &te) || te.Transient || te.Message != want {
		t.Errorf("Test error = %#v, want permanent %q", err, want)
	}
}
