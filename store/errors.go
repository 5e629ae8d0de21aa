package store

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes: the kinds of error a person can act on. Each front end maps
// a code to what it shows in one place (the portal: an HTTP status and an
// error page; the command line: the message). An error without a code is
// internal: it is logged, and people are told only that something failed.
const (
	// Conflict: the state changed under the caller (a quarantine already
	// decided, a plan gone stale) or would break a rule (a name taken).
	Conflict = "conflict"
	// NotFound: what was asked for does not exist.
	NotFound = "not_found"
	// Invalid: the input is wrong; the message says how to put it right.
	Invalid = "invalid"
)

// Error is an error a person can act on: Code says what kind it is,
// Message says what happened in words meant for an admin (no package
// prefixes, no internal details). Wrapping an *Error keeps both readable:
// errors.Is(err, ErrConflict) holds for any Conflict in err's chain, and
// ErrorMessage finds its message.
type Error struct {
	Code    string
	Message string
}

// Error returns the message, or the code when there is none.
func (e *Error) Error() string {
	if e.Message == "" {
		return strings.ReplaceAll(e.Code, "_", " ")
	}
	return e.Message
}

// Is reports whether target is the bare error of e's code: any Conflict is
// ErrConflict, any NotFound is ErrNotFound. Two errors with messages are
// told apart as usual (by identity).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Errorf returns an *Error with code and a message for people.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// The bare errors of each code, for errors.Is and for wrapping where the
// context says enough ("store: cycle 12: not found").
var (
	ErrNotFound = &Error{Code: NotFound}
	ErrConflict = &Error{Code: Conflict}
	ErrInvalid  = &Error{Code: Invalid}
)

// ErrorCode returns the code of the first *Error in err's chain, or "" when
// err is internal (or nil).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ErrorMessage returns the message meant for people of the first *Error in
// err's chain, or "" when there is none (an internal error, or a bare one
// such as ErrNotFound).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}
