// Package slapdtest runs a private OpenLDAP slapd for tests and benchmarks:
// its own configuration, data and loopback ports in a temporary directory,
// never the system instance.
package slapdtest

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/internal/daemon"
)

// Options describe the directory to start. The zero value is a usable empty
// directory under dc=corp,dc=example.
type Options struct {
	Suffix string // default "dc=corp,dc=example"
	RootDN string // default "cn=admin," + Suffix
	RootPW string // default "secret"
	// LDIF is loaded with `slapadd -q` before start and must include the
	// suffix entry; nil: only the suffix entry is created.
	LDIF     []byte
	LDIFPath string // alternative to LDIF for big files
	// SizeLimit is the server size limit (soft = hard); 0 → 500. Paged
	// searches are not bound by it in total (size.prtotal=unlimited) unless
	// PagedTotalLimit is set. The root DN is never subject to limits: test
	// limits with anonymous or user binds.
	SizeLimit int
	// PagedTotalLimit, when > 0, sets size.prtotal: a paged search fails with
	// sizeLimitExceeded after that many entries.
	PagedTotalLimit int
	// TLS generates a self-signed CA and server certificate (for 127.0.0.1 and
	// localhost) and also listens on ldaps://; StartTLS works on ldap://.
	TLS bool
	// LegacyCert, with TLS, makes the server certificate one like Samba's
	// own: "localhost" in its Common Name only, without subjectAltName,
	// and a negative serial number.
	LegacyCert bool
	// Access holds slapd.conf access directives for the database, e.g.
	// `access to dn.subtree="ou=Sales,dc=corp,dc=example" by dn.exact="cn=reader,dc=corp,dc=example" none by * read`;
	// empty: everyone reads everything (slapd's default). The root DN is
	// never subject to them. SetAccess changes them.
	Access string
}

// Server is a running (or stopped) private slapd.
type Server struct {
	URL      string // ldap://127.0.0.1:PORT
	LDAPSURL string // ldaps://127.0.0.1:PORT2, only with Options.TLS
	Suffix   string
	RootDN   string
	RootPW   string
	CAPool   *x509.CertPool    // roots for the server certificate; nil unless TLS
	Cert     *x509.Certificate // the server certificate; nil unless TLS
	Dir      string

	conf    string
	opts    Options
	tlsConf string
	tb      testing.TB

	mu   sync.Mutex
	proc *daemon.Process // nil when stopped
}

// Binaries, schemas and modules, Debian first.
var (
	schemaDirs = []string{"/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema"}
	moduleDirs = []string{"/usr/lib/ldap", "/usr/lib/openldap", "/usr/lib64/openldap", "/usr/libexec/openldap"}
	sbinDirs   = []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec"}
)

const installHint = "install with apt-get install slapd ldap-utils"

// Require skips the test when slapd, slapadd or the OpenLDAP schemas are
// missing, or fails it when the environment variable CI is "true".
func Require(tb testing.TB) {
	tb.Helper()
	daemon.Require(tb, check(), installHint)
}

func check() error {
	if _, err := lookPath("slapd"); err != nil {
		return errors.New("slapd not found")
	}
	if _, err := lookPath("slapadd"); err != nil {
		return errors.New("slapadd not found")
	}
	if schemaDir() == "" {
		return errors.New("slapd schemas (core.schema) not found")
	}
	return nil
}

func lookPath(name string) (string, error) { return daemon.LookPath(name, sbinDirs...) }

func schemaDir() string {
	for _, d := range schemaDirs {
		if _, err := os.Stat(filepath.Join(d, "core.schema")); err == nil {
			return d
		}
	}
	return ""
}

// moduleDir returns the directory holding back_mdb, or "" when it is built in.
func moduleDir() string {
	for _, d := range moduleDirs {
		if m, _ := filepath.Glob(filepath.Join(d, "back_mdb*")); len(m) > 0 {
			return d
		}
	}
	return ""
}

// Start writes a slapd.conf (core, cosine, inetorgperson and nis schemas,
// back_mdb, its own directory and pidfile), loads the data with slapadd,
// starts slapd in the foreground on free loopback ports, waits until it
// answers and registers the cleanup (SIGTERM, wait, remove the directory).
// It fails the test on any error; call Require first.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	Require(tb)
	if opts.Suffix == "" {
		opts.Suffix = "dc=corp,dc=example"
	}
	if opts.RootDN == "" {
		opts.RootDN = "cn=admin," + opts.Suffix
	}
	if opts.RootPW == "" {
		opts.RootPW = "secret"
	}
	if opts.SizeLimit <= 0 {
		opts.SizeLimit = 500
	}
	s := &Server{Suffix: opts.Suffix, RootDN: opts.RootDN, RootPW: opts.RootPW, Dir: tb.TempDir(), tb: tb}
	tb.Cleanup(s.Stop) // registered after TempDir's cleanup, so it runs before the removal

	if err := os.Mkdir(filepath.Join(s.Dir, "data"), 0o700); err != nil {
		tb.Fatalf("slapdtest: %v", err)
	}
	var tlsConf string
	if opts.TLS {
		pool, cert, err := writeCerts(s.Dir, opts.LegacyCert)
		if err != nil {
			tb.Fatalf("slapdtest: certificates: %v", err)
		}
		s.CAPool, s.Cert = pool, cert
		tlsConf = fmt.Sprintf("TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n",
			filepath.Join(s.Dir, "ca.pem"), filepath.Join(s.Dir, "server.pem"), filepath.Join(s.Dir, "server.key"))
	}
	s.conf, s.opts, s.tlsConf = filepath.Join(s.Dir, "slapd.conf"), opts, tlsConf
	if err := os.WriteFile(s.conf, []byte(s.config(opts, tlsConf)), 0o600); err != nil {
		tb.Fatalf("slapdtest: %v", err)
	}

	ldifPath := opts.LDIFPath
	if ldifPath == "" {
		data := opts.LDIF
		if data == nil {
			var err error
			if data, err = suffixEntry(opts.Suffix); err != nil {
				tb.Fatalf("slapdtest: %v", err)
			}
		}
		ldifPath = filepath.Join(s.Dir, "data.ldif")
		if err := os.WriteFile(ldifPath, data, 0o600); err != nil {
			tb.Fatalf("slapdtest: %v", err)
		}
	}
	slapadd, _ := lookPath("slapadd")
	if out, err := exec.Command(slapadd, "-q", "-f", s.conf, "-l", ldifPath).CombinedOutput(); err != nil {
		tb.Fatalf("slapdtest: slapadd: %v\n%s", err, out)
	}

	// A free port found by listening on :0 may be taken again before slapd
	// binds it: retry with new ports.
	var lastErr error
	for range 5 {
		p1, p2, err := freePorts(opts.TLS)
		if err != nil {
			tb.Fatalf("slapdtest: %v", err)
		}
		s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", p1)
		if opts.TLS {
			s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", p2)
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	tb.Fatalf("slapdtest: %v", lastErr)
	return nil
}

func (s *Server) config(opts Options, tlsConf string) string {
	var b strings.Builder
	sd := schemaDir()
	for _, f := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&b, "include %s\n", filepath.Join(sd, f+".schema"))
	}
	if md := moduleDir(); md != "" {
		fmt.Fprintf(&b, "modulepath %s\nmoduleload back_mdb\n", md)
	}
	fmt.Fprintf(&b, "pidfile %s\nargsfile %s\n", filepath.Join(s.Dir, "slapd.pid"), filepath.Join(s.Dir, "slapd.args"))
	b.WriteString(tlsConf)
	prtotal := "unlimited"
	if opts.PagedTotalLimit > 0 {
		prtotal = fmt.Sprint(opts.PagedTotalLimit)
	}
	fmt.Fprintf(&b, "\ndatabase mdb\nmaxsize 4294967296\ndbnosync\n")
	fmt.Fprintf(&b, "suffix %q\nrootdn %q\nrootpw %q\ndirectory %q\n", opts.Suffix, opts.RootDN, opts.RootPW, filepath.Join(s.Dir, "data"))
	fmt.Fprintf(&b, "sizelimit size.soft=%d size.hard=%d size.prtotal=%s\n", opts.SizeLimit, opts.SizeLimit, prtotal)
	b.WriteString("index objectClass eq\nindex entryUUID eq\n")
	if opts.Access != "" {
		b.WriteString(opts.Access + "\n")
	}
	return b.String()
}

// SetAccess replaces the access directives of the database (see
// Options.Access) and restarts slapd on the same ports and data to apply
// them.
func (s *Server) SetAccess(tb testing.TB, access string) {
	tb.Helper()
	s.opts.Access = access
	if err := os.WriteFile(s.conf, []byte(s.config(s.opts, s.tlsConf)), 0o600); err != nil {
		tb.Fatalf("slapdtest: %v", err)
	}
	s.Restart(tb)
}

// suffixEntry is the LDIF of the suffix entry alone, from its first RDN.
func suffixEntry(suffix string) ([]byte, error) {
	dn, err := ldap.ParseDN(suffix)
	if err != nil || len(dn.RDNs) == 0 || len(dn.RDNs[0].Attributes) == 0 {
		return nil, fmt.Errorf("bad suffix %q", suffix)
	}
	a := dn.RDNs[0].Attributes[0]
	var oc string
	switch strings.ToLower(a.Type) {
	case "dc":
		oc = "objectClass: dcObject\nobjectClass: organization\no: " + a.Value + "\n"
	case "o":
		oc = "objectClass: organization\n"
	case "ou":
		oc = "objectClass: organizationalUnit\n"
	default:
		return nil, fmt.Errorf("suffix %q: give the LDIF of the suffix entry (its RDN type %s is not dc, o or ou)", suffix, a.Type)
	}
	return fmt.Appendf(nil, "dn: %s\n%s%s: %s\n", suffix, oc, a.Type, a.Value), nil
}

func freePorts(two bool) (int, int, error) {
	var ports [2]int
	n := 1
	if two {
		n = 2
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}

// start runs slapd on s.URL (and s.LDAPSURL) and waits until it answers.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("slapd already running")
	}
	urls := s.URL + "/"
	if s.LDAPSURL != "" {
		urls += " " + s.LDAPSURL + "/"
	}
	slapd, _ := lookPath("slapd")
	proc, err := daemon.Start(exec.Command(slapd, "-d", "0", "-f", s.conf, "-h", urls))
	if err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	s.proc = proc

	addr := strings.TrimPrefix(s.URL, "ldap://")
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-proc.Exited:
			s.proc = nil
			return fmt.Errorf("slapd exited at start (%v):\n%s", proc.State(), proc.Output)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			ok := answers(c)
			c.Close()
			if ok {
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("slapd did not answer on %s within 15s:\n%s", s.URL, proc.Output)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// answers reports whether an LDAP server answers a root DSE read on c.
func answers(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	l := ldap.NewConn(c, false)
	l.Start()
	defer l.Close()
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"namingContexts"}, nil)
	_, err := l.Search(req)
	return err == nil
}

// Stop stops slapd (SIGTERM, then SIGKILL after 10s) and waits for it to
// exit, keeping its data and ports for Restart. Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.Stop()
	s.proc = nil
}

// Restart starts slapd again on the same ports and data.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	var err error
	// The old listening sockets may linger a moment.
	for range 50 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("slapdtest: restart: %v", err)
}

// Kill sends SIGKILL to slapd now and waits for it to die: every open
// connection is cut without a word, as when a server crashes.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *Server) killLocked() {
	if s.proc == nil {
		return
	}
	s.proc.Kill()
	s.proc = nil
}

// Conn returns a connection bound as the root DN, closed at cleanup, to add,
// delete, modify or rename entries in tests.
func (s *Server) Conn(tb testing.TB) *ldap.Conn {
	tb.Helper()
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		tb.Fatalf("slapdtest: dial %s: %v", s.URL, err)
	}
	tb.Cleanup(func() { c.Close() })
	c.SetTimeout(30 * time.Second)
	if err := c.Bind(s.RootDN, s.RootPW); err != nil {
		tb.Fatalf("slapdtest: bind as %s: %v", s.RootDN, err)
	}
	return c
}
