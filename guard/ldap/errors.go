package ldap

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"
)

// Sentinel errors an *Error matches with errors.Is.
var (
	// ErrTimeout: the server did not answer within Config.Timeout (or the
	// connection within Config.DialTimeout).
	ErrTimeout = errors.New("ldap: timed out")
	// ErrConnectionLost: the connection broke during the read (server
	// stopped, network cut), possibly between two pages.
	ErrConnectionLost = errors.New("connection to the server lost")
)

// Error is the error Search returns for anything but fn's own error. Its
// message is written for a directory admin, e.g.
//
//	ldap: connect ldap://127.0.0.1:3899: connection refused
//	ldap: bind as cn=admin,dc=corp,dc=example: invalid credentials
//	ldap: search dc=corp,dc=example (page 3, after 1000 entries): size limit exceeded
//
// and never contains the bind password.
type Error struct {
	// Op is the step that failed: "connect", "starttls", "bind" or "search".
	Op string
	// Code is the LDAP result code the server answered with (4 size limit
	// exceeded, 10 referral, 32 no such object, 49 invalid credentials…),
	// or 0 when the failure was not an LDAP result (network, TLS, timeout).
	Code uint16
	// Err is the underlying error: a go-ldap *ldap.Error (for a result
	// code), a network or TLS error, ctx.Err()… It may be nil.
	Err error

	kind error // ErrTimeout, ErrConnectionLost or nil
	msg  string
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether e is of the kind target (ErrTimeout, ErrConnectionLost).
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// lostError is a broken connection: it matches ErrConnectionLost and its cause.
type lostError struct {
	text string
	err  error
}

func (e *lostError) Error() string   { return ErrConnectionLost.Error() + ": " + e.text }
func (e *lostError) Unwrap() []error { return []error{ErrConnectionLost, e.err} }

// newConnLost wraps the error a read or write of the connection failed
// with: "connection to the server lost: connection reset by peer".
func newConnLost(err error) error {
	var errno syscall.Errno
	switch {
	case err == io.EOF:
		return &lostError{"the server closed the connection", err}
	case err == io.ErrUnexpectedEOF:
		return &lostError{"the server closed the connection in the middle of a message", err}
	case errors.As(err, &errno):
		return &lostError{errno.Error(), err}
	}
	return &lostError{strings.TrimPrefix(err.Error(), "ldap: "), err}
}

// newError builds an *Error whose message is prefix + ": " + a readable cause.
func newError(op, prefix string, err error, kind error) *Error {
	text, code, k := describe(err)
	if kind == nil {
		kind = k
	}
	return &Error{Op: op, Code: code, Err: err, kind: kind, msg: prefix + ": " + text}
}

// describe turns err into text for an admin, its LDAP result code and its kind.
func describe(err error) (string, uint16, error) {
	if errors.Is(err, ErrConnectionLost) {
		return err.Error(), 0, ErrConnectionLost
	}
	var le *ldapv3.Error
	if errors.As(err, &le) {
		inner := ""
		if le.Err != nil {
			inner = le.Err.Error()
		}
		switch code := le.ResultCode; {
		case code == ldapv3.ErrorNetwork:
			if inner == "" {
				inner = "network error"
			}
			return ErrConnectionLost.Error() + ": " + strings.TrimPrefix(inner, "ldap: "), 0, ErrConnectionLost
		case code >= ldapv3.ErrorNetwork: // errors go-ldap makes on the client side
			return strings.TrimPrefix(inner, "ldap: "), 0, nil
		default:
			text := codeText(code)
			if code == ldapv3.LDAPResultReferral {
				text = "referral returned by the server (not followed)"
				if refs := referrals(le); len(refs) > 0 {
					text += ": " + strings.Join(refs, ", ")
				}
			}
			if inner != "" && !strings.EqualFold(inner, text) {
				text += ": " + inner
			}
			if code == ldapv3.LDAPResultNoSuchObject && le.MatchedDN != "" {
				text += " (closest existing entry: " + le.MatchedDN + ")"
			}
			return text, code, nil
		}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error(), 0, nil // "connection refused", not "dial tcp …: connect: connection refused"
	}
	if err == nil {
		return "unknown error", 0, nil
	}
	return err.Error(), 0, nil
}

// codeText is the lower-case name of an LDAP result code: "size limit exceeded".
func codeText(code uint16) string {
	if s, ok := ldapv3.LDAPResultCodeMap[code]; ok {
		return strings.ToLower(s)
	}
	return fmt.Sprintf("result code %d", code)
}

// referrals returns the URLs of the referral field of an LDAPResult
// (RFC 4511 4.1.9: [3] SEQUENCE OF URI), which go-ldap does not decode.
func referrals(le *ldapv3.Error) []string {
	if le.Packet == nil || len(le.Packet.Children) < 2 {
		return nil
	}
	var refs []string
	for _, c := range le.Packet.Children[1].Children {
		if c.ClassType != ber.ClassContext || c.Tag != 3 {
			continue
		}
		for _, r := range c.Children {
			if s, ok := r.Value.(string); ok && s != "" {
				refs = append(refs, s)
			} else if r.Data != nil && r.Data.Len() > 0 {
				refs = append(refs, r.Data.String())
			}
		}
	}
	return refs
}
