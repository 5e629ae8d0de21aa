// Package ldap reads the entries of an LDAP directory (OpenLDAP, Active
// Directory) as a stream, page by page, with the simple paged results control.
//
// It is an adapter: it knows LDAP and go-ldap, nothing of syncguard. Its one
// promise matters more than speed: a read that did not see the whole directory
// always ends in an error, never in a short, successful result.
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

	ldapv3 "github.com/go-ldap/ldap/v3"
)

// Defaults applied by Search to zero Config fields.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultTimeout     = 60 * time.Second
	DefaultPageSize    = 500
)

// asyncBuffer is how many search results go-ldap may read ahead of fn.
const asyncBuffer = 128

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
// attributes; name operational ones such as entryUUID explicitly). fn gets
// go-ldap's attributes as decoded, binary values intact in ByteValues; it must
// not keep the slice beyond the call if it wants go-ldap's memory released.
//
// Any failure — dial, TLS, bind, a result code other than success on any page
// (size limit, time limit, referral, busy, unavailable…), a connection lost
// between pages, a wait longer than cfg.Timeout, ctx cancelled — is returned
// as an *Error, and the caller must treat what fn saw as incomplete. An error
// returned by fn stops the search and is returned unchanged. Search result
// references (continuation references to other servers) are ignored.
//
// The returned *Error matches ErrTimeout, ErrConnectionLost, ctx.Err() or the
// underlying go-ldap *ldap.Error with errors.Is / errors.As as appropriate; its
// message never contains the bind password.
func Search(ctx context.Context, cfg Config, filter string, attrs []string, fn func(dn string, attrs []*ldapv3.EntryAttribute) error) error {
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
	if _, err := ldapv3.CompileFilter(filter); err != nil {
		return &Error{Op: "search", Err: err, msg: fmt.Sprintf("ldap: invalid search filter %q: %v", filter, err)}
	}

	s, err := dial(ctx, cfg, u)
	if err != nil {
		return err
	}
	defer s.close()

	if cfg.StartTLS {
		s.arm()
		err := s.conn.StartTLS(s.tlsConfig(u))
		s.disarm()
		if err != nil {
			return s.fail(ctx, "starttls", "ldap: starttls with "+cfg.URL, err)
		}
	}
	if cfg.BindDN != "" {
		s.arm()
		err := s.conn.Bind(cfg.BindDN, cfg.BindPassword)
		s.disarm()
		if err != nil {
			return s.fail(ctx, "bind", "ldap: bind as "+cfg.BindDN, err)
		}
	}
	return s.search(ctx, filter, attrs, fn)
}

// session is one connection and the watchdog that closes it when the server
// stalls or ctx ends: go-ldap's own request timeout is not used because, with
// a slow consumer, it silently drops responses it could not deliver in time.
type session struct {
	cfg      Config
	raw      net.Conn // the TCP connection under any TLS; closing it interrupts every read
	conn     *ldapv3.Conn
	timer    *time.Timer
	timedOut atomic.Bool
	stop     func() bool // unregisters the ctx watcher
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
	s.timer = time.AfterFunc(time.Hour, func() {
		s.timedOut.Store(true)
		raw.Close()
	})
	s.timer.Stop()
	s.stop = context.AfterFunc(ctx, func() { raw.Close() })
	s.conn = ldapv3.NewConn(nc, u.Scheme == "ldaps")
	s.conn.Start()
	return s, nil
}

// arm starts the watchdog before a wait for the server; disarm stops it.
func (s *session) arm()    { s.timer.Reset(s.cfg.Timeout) }
func (s *session) disarm() { s.timer.Stop() }

func (s *session) close() {
	s.stop()
	s.timer.Stop()
	// Closing the socket first unblocks anything go-ldap may still be doing
	// with it, so that Close cannot wait on a stalled server.
	s.raw.Close()
	s.conn.Close()
}

// fail turns err into an *Error for op, preferring the reason the connection
// was cut (ctx, watchdog) to the symptom go-ldap reports.
func (s *session) fail(ctx context.Context, op, prefix string, err error) error {
	switch {
	case ctx.Err() != nil:
		return newError(op, prefix, context.Cause(ctx), nil)
	case s.timedOut.Load():
		return newError(op, prefix, fmt.Errorf("timed out after %s waiting for the server", s.cfg.Timeout), ErrTimeout)
	}
	e := newError(op, prefix, err, nil)
	if len(s.cfg.BindPassword) >= 4 {
		// The server's diagnostic text is not ours: never let it echo a password.
		e.msg = strings.ReplaceAll(e.msg, s.cfg.BindPassword, "[password]")
	}
	return e
}

func (s *session) search(ctx context.Context, filter string, attrs []string, fn func(string, []*ldapv3.EntryAttribute) error) error {
	paging := ldapv3.NewControlPaging(s.cfg.PageSize)
	req := ldapv3.NewSearchRequest(s.cfg.BaseDN, ldapv3.ScopeWholeSubtree, ldapv3.NeverDerefAliases,
		0, 0, false, filter, attrs, []ldapv3.Control{paging})
	entries := 0
	for page := 1; ; page++ {
		if testHookPage != nil {
			testHookPage(page, entries)
		}
		cookie, sawControl, fnErr, err := s.page(ctx, req, fn, &entries)
		if fnErr != nil {
			return fnErr
		}
		prefix := fmt.Sprintf("ldap: search %s (page %d, after %d entries)", s.cfg.BaseDN, page, entries)
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

// page runs one paged request. fnErr is fn's error; err any other failure.
func (s *session) page(ctx context.Context, req *ldapv3.SearchRequest, fn func(string, []*ldapv3.EntryAttribute) error, entries *int) (cookie []byte, sawControl bool, fnErr, err error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.arm()
	r := s.conn.SearchAsync(pctx, req, asyncBuffer)
	for r.Next() {
		s.disarm()
		if e := r.Entry(); e != nil {
			*entries++
			if err := fn(e.DN, e.Attributes); err != nil {
				return nil, false, err, nil
			}
		} else if c, ok := ldapv3.FindControl(r.Controls(), ldapv3.ControlTypePaging).(*ldapv3.ControlPaging); ok {
			cookie, sawControl = c.Cookie, true
		}
		// Anything else is a continuation reference or an intermediate
		// response: ignored.
		s.arm()
	}
	s.disarm()
	if err := r.Err(); err != nil {
		var le *ldapv3.Error
		if s.conn.IsClosing() && (!errors.As(err, &le) || le.ResultCode >= ldapv3.ErrorNetwork) {
			// go-ldap reports a broken connection as a plain error
			// ("unable to read LDAP response packet: EOF").
			return nil, false, nil, newConnLost(err)
		}
		return nil, false, nil, err
	}
	if ctx.Err() != nil || s.timedOut.Load() {
		// go-ldap ends a cancelled search without an error.
		return nil, false, nil, errors.New("interrupted")
	}
	if s.conn.IsClosing() {
		// go-ldap also ends a search silently when the connection was
		// already closed (by the server, between two pages).
		return nil, false, nil, newConnLost(errors.New("the server closed the connection"))
	}
	return cookie, sawControl, nil, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
