package ldap

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
)

// TestSearchLegacyCertificate: a certificate like Samba's own (Common Name
// only, negative serial number) is refused, the error giving its
// fingerprint to pin; pinned, it is trusted whatever its names or chain;
// another pin is refused. Over ldaps:// and StartTLS alike.
func TestSearchLegacyCertificate(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: usersLDIF(5), TLS: true, LegacyCert: true})
	if s.Cert.SerialNumber.Sign() >= 0 || len(s.Cert.DNSNames)+len(s.Cert.IPAddresses) > 0 {
		t.Fatalf("server certificate: serial %v, names %v %v: want Samba's kind", s.Cert.SerialNumber, s.Cert.DNSNames, s.Cert.IPAddresses)
	}
	pin := Pin(s.Cert)
	for _, mode := range []string{"ldaps", "starttls"} {
		cfg := cfgFor(s)
		cfg.BindDN, cfg.BindPassword = s.RootDN, s.RootPW
		if mode == "ldaps" {
			cfg.URL = s.LDAPSURL
		} else {
			cfg.StartTLS = true
		}
		t.Run(mode+" refused without a pin", func(t *testing.T) {
			for _, tc := range []struct{ name, want string }{
				{"", "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"},
				{"localhost", "x509: certificate relies on legacy Common Name field, use SANs instead"},
			} {
				cfg := cfg
				cfg.TLSConfig = &tls.Config{RootCAs: s.CAPool, ServerName: tc.name}
				err := Search(t.Context(), cfg, users, nil, noop)
				wantErr(t, err, tc.want)
				wantErr(t, err, "(the server's certificate: CN=localhost, fingerprint "+pin+")")
				var e *Error
				if !errors.As(err, &e) || e.Fingerprint != pin {
					t.Errorf("Search = %#v, want an *Error with Fingerprint %s", err, pin)
				}
			}
		})
		t.Run(mode+" pinned", func(t *testing.T) {
			for _, p := range []string{pin, "SHA256:" + strings.ToUpper(colons(strings.TrimPrefix(pin, "sha256:")))} {
				cfg := cfg
				cfg.TLSPin = p
				if n, err := count(t.Context(), cfg, users); err != nil || n != 5 {
					t.Errorf("pin %s: Search = %d, %v; want 5, nil", p, n, err)
				}
			}
		})
		t.Run(mode+" another pin", func(t *testing.T) {
			cfg := cfg
			cfg.TLSPin = "sha256:" + strings.Repeat("ab", 32)
			err := Search(t.Context(), cfg, users, nil, noop)
			wantErr(t, err, "TLS handshake: the server's certificate (CN=localhost) is not the pinned one: its fingerprint is "+pin+", the pin sha256:"+strings.Repeat("ab", 32))
			var e *Error
			if !errors.As(err, &e) || e.Fingerprint != pin {
				t.Errorf("Search = %#v, want an *Error with Fingerprint %s", err, pin)
			}
		})
	}
}

// colons writes hex digits in pairs separated by colons, as openssl does.
func colons(hex string) string {
	var b strings.Builder
	for i := 0; i < len(hex); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex[i : i+2])
	}
	return b.String()
}

// TestSearchTLSServerName: the name checked in the certificate can be
// another than the URL's host.
func TestSearchTLSServerName(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{LDIF: usersLDIF(5), TLS: true})
	cfg := cfgFor(s)
	cfg.URL = s.LDAPSURL
	cfg.TLSConfig = &tls.Config{RootCAs: s.CAPool, ServerName: "localhost"}
	if n, err := count(t.Context(), cfg, users); err != nil || n != 5 {
		t.Errorf("127.0.0.1 as localhost: Search = %d, %v; want 5, nil", n, err)
	}
	cfg.TLSConfig = &tls.Config{RootCAs: s.CAPool, ServerName: "dc1.corp.example"}
	wantErr(t, Search(t.Context(), cfg, users, nil, noop), "x509: certificate is valid for localhost, not dc1.corp.example")
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" valid
	}{
		{"bind over ldaps", Config{URL: "ldaps://dc1.corp.example", BindDN: "cn=x", BindPassword: "pw"}, ""},
		{"bind with StartTLS", Config{URL: "ldap://dc1.corp.example", StartTLS: true, BindDN: "cn=x", BindPassword: "pw"}, ""},
		{"anonymous in clear", Config{URL: "ldap://dc1.corp.example"}, ""},
		{"bind in clear to 127.0.0.1", Config{URL: "ldap://127.0.0.1:3389", BindDN: "cn=x"}, ""},
		{"bind in clear to 127.1.2.3", Config{URL: "ldap://127.1.2.3", BindDN: "cn=x"}, ""},
		{"bind in clear to ::1", Config{URL: "ldap://[::1]:389", BindDN: "cn=x"}, ""},
		{"bind in clear to localhost", Config{URL: "ldap://LocalHost", BindDN: "cn=x"}, ""},
		{"bind in clear over the network", Config{URL: "ldap://dc1.corp.example:389", BindDN: "cn=svc,dc=corp", BindPassword: "pw"},
			"ldap: connect ldap://dc1.corp.example:389: refusing to bind as cn=svc,dc=corp in clear over the network: use ldaps:// or StartTLS (only a server on this machine, a loopback address, may be bound to in clear)"},
		{"NTLM in clear over the network", Config{URL: "ldap://10.0.0.5", BindDN: `CORP\svc`, BindMethod: BindNTLM}, "refusing to bind as CORP\\svc in clear"},
		{"a name that only looks local", Config{URL: "ldap://localhost.corp.example", BindDN: "cn=x"}, "refusing to bind"},
		{"pin without TLS", Config{URL: "ldap://127.0.0.1", TLSPin: "sha256:" + strings.Repeat("00", 32)}, "TLS settings (a CA, a pin, a server name) would be ignored without TLS: use ldaps:// or StartTLS"},
		{"CA without TLS", Config{URL: "ldap://127.0.0.1", TLSConfig: &tls.Config{}}, "would be ignored without TLS"},
		{"bad pin", Config{URL: "ldaps://x", TLSPin: "sha1:00"}, `ldap: TLS pin "sha1:00": want sha256: and the 64 hex digits`},
		{"short pin", Config{URL: "ldaps://x", TLSPin: "sha256:abcd"}, "want sha256:"},
		{"unknown bind method", Config{URL: "ldaps://x", BindMethod: "kerberos"}, `ldap: unknown bind method "kerberos": want simple or ntlm`},
		{"NTLM with a DN", Config{URL: "ldaps://x", BindMethod: BindNTLM, BindDN: "CN=svc,CN=Users,DC=corp"}, `ldap: an NTLM bind names its account DOMAIN\user or user@domain, not by a DN (CN=svc,CN=Users,DC=corp)`},
		{"NTLM as a plain account name", Config{URL: "ldaps://x", BindMethod: BindNTLM, BindDN: "svc"}, ""},
		{"StartTLS on ldaps", Config{URL: "ldaps://x", StartTLS: true}, "StartTLS needs an ldap:// URL"},
		{"no URL", Config{}, `ldap: invalid server URL ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			wantErr(t, err, tc.want)
			if e := (*Error)(nil); !errors.As(err, &e) || e.Op != "connect" {
				t.Errorf("Validate = %#v, want an *Error with Op connect", err)
			}
			// Search refuses it before dialling anything.
			if err := Search(t.Context(), tc.cfg, users, nil, noop); err == nil || err.Error() != Validate(tc.cfg).Error() {
				t.Errorf("Search = %v, want %v", err, Validate(tc.cfg))
			}
		})
	}
}

func TestParsePin(t *testing.T) {
	want := strings.Repeat("f2", 32)
	for _, in := range []string{"sha256:" + want, "SHA256:" + strings.ToUpper(want), "sha256:" + colons(want), " sha256:" + colons(strings.ToUpper(want)) + " "} {
		b, err := ParsePin(in)
		if err != nil || len(b) != 32 || b[0] != 0xf2 {
			t.Errorf("ParsePin(%q) = %x, %v", in, b, err)
		}
	}
	for _, in := range []string{"", want, "sha256:" + want[:62], "sha256:" + want + "00", "sha256:zz" + want[2:], "md5:" + want} {
		if _, err := ParsePin(in); err == nil {
			t.Errorf("ParsePin(%q) = nil error", in)
		}
	}
}
