// Package ldap reads the entries of an LDAP directory (OpenLDAP, Active
// Directory) as a stream, page by page, with the simple paged results control.
//
// It is an adapter: it knows LDAP, nothing of syncguard. It speaks the
// protocol on the connection itself: requests and the few small responses
// (bind, StartTLS, the end of each page) go through go-ldap and asn1-ber,
// while search result entries, the bulk of a read, are decoded in place
// without building a packet tree (see Entry). Its one promise matters more
// than speed: a read that did not see the whole directory always ends in an
// error, never in a short, successful result.
//
// For Active Directory it reads the values AD sends in ranges
// (member;range=0-1499) to their end on a second connection, binds simply
// or with NTLM, says what AD's bind failures (data 52e, 533, 775…) mean,
// and trusts a certificate without subjectAltName (Samba's own) when it is
// pinned. It never binds in clear over the network (see Validate).
package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"
)

// Defaults applied by Search to zero Config fields.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultTimeout     = 60 * time.Second
	DefaultPageSize    = 500
)

// Bind methods.
const (
	BindSimple = "simple" // a simple bind: the bind DN and password (the default)
	BindNTLM   = "ntlm"   // NTLM inside SASL GSS-SPNEGO: BindDN is DOMAIN\user or user@domain
)

// Config says where and how to read a directory.
type Config struct {
	URL                  string // ldap://host:port or ldaps://host:port
	BindDN, BindPassword string // empty BindDN: anonymous (no bind at all)
	// BindMethod is BindSimple (or empty) or BindNTLM.
	BindMethod string
	BaseDN     string
	StartTLS   bool        // upgrade an ldap:// connection with StartTLS before binding
	TLSConfig  *tls.Config // nil: system roots; ServerName derived from the URL host when empty
	// TLSPin, when set ("sha256:<hex>", see ParsePin), trusts the server
	// whose leaf certificate has that SHA-256 fingerprint, whatever its
	// names or chain, and no other.
	TLSPin      string
	DialTimeout time.Duration
	// Timeout bounds each wait for the server: the answer to StartTLS, to the
	// bind, and the next message of a search page. Time spent in fn does not
	// count. Default 60s.
	Timeout  time.Duration
	PageSize uint32 // default 500
}

// testHookPage, when set by a test, is called before each page is requested
// with the page number and the number of entries already handed to fn.
var testHookPage func(page, entries int)

// Search streams every entry under cfg.BaseDN (subtree) matching filter, page
// by page with the simple paged results control (RFC 2696), calling fn for
// each entry as it arrives. attrs lists the attributes to return (nil: all user
// attributes; name operational ones such as entryUUID explicitly).
//
// fn gets the entry decoded, binary values intact as raw bytes in a string,
// and the entry's bytes as the server sent them in Entry.Raw (to fingerprint
// it). The *Entry and its slices are reused for the next entry: fn must copy
// the slices it keeps (not the strings, which are never reused), and Raw is
// valid only during the call. The DN and values of an entry are substrings of
// a few shared strings of at most 256 bytes (a longer value has its own): a
// kept value holds at most that much of the entry in memory, never all of it.
//
// An attribute the server returns in ranges — Active Directory sends at most
// 1,500 values of a multi-valued attribute per entry, as member;range=0-1499,
// and the client asks for the next range — is read to its end before fn
// sees the entry, on a second connection opened (and bound) the first time
// it is needed, while the search goes on: fn gets every value under the plain
// attribute name (member), and Raw is the entry's bytes followed by those of
// each further range as the server sent them. A further range that cannot be
// read fails the search like any other failure.
//
// Any failure — dial, TLS, bind, a result code other than success on any page
// (size limit, time limit, referral, busy, unavailable…), a connection lost
// between pages, a wait longer than cfg.Timeout, a malformed message, ctx
// cancelled — is returned as an *Error, and the caller must treat what fn saw
// as incomplete. An error returned by fn stops the search and is returned
// unchanged. Search result references (continuation references to other
// servers) and intermediate responses are ignored.
//
// The returned *Error matches ErrTimeout, ErrConnectionLost, ctx.Err() or the
// underlying go-ldap *ldap.Error with errors.Is / errors.As as appropriate; its
// message never contains the bind password.
func Search(ctx context.Context, cfg Config, filter string, attrs []string, fn func(*Entry) error) error {
	return SearchScope(ctx, cfg, ScopeSubtree, filter, attrs, fn)
}

// Scope is how far below cfg.BaseDN a search looks.
type Scope int

// Search scopes.
const (
	ScopeSubtree  Scope = iota // the base entry and everything below it
	ScopeOneLevel              // the base entry's children only
	ScopeBase                  // the base entry alone (with an empty base DN: the root DSE)
)

// wire is the scope as LDAP encodes it.
func (sc Scope) wire() int {
	switch sc {
	case ScopeOneLevel:
		return ldapv3.ScopeSingleLevel
	case ScopeBase:
		return ldapv3.ScopeBaseObject
	}
	return ldapv3.ScopeWholeSubtree
}

// SearchScope is Search over another scope: the base entry alone (to check
// that it exists, or read the root DSE), or its children (one level of a
// tree, paged like any search: a level of 10,000 OUs is read in pages).
// Same entries, paging, errors and guarantees as Search.
func SearchScope(ctx context.Context, cfg Config, scope Scope, filter string, attrs []string, fn func(*Entry) error) error {
	return run(ctx, cfg, filter, attrs, &handler{d: newDecoder(), e: &Entry{}, fn: fn, scope: scope.wire()})
}

// SearchRaw is Search without decoding the entries: fn gets each entry's Raw
// bytes only (same meaning as Entry.Raw, valid only during fn). Same errors,
// paging, ranges, limits and guarantees as Search: each entry is checked to
// be well formed before fn sees it.
func SearchRaw(ctx context.Context, cfg Config, filter string, attrs []string, fn func(raw []byte) error) error {
	return run(ctx, cfg, filter, attrs, &handler{d: newDecoder(), fnRaw: fn, scope: ldapv3.ScopeWholeSubtree})
}

// withDefaults fills the zero fields of cfg.
func withDefaults(cfg Config) Config {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	return cfg
}

func run(ctx context.Context, cfg Config, filter string, attrs []string, h *handler) error {
	cfg = withDefaults(cfg)
	t, err := check(cfg)
	if err != nil {
		return err
	}
	filterPacket, err := ldapv3.CompileFilter(filter)
	if err != nil {
		return &Error{Op: "search", Err: err, msg: fmt.Sprintf("ldap: invalid search filter %q: %v", filter, err)}
	}
	s, err := open(ctx, cfg, t)
	if err != nil {
		return err
	}
	defer s.close()
	return s.search(ctx, filterPacket, attrs, h)
}

// open connects as cfg says: dial, StartTLS, bind.
func open(ctx context.Context, cfg Config, t target) (*session, error) {
	s, err := dial(ctx, cfg, t)
	if err != nil {
		return nil, err
	}
	if cfg.StartTLS {
		if err := s.startTLS(ctx); err != nil {
			err = s.fail(ctx, "starttls", "ldap: starttls with "+cfg.URL, err)
			s.close()
			return nil, err
		}
	}
	if cfg.BindDN != "" {
		bind := s.bind
		if cfg.BindMethod == BindNTLM {
			bind = s.bindNTLM
		}
		if err := bind(); err != nil {
			err = s.fail(ctx, "bind", "ldap: bind as "+cfg.BindDN, err)
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// session is one connection. Every wait for the server is bounded by a
// deadline on the connection (see waitReader); a watcher closes the
// connection when ctx ends, which interrupts any read or write.
type session struct {
	cfg       Config
	t         target
	raw       net.Conn // the TCP connection under any TLS
	nc        net.Conn // raw, or TLS over it
	r         *msgReader
	id        int64       // the last message ID sent
	broken    bool        // an I/O or protocol error: the connection is no longer usable
	cancelled atomic.Bool // ctx ended and the watcher closed the connection
	stop      func() bool // unregisters the ctx watcher
	ranges    *session    // the second connection that reads further ranges of values; nil until needed
	d         *decoder    // decodes the entries read on ranges
	e         Entry
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "ldaps" {
		return net.JoinHostPort(u.Hostname(), "636")
	}
	return net.JoinHostPort(u.Hostname(), "389")
}

func dial(ctx context.Context, cfg Config, t target) (*session, error) {
	s := &session{cfg: cfg, t: t}
	prefix := "ldap: connect " + cfg.URL
	d := net.Dialer{Timeout: cfg.DialTimeout}
	raw, err := d.DialContext(ctx, "tcp", hostPort(t.u))
	if err != nil {
		if ctx.Err() != nil {
			return nil, newError("connect", prefix, context.Cause(ctx), nil)
		}
		if isTimeout(err) {
			return nil, newError("connect", prefix, fmt.Errorf("timed out after %s: %w", cfg.DialTimeout, err), ErrTimeout)
		}
		return nil, newError("connect", prefix, err, nil)
	}
	s.raw = raw
	var nc net.Conn = raw
	if t.u.Scheme == "ldaps" {
		tc := tls.Client(raw, s.tlsConfig())
		hctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
		err := tc.HandshakeContext(hctx)
		timedOut := hctx.Err() != nil
		cancel()
		if err != nil {
			raw.Close()
			switch {
			case ctx.Err() != nil:
				return nil, newError("connect", prefix, context.Cause(ctx), nil)
			case timedOut:
				return nil, newError("connect", prefix, fmt.Errorf("TLS handshake timed out after %s", cfg.DialTimeout), ErrTimeout)
			}
			return nil, newError("connect", prefix, handshakeError(err), nil)
		}
		nc = tc
	}
	s.nc = nc
	s.r = newMsgReader(nc, cfg.Timeout)
	s.stop = context.AfterFunc(ctx, func() {
		s.cancelled.Store(true)
		raw.Close()
	})
	return s, nil
}

// close says goodbye to a server that is still in step (an unbind, best
// effort) and closes the connection.
func (s *session) close() {
	if s.ranges != nil {
		s.ranges.close()
	}
	s.stop()
	if !s.broken && !s.cancelled.Load() {
		unbind := ber.Encode(ber.ClassApplication, ber.TypePrimitive, ldapv3.ApplicationUnbindRequest, nil, "Unbind Request")
		s.nc.SetWriteDeadline(time.Now().Add(min(s.cfg.Timeout, time.Second)))
		s.nc.Write(s.envelope(unbind, nil))
	}
	s.raw.Close()
}

// fail turns err into an *Error for op, preferring the reason the connection
// was cut (ctx, a deadline) to the symptom the read or write reports.
func (s *session) fail(ctx context.Context, op, prefix string, err error) error {
	switch {
	case ctx.Err() != nil:
		return newError(op, prefix, context.Cause(ctx), nil)
	case isTimeout(err):
		return newError(op, prefix, fmt.Errorf("timed out after %s waiting for the server", s.cfg.Timeout), ErrTimeout)
	}
	var le *ldapv3.Error
	if errors.As(err, &le) && le.Err != nil {
		if text := s.scrub(le.Err.Error()); text != le.Err.Error() {
			le.Err = errors.New(text)
		}
	}
	return newError(op, prefix, err, nil)
}

// scrub removes the bind password from a text the server wrote: the
// server's diagnostic text is not ours, never let it echo a password.
func (s *session) scrub(text string) string {
	if len(s.cfg.BindPassword) < 4 {
		return text
	}
	return strings.ReplaceAll(text, s.cfg.BindPassword, "[password]")
}

// envelope encodes an LDAPMessage with the next message ID around op.
func (s *session) envelope(op, controls *ber.Packet) []byte {
	s.id++
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, s.id, "MessageID"))
	env.AppendChild(op)
	if controls != nil {
		env.AppendChild(controls)
	}
	return env.Bytes()
}

// send writes a request and returns its message ID.
func (s *session) send(op, controls *ber.Packet) (int64, error) {
	msg := s.envelope(op, controls)
	if err := s.nc.SetWriteDeadline(time.Now().Add(s.cfg.Timeout)); err != nil {
		return 0, s.ioError(err)
	}
	if _, err := s.nc.Write(msg); err != nil {
		return 0, s.ioError(err)
	}
	return s.id, nil
}

// read returns the next message, which must answer request id.
func (s *session) read(id int64) (message, error) {
	m, err := s.r.next()
	if err != nil {
		if _, ok := err.(*protocolError); ok {
			s.broken = true
			return m, err
		}
		return m, s.ioError(err)
	}
	if m.id == 0 && m.op == opExtendedResp {
		// An unsolicited notification: the notice of disconnection
		// (RFC 4511 4.4.1), the server's last word before closing.
		s.broken = true
		text := "the server ended the session"
		if pkt, err := ber.DecodePacketErr(m.all); err == nil {
			var le *ldapv3.Error
			if errors.As(ldapv3.GetLDAPError(pkt), &le) && le.ResultCode < ldapv3.ErrorNetwork {
				desc, _, _ := describe(le)
				text += ": " + s.scrub(desc)
			}
		}
		return m, newConnLost(errors.New(text))
	}
	if m.id != id {
		s.broken = true
		return m, protoErrorf("a response to message %d while waiting for message %d", m.id, id)
	}
	return m, nil
}

// ioError records that the connection failed and says how: a timeout is
// returned as is (fail reports it), anything else is a lost connection.
func (s *session) ioError(err error) error {
	s.broken = true
	if isTimeout(err) {
		return err
	}
	return newConnLost(err)
}

// result decodes a response holding an LDAPResult (a bind, extended or
// search done response) with asn1-ber and returns it with go-ldap's error
// for its result code (nil: success).
func result(m message, want byte) (*ber.Packet, error) {
	if m.op != want {
		return nil, protoErrorf("%s where %s was expected", opName(m.op), opName(want))
	}
	pkt, err := ber.DecodePacketErr(m.all)
	if err != nil {
		return nil, protoErrorf("malformed %s: %v", opName(m.op), err)
	}
	err = ldapv3.GetLDAPError(pkt)
	var le *ldapv3.Error
	if errors.As(err, &le) && le.ResultCode == ldapv3.ErrorNetwork {
		// go-ldap's verdict on a malformed LDAPResult.
		return nil, protoErrorf("malformed %s: %v", opName(m.op), le.Err)
	}
	return pkt, err
}

func opName(op byte) string {
	if name, ok := ldapv3.ApplicationMap[op&0x1f]; ok && op&0xc0 == 0x40 {
		return name
	}
	return fmt.Sprintf("protocolOp %#02x", op)
}

func (s *session) startTLS(ctx context.Context) error {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationExtendedRequest, nil, "Start TLS")
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "1.3.6.1.4.1.1466.20037", "TLS Extended Command"))
	if err := s.request(op, opExtendedResp); err != nil {
		return err
	}
	tc := tls.Client(s.raw, s.tlsConfig())
	if err := s.raw.SetDeadline(time.Now().Add(s.cfg.Timeout)); err != nil {
		return s.ioError(err)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		s.broken = true
		if isTimeout(err) {
			return err
		}
		return handshakeError(err)
	}
	if err := s.raw.SetDeadline(time.Time{}); err != nil {
		return s.ioError(err)
	}
	s.nc = tc
	return s.r.reset(tc)
}

// request sends op and reads the server's answer, which must be the
// response op want; it returns the error of its result.
func (s *session) request(op *ber.Packet, want byte) error {
	id, err := s.send(op, nil)
	if err != nil {
		return err
	}
	m, err := s.read(id)
	if err != nil {
		return err
	}
	_, err = result(m, want)
	return err
}

func (s *session) search(ctx context.Context, filter *ber.Packet, attrs []string, h *handler) error {
	paging := ldapv3.NewControlPaging(s.cfg.PageSize)
	entries := 0
	for page := 1; ; page++ {
		if testHookPage != nil {
			testHookPage(page, entries)
		}
		req := searchRequest(s.cfg.BaseDN, h.scope, filter, attrs)
		cookie, sawControl, fnErr, err := s.page(ctx, req, paging, h, &entries)
		if fnErr != nil {
			return fnErr
		}
		prefix := fmt.Sprintf("ldap: search %s (page %d, after %d entries)", s.cfg.BaseDN, page, entries)
		if err == nil && ctx.Err() != nil {
			// Cancelled while the end of the page was already buffered.
			err = context.Cause(ctx)
		}
		if err != nil {
			return s.fail(ctx, "search", prefix, err)
		}
		if !sawControl {
			if page == 1 {
				// A server without paging support answers the whole search at
				// once; any limit it hit would have been an error above.
				return nil
			}
			return newError("search", prefix, errors.New("the server stopped returning the paged results control"), nil)
		}
		if len(cookie) == 0 {
			return nil
		}
		paging.SetCookie(cookie)
	}
}

// searchRequest encodes a search of base as go-ldap would.
func searchRequest(base string, scope int, filter *ber.Packet, attrs []string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationSearchRequest, nil, "Search Request")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, base, "Base DN"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(scope), "Scope"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ldapv3.NeverDerefAliases), "Deref Aliases"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(0), "Size Limit"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(0), "Time Limit"))
	op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, "Types Only"))
	op.AppendChild(filter)
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range attrs {
		list.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "Attribute"))
	}
	op.AppendChild(list)
	return op
}

// page runs one paged request. fnErr is fn's error; err any other failure.
func (s *session) page(ctx context.Context, req *ber.Packet, paging *ldapv3.ControlPaging, h *handler, entries *int) (cookie []byte, sawControl bool, fnErr, err error) {
	controls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
	controls.AppendChild(paging.Encode())
	id, err := s.send(req, controls)
	if err != nil {
		return nil, false, nil, err
	}
	for {
		m, err := s.read(id)
		if err != nil {
			return nil, false, nil, err
		}
		switch m.op {
		case opSearchEntry:
			if s.cancelled.Load() {
				return nil, false, nil, context.Cause(ctx)
			}
			if err := h.read(ctx, s, m); err != nil {
				return nil, false, nil, err
			}
			*entries++
			if err := h.call(); err != nil {
				return nil, false, err, nil
			}
		case opSearchRef, opIntermediate:
			// A continuation reference or an intermediate response: ignored.
		case opSearchDone:
			cookie, sawControl, err := pagingCookie(m)
			return cookie, sawControl, nil, err
		default:
			s.broken = true
			return nil, false, nil, protoErrorf("%s in answer to a search", opName(m.op))
		}
	}
}

// pagingCookie reads the result of a SearchResultDone and its paged
// results control, if any.
func pagingCookie(m message) (cookie []byte, sawControl bool, err error) {
	pkt, err := result(m, opSearchDone)
	if err != nil {
		return nil, false, err
	}
	if len(pkt.Children) > 2 {
		var controls []ldapv3.Control
		for _, child := range pkt.Children[2].Children {
			c, err := ldapv3.DecodeControl(child)
			if err != nil {
				return nil, false, fmt.Errorf("failed to decode child control: %w", err)
			}
			controls = append(controls, c)
		}
		if c, ok := ldapv3.FindControl(controls, ldapv3.ControlTypePaging).(*ldapv3.ControlPaging); ok {
			cookie, sawControl = c.Cookie, true
		}
	}
	return cookie, sawControl, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
