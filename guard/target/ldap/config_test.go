package ldap

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/target"
)

func TestNewChecksTheConfiguration(t *testing.T) {
	ok := Config{URL: "ldap://127.0.0.1:389", BindDN: "cn=admin," + targetBase, BindPassword: "secret", SourceBaseDN: sourceBase, TargetBaseDN: targetBase}
	for _, tc := range []struct {
		name    string
		change  func(*Config)
		wantErr string // "" = accepted
	}{
		{"loopback in clear", func(c *Config) {}, ""},
		{"localhost in clear", func(c *Config) { c.URL = "ldap://localhost" }, ""},
		{"ipv6 loopback in clear", func(c *Config) { c.URL = "ldap://[::1]:3389" }, ""},
		{"remote with StartTLS", func(c *Config) { c.URL, c.StartTLS = "ldap://ldap.example.com", true }, ""},
		{"remote ldaps", func(c *Config) { c.URL = "ldaps://ldap.example.com" }, ""},
		{"remote anonymous in clear", func(c *Config) { c.URL, c.BindDN, c.BindPassword = "ldap://ldap.example.com", "", "" }, ""},
		{"remote password in clear", func(c *Config) { c.URL = "ldap://ldap.example.com:389" },
			"ldap target ldap://ldap.example.com:389: refusing to send the bind password in clear to ldap.example.com: use ldaps:// or StartTLS (plain ldap:// is allowed only to a loopback address)"},
		{"a name that looks local", func(c *Config) { c.URL = "ldap://localhost.example.com" }, "refusing to send the bind password in clear"},
		{"StartTLS on ldaps", func(c *Config) { c.URL, c.StartTLS = "ldaps://ldap.example.com", true }, "StartTLS needs an ldap:// URL"},
		{"http URL", func(c *Config) { c.URL = "http://ldap.example.com" }, `ldap target: invalid URL "http://ldap.example.com": want ldap://host[:port] or ldaps://host[:port]`},
		{"no host", func(c *Config) { c.URL = "ldap://" }, "invalid URL"},
		{"a base in the URL", func(c *Config) { c.URL = "ldap://h/dc=x" }, "invalid URL"},
		{"password without DN", func(c *Config) { c.BindDN = "" }, "a bind password needs a bind DN"},
		{"DN without password", func(c *Config) { c.BindPassword = "" }, "has no password"},
		{"no target base", func(c *Config) { c.TargetBaseDN = " " }, "ldap target: the target base DN is missing"},
		{"bad source base", func(c *Config) { c.SourceBaseDN = "dc=corp,example" }, "ldap target: source base DN: bad DN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.change(&cfg)
			w, err := New(cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New error = %v, want %q", err, tc.wantErr)
			case err == nil:
				w.Close()
			}
			if err != nil && strings.Contains(err.Error(), cfg.BindPassword) && cfg.BindPassword != "" {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestClosedWriterSaysSo(t *testing.T) {
	w, err := New(Config{URL: "ldap://127.0.0.1:1", SourceBaseDN: sourceBase, TargetBaseDN: targetBase})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	_, err = w.Put(context.Background(), user("uid=ann,"+sourceBase, "uid", "ann"), "", target.CreateFirst)
	var te *target.Error
	if !errors.As(err, &te) || !te.Transient || te.Message != "LDAP: the writer is closed" {
		t.Errorf("Put after Close: %#v", err)
	}
}
