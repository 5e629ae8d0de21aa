package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/sambatest"
)

// TestSamba reads a real Active Directory domain controller (Samba AD):
// simple and NTLM binds over ldaps:// and StartTLS, its own certificate
// (no subjectAltName) trusted by pinning it, and AD's bind failures in an
// admin's words.
func TestSamba(t *testing.T) {
	start := time.Now()
	dc := sambatest.Start(t)
	t.Logf("DC %s up in %v", dc.Host, time.Since(start).Round(time.Millisecond))
	const pw = "Svc-Passw0rd!"
	svc := dc.AddUser(t, "svc", pw, nil)
	pin := Pin(dc.Cert)
	base := Config{URL: dc.LDAPSURL, BaseDN: sambatest.BaseDN, BindDN: svc, BindPassword: pw, TLSPin: pin, Timeout: 30 * time.Second}
	users := func(t *testing.T, cfg Config) {
		t.Helper()
		n := 0
		err := Search(t.Context(), cfg, "(objectClass=user)", []string{"sAMAccountName", "objectGUID"}, func(e *Entry) error {
			if len(e.Get("objectGUID")) != 1 || len(e.Get("objectGUID")[0]) != 16 {
				t.Errorf("%s: objectGUID %x", e.DN, e.Get("objectGUID"))
			}
			n++
			return nil
		})
		if err != nil || n < 4 { // Administrator, Guest, krbtgt, the DC's account, svc
			t.Errorf("Search = %d users, %v", n, err)
		}
	}

	t.Run("certificate without subjectAltName", func(t *testing.T) {
		cfg := base
		cfg.TLSPin = ""
		err := Search(t.Context(), cfg, "(objectClass=user)", nil, noop)
		wantErr(t, err, "ldap: connect "+dc.LDAPSURL+": TLS handshake: tls: failed to verify certificate")
		wantErr(t, err, "fingerprint "+pin+")")
		// Even with Samba's CA trusted and the DC's name checked, Go refuses
		// a certificate that names its server in the Common Name only.
		ca, err := os.ReadFile(filepath.Join(dc.Dir, "private", "tls", "ca.pem"))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		cfg.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "DC1.corp.example"}
		wantErr(t, Search(t.Context(), cfg, "(objectClass=user)", nil, noop), "x509: certificate relies on legacy Common Name field, use SANs instead")
	})
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"simple over ldaps, pinned", func(*Config) {}},
		{"simple with StartTLS, pinned", func(c *Config) { c.URL, c.StartTLS = dc.URL, true }},
		{"simple as user@domain", func(c *Config) { c.BindDN = "svc@" + sambatest.Realm }},
		{"NTLM as DOMAIN\\user over ldaps", func(c *Config) { c.BindMethod, c.BindDN = BindNTLM, sambatest.Domain+`\svc` }},
		{"NTLM as user@domain with StartTLS", func(c *Config) {
			c.URL, c.StartTLS, c.BindMethod, c.BindDN = dc.URL, true, BindNTLM, "svc@"+sambatest.Realm
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			users(t, cfg)
		})
	}
	t.Run("simple bind in clear", func(t *testing.T) {
		// Allowed by syncguard to a loopback address; refused by the DC.
		cfg := base
		cfg.URL, cfg.TLSPin = dc.URL, ""
		wantErr(t, Search(t.Context(), cfg, "(objectClass=user)", nil, noop), "strong auth required: BindSimple: Transport encryption required.")
	})

	lockout := ldapv3.NewModifyRequest(sambatest.BaseDN, nil)
	lockout.Replace("lockoutThreshold", []string{"2"})
	if err := dc.Conn(t).Modify(lockout); err != nil {
		t.Fatal(err)
	}
	accounts := map[string]map[string][]string{
		"off":        {"userAccountControl": {"514"}},
		"expired":    {"accountExpires": {"130000000000000000"}}, // 2012
		"mustchange": {"pwdLastSet": {"0"}},
		"hours":      {"logonHours": {sambatest.NoLogonHours}},
		"elsewhere":  {"userWorkstations": {"OTHERPC"}},
		"locked":     nil,
	}
	for name, set := range accounts {
		dc.AddUser(t, name, pw, set)
	}
	for range 2 {
		cfg := base
		cfg.BindDN, cfg.BindPassword = "locked@"+sambatest.Realm, "not the password"
		Search(t.Context(), cfg, "(objectClass=user)", nil, noop)
	}
	for _, tc := range []struct{ name, bindDN, password, want string }{
		{"wrong password", "svc@" + sambatest.Realm, "Wrong-pw", "wrong password: check the bind password (AD error data 52e)"},
		{"disabled", "off@" + sambatest.Realm, pw, "account disabled: enable the account in the directory (AD error data 533)"},
		{"account expired", "expired@" + sambatest.Realm, pw, "account expired: extend or clear the account's expiry date (accountExpires) (AD error data 701)"},
		{"must change password", "mustchange@" + sambatest.Realm, pw, "password must be changed: "},
		{"logon hours", "hours@" + sambatest.Realm, pw, "logon not permitted at this time: "},
		{"workstation", "elsewhere@" + sambatest.Realm, pw, "logon not permitted from this workstation: "},
		{"locked", "locked@" + sambatest.Realm, pw, "account locked: "},
	} {
		for _, method := range []string{BindSimple, BindNTLM} {
			t.Run(tc.name+" "+method, func(t *testing.T) {
				cfg := base
				cfg.BindMethod, cfg.BindDN, cfg.BindPassword = method, tc.bindDN, tc.password
				err := Search(t.Context(), cfg, "(objectClass=user)", nil, noop)
				wantErr(t, err, "ldap: bind as "+tc.bindDN+": invalid credentials: "+tc.want)
				if strings.Contains(err.Error(), tc.password) {
					t.Errorf("error shows the password: %v", err)
				}
			})
		}
	}
}
