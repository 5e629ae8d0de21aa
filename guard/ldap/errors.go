package ldap

import (
	"errors"
	"fmt"
	"io"
	"regexp"
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
	// Fingerprint, when the server's TLS certificate was refused, is that
	// certificate's pin ("sha256:<hex>", see ParsePin): what an admin who
	// checked it on the server may pin.
	Fingerprint string

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
	e := &Error{Op: op, Code: code, Err: err, kind: kind, msg: prefix + ": " + text}
	var ce *certError
	if errors.As(err, &ce) {
		e.Fingerprint = ce.pin
	}
	return e
}

// describe turns err into text for an admin, its LDAP result code and its kind.
func describe(err error) (string, uint16, error) {
	var re *rangeError
	if errors.As(err, &re) {
		return re.Error(), re.err.Code, re.err.kind
	}
	if errors.Is(err, ErrConnectionLost) {
		return err.Error(), 0, ErrConnectionLost
	}
	var le *ldapv3.Error
	if errors.As(err, &le) {
		inner := ""
		if le.Err != nil {
			// AD ends its diagnostic text with a NUL.
			inner = strings.TrimRight(le.Err.Error(), "\x00 \n")
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
			if why, ok := adBindError(inner); ok {
				text += ": " + why
			} else if inner != "" && !strings.EqualFold(inner, text) {
				text += ": " + inner
			}
			if code == ldapv3.LDAPResultStrongAuthRequired && strings.Contains(inner, "Sign or Seal are required") {
				text += " (Samba before 4.20 takes an NTLM bind over TLS only with \"ldap server require strong auth = allow_sasl_over_tls\" in its smb.conf; a simple bind over TLS works as it is)"
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

// adDataCode finds the Windows error code in Active Directory's diagnostic
// text for a failed bind, e.g. "80090308: LdapErr: DSID-0C09041C, comment:
// AcceptSecurityContext error, data 52e, v4563" (Samba answers alike).
var adDataCode = regexp.MustCompile(`LdapErr: .*\bdata ([0-9a-fA-F]+)\b`)

// adBindErrors say in an admin's words what each code means, and what to do.
var adBindErrors = map[string]string{
	"525": "user not found: check the bind DN (a DN, DOMAIN\\user or user@domain)",
	"52e": "wrong password: check the bind password",
	"530": "logon not permitted at this time: the account's logon hours exclude now; let it log on at any hour",
	"531": "logon not permitted from this workstation: the account may log on only from the computers in its userWorkstations; add this one or clear the list",
	"532": "password expired: set a new password on the account and here (a service account's password should not expire)",
	"533": "account disabled: enable the account in the directory",
	"701": "account expired: extend or clear the account's expiry date (accountExpires)",
	"773": "password must be changed: the account must change its password at next logon; set a new password on the account and here, and clear that flag",
	"775": "account locked: too many wrong passwords (an old password still tried somewhere?); unlock the account, then check the bind password",
}

// adBindError turns the diagnostic text of an Active Directory bind failure
// into an admin's words, keeping AD's code to search for.
func adBindError(diag string) (string, bool) {
	m := adDataCode.FindStringSubmatch(diag)
	if m == nil {
		return "", false
	}
	code := strings.ToLower(m[1])
	why, ok := adBindErrors[code]
	if !ok {
		return "", false
	}
	return why + " (AD error data " + code + ")", true
}
