// Package target declares what syncguard sends to a target directory — the
// real directory it provisions (an LDAP server, a SCIM 2.0 service) — and the
// one small interface every target writer implements.
//
// The exporter (package guard) owns the queue: it decides what to send, in
// which order, and records each result on the object's provisioning log
// entry. A Writer only speaks its protocol: it knows nothing of cycles,
// quarantines or the store. The adapters live beside this package
// (target/ldap, target/scim) and import it for these types only.
package target

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Object types, as the guard names them.
const (
	TypeUser  = "user"
	TypeGroup = "group"
)

// Object is one user or group as the source gave it, in the form the target
// directory copy keeps: what a Writer creates or updates.
type Object struct {
	// Anchor is the object's stable identity at the source (guid:…, uuid:…
	// or dn:…): SCIM's externalId, and how syncguard finds it again.
	Anchor string
	Type   string // TypeUser or TypeGroup
	// DN is the object's DN at the source, in the directory's own spelling.
	// An LDAP writer re-roots it under its target base DN (the part below
	// the source base DN is kept).
	DN   string
	Name string // the name a person knows it by (displayName, cn…)
	// Attributes are the synced source attributes by their source names
	// (AD and OpenLDAP spellings alike: cn, sn, givenName, mail, uid,
	// sAMAccountName, userPrincipalName, displayName…). Binary values that
	// are not UTF-8 are "base64:…". Members are not among them: see Members.
	Attributes map[string][]string
	// Enabled is false for an account disabled at the source (AD's
	// userAccountControl bit 2); SCIM writes it as "active".
	Enabled bool
	// Members of a group, resolved by the exporter: only members that are
	// synced objects themselves.
	Members []Member
}

// Member is one member of a group.
type Member struct {
	Anchor string
	DN     string // the member's source DN (an LDAP writer re-roots it)
	// Link is the member's identity in the target when it has been
	// exported (SCIM id, LDAP DN); "" when it has not (yet): a SCIM writer
	// leaves such a member out, an LDAP writer uses the re-rooted DN.
	Link string
}

// Link is how a writer finds an object it wrote again: a SCIM resource id,
// or an LDAP DN in the target. The exporter keeps it per anchor. "" means
// the object is not known to be in the target.
type Link string

// Find says whether Put looks for an object before creating it.
type Find bool

const (
	// CreateFirst creates, and looks only when the target says the object
	// exists: for an export the exporter knows was never tried before,
	// into a target that was empty (the fast path of a first cycle).
	CreateFirst Find = false
	// LookFirst looks before creating: matching on the first export into
	// a target that holds objects, and every retry.
	LookFirst Find = true
)

// Writer writes users and groups to one target directory.
//
// Every method is safe for concurrent use; the exporter calls up to
// Concurrency() of them at once, always sending users before the groups
// that name them, and OUs are the LDAP writer's own business (it creates a
// missing parent on the way).
//
// Errors are *Error values (use Classify on anything else): Transient ones
// are retried with backoff, permanent ones are recorded as Failures in the
// target's own words.
type Writer interface {
	// Put makes the target hold obj and returns its link.
	//   - link == "": the first export of obj. With LookFirst the writer
	//     first looks for it (SCIM: externalId, then userName; LDAP: the
	//     mapped DN, then the mapped RDN under the target base) and updates
	//     what it finds: that is matching, and how a create that may have
	//     reached the target before a crash is not made twice. With
	//     CreateFirst it creates at once, and only when the target answers
	//     that the object exists (SCIM 409, LDAP entryAlreadyExists) looks
	//     it up as LookFirst would and updates it.
	//   - link != "": an update. An LDAP object whose mapped DN differs from
	//     link is moved with one ModifyDN, never deleted and re-added. An
	//     object gone from the target (LDAP noSuchObject, SCIM 404) is
	//     created again (as with link == "" and LookFirst).
	//   - a held (disabled) object is put back as obj says: this is also
	//     how Restore works.
	Put(ctx context.Context, obj *Object, link Link, find Find) (Link, error)
	// Delete removes the object at link. An object already gone is no
	// error. obj carries what was last known of it (type, DN, name).
	Delete(ctx context.Context, obj *Object, link Link) error
	// Disable holds an object instead of deleting it (SPEC section 10):
	// SCIM users become active=false and SCIM groups lose their members;
	// LDAP objects move under ou=syncguard-held,<target base> (created when
	// needed). It returns the object's link while held.
	Disable(ctx context.Context, obj *Object, link Link) (Link, error)
	// Empty reports whether the target holds no user or group that Put
	// could match (LDAP: no inetOrgPerson or groupOfNames below the target
	// base; SCIM: no user and no group). The exporter asks once, before the
	// first export into a target: an empty one takes CreateFirst, a
	// populated one is matched object by object (LookFirst).
	Empty(ctx context.Context) (bool, error)
	// Test connects, authenticates and reads one page; it returns a short
	// description of what it found (for `target test` and the portal's
	// Test connection), or an *Error saying why not in an admin's words.
	Test(ctx context.Context) (string, error)
	// Concurrency is how many calls the exporter may make at once.
	Concurrency() int
	// Close releases connections.
	Close() error
}

// Error is a target's answer that the exporter must act on.
type Error struct {
	// Transient errors (connection refused or reset, timeouts, LDAP
	// busy/unavailable, SCIM 429 and 5xx) are retried with backoff;
	// the others are permanent Failures, retried once per later cycle.
	Transient bool
	// RetryAfter is how long the target asked to wait (SCIM Retry-After);
	// 0 when it did not say.
	RetryAfter time.Duration
	// Message is the target's own words, prefixed by the protocol, for the
	// provisioning log: "SCIM 409 uniqueness: userName taken", "LDAP 65
	// object class violation: …". Never a password or a token.
	Message string
	Err     error // the underlying error, if any
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Permanent returns a permanent *Error with a formatted message.
func Permanent(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// Transient returns a transient *Error with a formatted message.
func Transient(format string, args ...any) *Error {
	return &Error{Transient: true, Message: fmt.Sprintf(format, args...)}
}

// Classify returns err as an *Error: an *Error found in its chain as it is,
// a context deadline as transient, anything else as permanent with its text.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Transient: true, Message: "timed out: " + err.Error(), Err: err}
	}
	return &Error{Message: err.Error(), Err: err}
}
