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

// Config says where and how to read a directory.
type Config struct {
	URL                  string // ldap://host:port or ldaps://host:port
	BindDN, BindPassword string // empty BindDN: anonymous (no bind at all)
	BaseDN               string
	StartTLS             bool        // upgrade an ldap:// connection with StartTLS before binding
	TLSConfig            *tls.Config // nil: system roots; ServerName derived from the URL host when empty
	DialTimeout          time.Duration
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
	d := newDecoder()
	var e Entry
	return run(ctx, cfg, filter, attrs, handler{
		decode: func(m message) error {
			e.Raw = m.raw
			return d.decode(m.body, &e)
		},
		call: func() error { return fn(&e) },
	})
}

// SearchRaw is Search without decoding the entries: fn gets each entry's Raw
// bytes only (same meaning as Entry.Raw, valid only during fn). Same errors,
// paging, limits and guarantees as Search: each entry is checked to be well
// formed before fn sees it.
func SearchRaw(ctx context.Context, cfg Config, filter string, attrs []string, fn func(raw []byte) error) error {
	d := newDecoder()
	var raw []byte
	return run(ctx, cfg, filter, attrs, handler{
		decode: func(m message) error {
			raw = m.raw
			return d.scan(m.body)
		},
		call: func() error { return fn(raw) },
	})
}

// handler is what a search does with each SearchResultEntry: decode checks
// and decodes it (a failure is the server's), call hands it to fn.
type handler struct {
	decode func(m message) error
	call   func() error
}

func run(ctx context.Context, cfg Config, filter string, attrs []string, h handler) error {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	u, err := parseURL(cfg.URL)
	if err != nil {
		return err
	}
	if cfg.StartTLS && u.Scheme == "ldaps" {
		return &Error{Op: "connect", msg: fmt.Sprintf("ldap: connect %s: StartTLS needs an ldap:// URL (ldaps:// is already TLS)", cfg.URL)}
	}
	filterPacket, err := ldapv3.CompileFilter(filter)
	if err != nil {
		return &Error{Op: "search", Err: err, msg: fmt.Sprintf("ldap: invalid search filter %q: %v", filter, err)}
	}

	s, err := dial(ctx, cfg, u)
	if err != nil {
		return err
	}
	defer s.close()

	if cfg.StartTLS {
		if err := s.startTLS(ctx, u); err != nil {
			return s.fail(ctx, "starttls", "ldap: starttls with "+cfg.URL, err)
		}
	}
	if cfg.BindDN != "" {
		if err := s.bind(); err != nil {
			return s.fail(ctx, "bind", "ldap: bind as "+cfg.BindDN, err)
		}
	}
	return s.search(ctx, filterPacket, attrs, h)
}

// session is one connection. Every wait for the server is bounded by a
// deadline on the connection (see waitReader); a watcher closes the
// connection when ctx ends, which interrupts any read or write.
type session struct {
	cfg       Config
	raw       net.Conn // the TCP connection under any TLS
	nc        net.Conn // raw, or TLS over it
	r         *msgReader
	id        int64       // the last message ID sent
	broken    bool        // an I/O or protocol error: the connection is no longer usable
	cancelled atomic.Bool // ctx ended and the watcher closed the connection
	stop      func() bool // unregisters the ctx watcher
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return nil, &Error{Op: "connect", msg: fmt.Sprintf("ldap: invalid server URL %q: want ldap://host:port or ldaps://host:port", raw)}
	}
	return u, nil
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

func (s *session) tlsConfig(u *url.URL) *tls.Config {
	var c *tls.Config
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.ServerName == "" {
		c.ServerName = u.Hostname()
	}
	return c
}

func dial(ctx context.Context, cfg Config, u *url.URL) (*session, error) {
	s := &session{cfg: cfg}
	prefix := "ldap: connect " + cfg.URL
	d := net.Dialer{Timeout: cfg.DialTimeout}
	raw, err := d.DialContext(ctx, "tcp", hostPort(u))
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
	if u.Scheme == "ldaps" {
		tc := tls.Client(raw, s.tlsConfig(u))
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
			return nil, newError("connect", prefix, fmt.Errorf("TLS handshake: %w", err), nil)
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
	e := newError(op, prefix, err, nil)
	if len(s.cfg.BindPassword) >= 4 {
		// The server's diagnostic text is not ours: never let it echo a password.
		e.msg = strings.ReplaceAll(e.msg, s.cfg.BindPassword, "[password]")
	}
	return e
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
				text += ": " + desc
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

func (s *session) startTLS(ctx context.Context, u *url.URL) error {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationExtendedRequest, nil, "Start TLS")
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "1.3.6.1.4.1.1466.20037", "TLS Extended Command"))
	if err := s.request(op, opExtendedResp); err != nil {
		return err
	}
	tc := tls.Client(s.raw, s.tlsConfig(u))
	if err := s.raw.SetDeadline(time.Now().Add(s.cfg.Timeout)); err != nil {
		return s.ioError(err)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		s.broken = true
		if isTimeout(err) {
			return err
		}
		return fmt.Errorf("TLS handshake: %w", err)
	}
	if err := s.raw.SetDeadline(time.Time{}); err != nil {
		return s.ioError(err)
	}
	s.nc = tc
	return s.r.reset(tc)
}

func (s *session) bind() error {
	if s.cfg.BindPassword == "" {
		// As go-ldap's Bind: an empty password would be an unauthenticated bind.
		return ldapv3.NewError(ldapv3.ErrorEmptyPassword, errors.New("ldap: empty password not allowed by the client"))
	}
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationBindRequest, nil, "Bind Request")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s.cfg.BindDN, "User Name"))
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, s.cfg.BindPassword, "Password"))
	return s.request(op, opBindResponse)
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

func (s *session) search(ctx context.Context, filter *ber.Packet, attrs []string, h handler) error {
	paging := ldapv3.NewControlPaging(s.cfg.PageSize)
	entries := 0
	for page := 1; ; page++ {
		if testHookPage != nil {
			testHookPage(page, entries)
		}
		cookie, sawControl, fnErr, err := s.page(ctx, s.searchRequest(filter, attrs), paging, h, &entries)
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

// searchRequest encodes a subtree search of the base DN as go-ldap would.
func (s *session) searchRequest(filter *ber.Packet, attrs []string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationSearchRequest, nil, "Search Request")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s.cfg.BaseDN, "Base DN"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ldapv3.ScopeWholeSubtree), "Scope"))
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
func (s *session) page(ctx context.Context, req *ber.Packet, paging *ldapv3.ControlPaging, h handler, entries *int) (cookie []byte, sawControl bool, fnErr, err error) {
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
			if err := h.decode(m); err != nil {
				s.broken = true
				return nil, false, nil, err
			}
			*entries++
			if err := h.call(); err != nil {
				return nil, false, err, nil
			}
		case opSearchRef, opIntermediate:
			// A continuation reference or an intermediate response: ignored.
		case opSearchDone:
			pkt, err := result(m, opSearchDone)
			if err != nil {
				return nil, false, nil, err
			}
			if len(pkt.Children) > 2 {
				var controls []ldapv3.Control
				for _, child := range pkt.Children[2].Children {
					c, err := ldapv3.DecodeControl(child)
					if err != nil {
						return nil, false, nil, fmt.Errorf("failed to decode child control: %w", err)
					}
					controls = append(controls, c)
				}
				if c, ok := ldapv3.FindControl(controls, ldapv3.ControlTypePaging).(*ldapv3.ControlPaging); ok {
					cookie, sawControl = c.Cookie, true
				}
			}
			return cookie, sawControl, nil, nil
		default:
			s.broken = true
			return nil, false, nil, protoErrorf("%s in answer to a search", opName(m.op))
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
