package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/target"
)

// transientCodes are the result codes about the server's state rather than
// the data: retrying later may succeed.
var transientCodes = map[uint16]bool{
	ldapv3.LDAPResultOperationsError:    true, // the server failed internally
	ldapv3.LDAPResultTimeLimitExceeded:  true,
	ldapv3.LDAPResultBusy:               true,
	ldapv3.LDAPResultUnavailable:        true,
	ldapv3.LDAPResultOther:              true, // slapd's internal errors (database full, txn failed…)
	ldapv3.LDAPResultAdminLimitExceeded: true,
}

// resultCode returns err's LDAP result code, or 0.
func resultCode(err error) uint16 {
	var le *ldapv3.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0
}

// isCode reports whether err carries the LDAP result code code.
func isCode(err error, code uint16) bool { return err != nil && resultCode(err) == code }

// fail turns what go-ldap or the network returned into a *target.Error:
// "LDAP 65 object class violation: <the server's words>" for a result
// code, "LDAP connect <url>: connection refused" and the like for the
// connection. ctx's end is transient (the exporter tries again). The bind
// password never appears, even if the server echoes it.
func (w *Writer) fail(ctx context.Context, err error) *target.Error {
	if err == nil {
		return nil
	}
	out := classify(err)
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		msg := "LDAP: " + cause.Error()
		if errors.As(cause, new(timeoutError)) {
			msg = "LDAP " + cause.Error()
		}
		out = &target.Error{Transient: true, Message: msg, Err: err}
	}
	cp := *out // the message changes below; an *Error may be shared
	out = &cp
	if len(w.cfg.BindPassword) >= 4 {
		out.Message = strings.ReplaceAll(out.Message, w.cfg.BindPassword, "[password]")
	}
	return out
}

// classify is fail without a context.
func classify(err error) *target.Error {
	var te *target.Error
	if errors.As(err, &te) {
		return te
	}
	var le *ldapv3.Error
	if errors.As(err, &le) {
		switch code := le.ResultCode; {
		case code == ldapv3.ErrorNetwork:
			return &target.Error{Transient: true, Message: "LDAP connection lost: " + lostText(le.Err), Err: err}
		case code >= ldapv3.ErrorNetwork: // made by go-ldap on the client side
			return &target.Error{Message: "LDAP: " + netText(le.Err), Err: err}
		default:
			return &target.Error{Transient: transientCodes[code], Message: resultText(le), Err: err}
		}
	}
	var ce *connError
	if errors.As(err, &ce) {
		return &target.Error{Transient: ce.transient, Message: ce.Error(), Err: err}
	}
	if isTimeout(err) {
		return &target.Error{Transient: true, Message: "LDAP timed out: " + netText(err), Err: err}
	}
	// Anything else go-ldap returns is the connection failing under a
	// request ("unable to read LDAP response packet: EOF").
	return &target.Error{Transient: true, Message: "LDAP connection lost: " + lostText(err), Err: err}
}

// lostText says how a connection was lost, without Go's addresses.
func lostText(err error) string {
	s := netText(err)
	switch {
	case strings.HasSuffix(s, "EOF"):
		return "the server closed the connection"
	case strings.Contains(s, "connection reset by peer"):
		return "connection reset by peer"
	case strings.Contains(s, "use of closed network connection"):
		return "connection closed"
	}
	return s
}

// resultText is "LDAP 65 object class violation: <diagnostic>".
func resultText(le *ldapv3.Error) string {
	name, ok := ldapv3.LDAPResultCodeMap[le.ResultCode]
	if !ok {
		name = "result code"
	}
	s := fmt.Sprintf("LDAP %d %s", le.ResultCode, strings.ToLower(name))
	if le.Err != nil {
		if diag := strings.TrimSpace(le.Err.Error()); diag != "" {
			s += ": " + diag
		}
	}
	if le.ResultCode == ldapv3.LDAPResultNoSuchObject && le.MatchedDN != "" {
		s += " (closest existing entry: " + le.MatchedDN + ")"
	}
	return s
}

// netText is a network error without Go's "dial tcp 1.2.3.4:389: connect:"
// prefix: "connection refused".
func netText(err error) string {
	if err == nil {
		return "network error"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return strings.TrimPrefix(err.Error(), "ldap: ")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// connError is a failure to connect, start TLS or bind, said for an admin.
type connError struct {
	msg       string
	transient bool
	err       error
}

func (e *connError) Error() string { return e.msg }
func (e *connError) Unwrap() error { return e.err }

// dialError describes a failed TCP connection or TLS handshake to url.
func dialError(url string, err error) *connError {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
	)
	switch {
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		// The certificate is not trusted: a configuration matter, as a wrong password.
		return &connError{msg: fmt.Sprintf("LDAP TLS with %s: the server's certificate is not trusted: %s (give the target's CA certificate)",
			url, certText(err)), err: err}
	case errors.As(err, &alert):
		return &connError{msg: fmt.Sprintf("LDAP TLS with %s: the server refused the TLS handshake: %v", url, alert), err: err}
	case isTimeout(err):
		return &connError{msg: fmt.Sprintf("LDAP connect %s: timed out", url), transient: true, err: err}
	}
	return &connError{msg: fmt.Sprintf("LDAP connect %s: %s", url, netText(err)), transient: true, err: err}
}

// certText is a certificate error without the wrapping Go adds.
func certText(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "x509: "); i >= 0 {
		return s[i:]
	}
	return s
}
