package ldap

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/target"
)

// Defaults for zero Config fields.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultConcurrency = 8
	maxConcurrency     = 64
)

// Config says where the target directory is and how to write to it.
type Config struct {
	URL          string // ldap://host[:port] or ldaps://host[:port]
	BindDN       string // empty: anonymous (no bind)
	BindPassword string
	StartTLS     bool        // upgrade ldap:// with StartTLS before binding
	TLSConfig    *tls.Config // nil: the system roots; ServerName defaults to the URL's host
	// SourceBaseDN is the source's base DN: the part of an object's DN
	// below it is kept below TargetBaseDN.
	SourceBaseDN string
	TargetBaseDN string
	// Timeout bounds each call: connecting, the TLS handshake and the
	// bind when it needs a new connection, and its requests. Default 30s.
	Timeout time.Duration
	// Concurrency is how many calls may run at once, each on a connection
	// of its own. Default 8 (see the package doc for the measurements).
	Concurrency int
}

// Writer writes users and groups to an LDAP directory. It is safe for
// concurrent use.
type Writer struct {
	cfg        Config
	addr       string // host:port
	ldaps      bool
	tls        *tls.Config
	sourceBase dn
	targetBase dn
	// The base DNs as written in DNs (see dn.String).
	sourceBaseStr, targetBaseStr string
	held                         dn // ou=syncguard-held,<target base>
	pool                         *pool
	parents                      parents
}

var _ target.Writer = (*Writer)(nil)

// New checks cfg and returns a Writer; it does not connect (Test does).
// It fails on a URL that is not ldap:// or ldaps://, StartTLS with
// ldaps://, a bind password that would cross the network in clear (ldap://
// without StartTLS to a host that is not loopback), a password without a
// bind DN, or a base DN that is missing or does not parse.
func New(cfg Config) (*Writer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Hostname() == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("ldap target: invalid URL %q: want ldap://host[:port] or ldaps://host[:port]", cfg.URL)
	}
	w := &Writer{cfg: cfg, ldaps: u.Scheme == "ldaps"}
	switch {
	case cfg.StartTLS && w.ldaps:
		return nil, fmt.Errorf("ldap target %s: StartTLS needs an ldap:// URL (ldaps:// is TLS already)", cfg.URL)
	case cfg.BindPassword != "" && cfg.BindDN == "":
		return nil, fmt.Errorf("ldap target %s: a bind password needs a bind DN", cfg.URL)
	case cfg.BindDN != "" && cfg.BindPassword == "":
		return nil, fmt.Errorf("ldap target %s: bind DN %s has no password", cfg.URL, cfg.BindDN)
	case cfg.BindPassword != "" && !w.ldaps && !cfg.StartTLS && !loopback(u.Hostname()):
		return nil, fmt.Errorf("ldap target %s: refusing to send the bind password in clear to %s: use ldaps:// or StartTLS "+
			"(plain ldap:// is allowed only to a loopback address)", cfg.URL, u.Hostname())
	}
	if w.sourceBase, err = baseDN("source", cfg.SourceBaseDN); err != nil {
		return nil, err
	}
	if w.targetBase, err = baseDN("target", cfg.TargetBaseDN); err != nil {
		return nil, err
	}
	w.sourceBaseStr, w.targetBaseStr = w.sourceBase.String(), w.targetBase.String()
	w.held = join(dn{rdn("ou", heldOU)}, w.targetBase)
	port := u.Port()
	if port == "" {
		port = map[bool]string{false: "389", true: "636"}[w.ldaps]
	}
	w.addr = net.JoinHostPort(u.Hostname(), port)
	if cfg.TLSConfig != nil {
		w.tls = cfg.TLSConfig.Clone()
	} else {
		w.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if w.tls.ServerName == "" {
		w.tls.ServerName = u.Hostname()
	}
	if w.cfg.Timeout <= 0 {
		w.cfg.Timeout = DefaultTimeout
	}
	if w.cfg.Concurrency <= 0 {
		w.cfg.Concurrency = DefaultConcurrency
	}
	w.cfg.Concurrency = min(w.cfg.Concurrency, maxConcurrency)
	w.pool = newPool(w.cfg.Concurrency, w.dial)
	return w, nil
}

func baseDN(which, s string) (dn, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("ldap target: the %s base DN is missing", which)
	}
	d, err := parseDN(s)
	if err != nil {
		return nil, fmt.Errorf("ldap target: %s base DN: %v", which, err)
	}
	return d, nil
}

// loopback reports whether host is a loopback address or "localhost"
// (names are not resolved: a DNS answer could point anywhere).
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func rdn(typ, value string) *ldapv3.RelativeDN {
	return &ldapv3.RelativeDN{Attributes: []*ldapv3.AttributeTypeAndValue{{Type: typ, Value: value}}}
}

// Concurrency is how many calls the exporter may make at once.
func (w *Writer) Concurrency() int { return w.cfg.Concurrency }

// Close closes the idle connections and makes later calls fail; calls in
// flight finish and their connections are closed.
func (w *Writer) Close() error {
	w.pool.close()
	return nil
}

// Test connects and binds on a new connection, and reads the target base
// entry: "LDAP ok: bound as cn=admin,dc=cloud,dc=example over StartTLS;
// dc=cloud,dc=example exists". Its *target.Error says what failed (refused,
// TLS, wrong password, base DN missing) in an admin's words.
func (w *Writer) Test(ctx context.Context) (string, error) {
	ctx, cancel := w.bounded(ctx)
	defer cancel()
	c, err := w.dial(ctx)
	if err != nil {
		return "", w.fail(ctx, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	defer stop()
	base := w.targetBase.String()
	req := ldapv3.NewSearchRequest(base, ldapv3.ScopeBaseObject, ldapv3.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil)
	if _, err := c.Search(req); err != nil {
		te := w.fail(ctx, err)
		if isCode(err, ldapv3.LDAPResultNoSuchObject) {
			te.Message = "LDAP 32 no such object: the target base DN " + base + " does not exist"
		}
		return "", te
	}
	who := "connected anonymously"
	if w.cfg.BindDN != "" {
		who = "bound as " + w.cfg.BindDN
	}
	switch {
	case w.cfg.StartTLS:
		who += " over StartTLS"
	case w.ldaps:
		who += " over TLS"
	}
	return fmt.Sprintf("LDAP ok: %s; %s exists", who, base), nil
}

// Empty reports whether no inetOrgPerson and no groupOfNames lives below
// the target base (a base that does not exist yet is empty).
func (w *Writer) Empty(ctx context.Context) (bool, error) {
	empty := false
	err := w.with(ctx, func(c *conn) error {
		req := ldapv3.NewSearchRequest(w.targetBaseStr, ldapv3.ScopeWholeSubtree, ldapv3.NeverDerefAliases, 1, 0, false,
			"(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))", []string{"1.1"}, nil)
		res, err := c.Search(req)
		switch {
		case isCode(err, ldapv3.LDAPResultNoSuchObject):
			empty = true
		case isCode(err, ldapv3.LDAPResultSizeLimitExceeded):
		case err != nil:
			return err
		default:
			empty = len(res.Entries) == 0
		}
		return nil
	})
	return empty, err
}

// Put makes the target hold obj and returns its DN there (see
// target.Writer for link and find). Its errors are *target.Error values.
func (w *Writer) Put(ctx context.Context, obj *target.Object, link target.Link, find target.Find) (target.Link, error) {
	e, err := w.entry(obj)
	if err != nil {
		return "", target.Permanent("LDAP: %v", err)
	}
	err = w.with(ctx, func(c *conn) error {
		s := &session{w: w, c: c, ctx: ctx}
		switch {
		case link != "":
			return s.update(e, string(link))
		case find == target.LookFirst:
			return s.match(e)
		default:
			return s.create(e)
		}
	})
	if err != nil {
		return "", err
	}
	return target.Link(e.dnStr), nil
}

// Delete removes the entry at link; an entry already gone is no error, and
// so is an empty link (nothing syncguard knows it wrote). A held entry's
// own container goes with it. The OUs on the way are never deleted.
func (w *Writer) Delete(ctx context.Context, obj *target.Object, link target.Link) error {
	if link == "" {
		return nil
	}
	return w.with(ctx, func(c *conn) error {
		s := &session{w: w, c: c, ctx: ctx}
		err := c.Del(ldapv3.NewDelRequest(string(link), nil))
		if err != nil && !isCode(err, ldapv3.LDAPResultNoSuchObject) {
			return err
		}
		if d, err := parseDN(string(link)); err == nil {
			s.dropHolder(d)
		}
		return nil
	})
}

// Disable moves the object under ou=syncguard-held,<target base> as it is
// (see the package doc for where) and returns its DN there. An object
// already held stays where it is; an object that is gone returns "".
func (w *Writer) Disable(ctx context.Context, obj *target.Object, link target.Link) (target.Link, error) {
	if obj == nil {
		return "", target.Permanent("LDAP: disable: no object")
	}
	var held string
	err := w.with(ctx, func(c *conn) error {
		s := &session{w: w, c: c, ctx: ctx}
		var err error
		held, err = s.hold(obj, string(link))
		return err
	})
	return target.Link(held), err
}

// parents remembers the containers known to exist in the target, so that
// each is created (or found) once; calls that need one at the same time
// wait for the first.
type parents struct {
	mu    sync.Mutex
	known map[string]*parentState
}

type parentState struct {
	done chan struct{}
	err  error
}
