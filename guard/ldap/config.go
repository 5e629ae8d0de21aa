package ldap

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// target is where a checked Config points: its URL, and the certificate
// pin if any.
type target struct {
	u   *url.URL
	pin []byte
}

// Validate checks cfg before anything is sent: a server URL, a bind method
// it knows, a well-formed TLS pin, TLS settings that would be used, and no
// bind in clear over the network. Search checks the same; the error is an
// *Error with Op "connect".
func Validate(cfg Config) error {
	_, err := check(cfg)
	return err
}

func check(cfg Config) (target, error) {
	fail := func(format string, args ...any) (target, error) {
		return target{}, &Error{Op: "connect", msg: "ldap: " + fmt.Sprintf(format, args...)}
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return fail("invalid server URL %q: want ldap://host:port or ldaps://host:port", cfg.URL)
	}
	t := target{u: u}
	if cfg.TLSPin != "" {
		if t.pin, err = ParsePin(cfg.TLSPin); err != nil {
			return fail("%v", strings.TrimPrefix(err.Error(), "ldap: "))
		}
	}
	switch cfg.BindMethod {
	case "", BindSimple:
	case BindNTLM:
		if strings.Contains(cfg.BindDN, "=") {
			return fail("an NTLM bind names its account DOMAIN\\user or user@domain, not by a DN (%s)", cfg.BindDN)
		}
	default:
		return fail("unknown bind method %q: want %s or %s", cfg.BindMethod, BindSimple, BindNTLM)
	}
	plain := u.Scheme == "ldap" && !cfg.StartTLS
	switch {
	case cfg.StartTLS && u.Scheme == "ldaps":
		return fail("connect %s: StartTLS needs an ldap:// URL (ldaps:// is already TLS)", cfg.URL)
	case plain && (cfg.TLSPin != "" || cfg.TLSConfig != nil):
		return fail("connect %s: TLS settings (a CA, a pin, a server name) would be ignored without TLS: use ldaps:// or StartTLS", cfg.URL)
	case plain && cfg.BindDN != "" && !Loopback(u.Hostname()):
		return fail("connect %s: refusing to bind as %s in clear over the network: use ldaps:// or StartTLS (only a server on this machine, a loopback address, may be bound to in clear)", cfg.URL, cfg.BindDN)
	}
	return t, nil
}

// Loopback reports whether host names this machine: localhost, or an
// address in 127.0.0.0/8 or ::1. Names are not resolved.
func Loopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ParsePin reads a certificate pin: "sha256:" and the SHA-256 of the
// server's certificate in DER as 64 hex digits, colons optional, any case —
// as `openssl x509 -noout -fingerprint -sha256 -in cert.pem` prints it.
func ParsePin(pin string) ([]byte, error) {
	algo, digits, ok := strings.Cut(strings.TrimSpace(pin), ":")
	b, err := hex.DecodeString(strings.ReplaceAll(digits, ":", ""))
	if !ok || !strings.EqualFold(algo, "sha256") || err != nil || len(b) != 32 {
		return nil, fmt.Errorf("ldap: TLS pin %q: want sha256: and the 64 hex digits of the certificate's SHA-256 fingerprint (colons allowed), as openssl x509 -noout -fingerprint -sha256 prints it", pin)
	}
	return b, nil
}
