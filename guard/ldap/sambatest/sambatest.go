// Package sambatest runs a private Samba Active Directory domain controller
// for tests: a real AD DC (domain CORP, realm corp.example) that answers
// LDAP with AD's own behaviour, binds (simple and NTLM), bind failures and
// its own TLS certificate (no subjectAltName).
//
// The domain is provisioned once per machine and Samba version into a
// template under the system's temporary directory (about 6 s); each Start
// copies it and runs samba with only its LDAP service (about 2 s). Samba's
// LDAP ports cannot be changed, so each DC listens on 389 and 636 of an
// address of its own in 127.0.0.0/8.
package sambatest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/internal/daemon"
)

// The domain every Start serves.
const (
	Domain        = "CORP"
	Realm         = "corp.example"
	BaseDN        = "DC=corp,DC=example"
	AdminPassword = "Adm1n-Passw0rd!"
	hostName      = "dc1"
)

const installHint = "install with apt-get install samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind, and run the tests as root"

// Require skips the test when Samba's AD DC cannot run here (not
// installed, or not root), or fails it when the environment variable CI
// is "true".
func Require(tb testing.TB) {
	tb.Helper()
	daemon.Require(tb, check(), installHint)
}

func check() error {
	for _, bin := range []string{"samba", "samba-tool"} {
		if _, err := lookPath(bin); err != nil {
			return fmt.Errorf("%s not found", bin)
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("a Samba AD DC runs as root only")
	}
	return nil
}

func lookPath(name string) (string, error) {
	return daemon.LookPath(name, "/usr/sbin", "/usr/bin", "/usr/local/sbin")
}

// Server is a running private DC.
type Server struct {
	Host     string // its loopback address
	URL      string // ldap://HOST
	LDAPSURL string // ldaps://HOST
	Cert     *x509.Certificate
	Dir      string

	proc *daemon.Process // nil when stopped
}

// Start copies the provisioned domain, runs samba on a free loopback
// address until it answers, and stops it at cleanup. NTLM binds over TLS
// are allowed ("ldap server require strong auth = allow_sasl_over_tls", as
// Samba before 4.20 needs for binds that sign nothing); simple binds need
// TLS, as Samba's default has it.
func Start(tb testing.TB) *Server {
	tb.Helper()
	Require(tb)
	tmpl, err := template()
	if err != nil {
		tb.Fatalf("sambatest: provision: %v", err)
	}
	s := &Server{Dir: tb.TempDir()}
	if out, err := exec.Command("cp", "-a", tmpl+"/.", s.Dir).CombinedOutput(); err != nil {
		tb.Fatalf("sambatest: copy the domain: %v\n%s", err, out)
	}
	tb.Cleanup(s.stop) // before the directory is removed
	var lastErr error
	for range 5 {
		if s.Host, err = freeLoopback(); err != nil {
			tb.Fatalf("sambatest: %v", err)
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	tb.Fatalf("sambatest: %v", lastErr)
	return nil
}

var (
	provisionOnce sync.Once
	provisioned   string
	provisionErr  error
)

// template returns the directory of the provisioned domain, provisioning
// it the first time on this machine.
func template() (string, error) {
	provisionOnce.Do(func() { provisioned, provisionErr = provision() })
	return provisioned, provisionErr
}

func provision() (string, error) {
	tool, _ := lookPath("samba-tool")
	version, err := exec.Command(tool, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("samba-tool --version: %v", err)
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("syncguard-sambatest-%d", os.Geteuid()),
		strings.TrimSpace(strings.ReplaceAll(string(version), " ", "_")))
	if _, err := os.Stat(filepath.Join(dir, "private", "sam.ldb")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "provisioning-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	out, err := exec.Command(tool, "domain", "provision", "--use-rfc2307", "--realm="+strings.ToUpper(Realm),
		"--domain="+Domain, "--host-name="+hostName, "--server-role=dc", "--dns-backend=SAMBA_INTERNAL",
		"--adminpass="+AdminPassword, "--targetdir="+tmp,
		"--option=interfaces=lo", "--option=bind interfaces only=yes").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("samba-tool domain provision: %v\n%s", err, out)
	}
	// The paths in its smb.conf are rewritten by each Start; another test
	// process may have provisioned meanwhile: then use its template.
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "private", "sam.ldb")); serr != nil {
			return "", err
		}
	}
	return dir, nil
}

// freeLoopback picks an address in 127.0.0.0/8 whose LDAP ports are free.
func freeLoopback() (string, error) {
	for range 20 {
		host := fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(254), rand.IntN(256), 1+rand.IntN(254))
		free := true
		for _, port := range []string{"389", "636"} {
			l, err := net.Listen("tcp", net.JoinHostPort(host, port))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return host, nil
		}
	}
	return "", errors.New("no free loopback address for LDAP")
}

// conf is the DC's smb.conf: the provisioned domain in s.Dir, its LDAP
// service alone on s.Host.
func (s *Server) conf() string {
	var b strings.Builder
	b.WriteString("[global]\n")
	for _, kv := range [][2]string{
		{"netbios name", strings.ToUpper(hostName)}, {"realm", strings.ToUpper(Realm)}, {"workgroup", Domain},
		{"server role", "active directory domain controller"}, {"server services", "ldap"},
		{"interfaces", s.Host + "/8"}, {"bind interfaces only", "yes"},
		{"private dir", filepath.Join(s.Dir, "private")}, {"lock directory", s.Dir},
		{"state directory", filepath.Join(s.Dir, "state")}, {"cache directory", filepath.Join(s.Dir, "cache")},
		{"binddns dir", filepath.Join(s.Dir, "bind-dns")}, {"pid directory", s.Dir},
		{"idmap_ldb:use rfc2307", "yes"}, {"ldap server require strong auth", "allow_sasl_over_tls"},
	} {
		fmt.Fprintf(&b, "\t%s = %s\n", kv[0], kv[1])
	}
	return b.String()
}

// start runs samba on s.Host and waits until it answers LDAP.
func (s *Server) start() error {
	conf := filepath.Join(s.Dir, "etc", "smb.conf")
	if err := os.WriteFile(conf, []byte(s.conf()), 0o600); err != nil {
		return err
	}
	samba, _ := lookPath("samba")
	proc, err := daemon.Start(exec.Command(samba, "-i", "-M", "single", "-s", conf))
	if err != nil {
		return fmt.Errorf("start samba: %w", err)
	}
	s.proc = proc
	s.URL, s.LDAPSURL = "ldap://"+s.Host, "ldaps://"+s.Host
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-proc.Exited:
			s.proc = nil
			return fmt.Errorf("samba exited at start (%v):\n%s", proc.State(), proc.Output)
		default:
		}
		if s.answers() {
			pemBytes, err := os.ReadFile(filepath.Join(s.Dir, "private", "tls", "cert.pem"))
			if err != nil {
				return err
			}
			block, _ := pem.Decode(pemBytes)
			if block == nil {
				return errors.New("no certificate in private/tls/cert.pem")
			}
			s.Cert, err = x509.ParseCertificate(block.Bytes)
			return err
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("samba did not answer on %s within 60s:\n%s", s.URL, proc.Output)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answers reports whether the DC answers a root DSE read over ldaps.
func (s *Server) answers() bool {
	c, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}),
		ldap.DialWithTLSConfig(&tls.Config{InsecureSkipVerify: true}))
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetTimeout(2 * time.Second)
	_, err = c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"namingContexts"}, nil))
	return err == nil
}

// stop stops samba (SIGTERM, then SIGKILL after 10s) and waits for it.
func (s *Server) stop() {
	if s.proc != nil {
		s.proc.Stop()
		s.proc = nil
	}
}

// Conn returns a connection over ldaps:// bound as the domain's
// Administrator, closed at cleanup, to change the directory in tests.
func (s *Server) Conn(tb testing.TB) *ldap.Conn {
	tb.Helper()
	c, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{InsecureSkipVerify: true}))
	if err != nil {
		tb.Fatalf("sambatest: dial %s: %v", s.LDAPSURL, err)
	}
	tb.Cleanup(func() { c.Close() })
	c.SetTimeout(30 * time.Second)
	if err := c.Bind("Administrator@"+Realm, AdminPassword); err != nil {
		tb.Fatalf("sambatest: bind as Administrator: %v", err)
	}
	return c
}

// AddUser creates an enabled user CN=name,CN=Users (sAMAccountName name,
// userPrincipalName name@corp.example) with password, then replaces the
// attributes in set (e.g. userAccountControl 514 disables it); it returns
// the user's DN.
func (s *Server) AddUser(tb testing.TB, name, password string, set map[string][]string) string {
	tb.Helper()
	c := s.Conn(tb)
	dn := "CN=" + name + ",CN=Users," + BaseDN
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"user"})
	add.Attribute("sAMAccountName", []string{name})
	add.Attribute("userPrincipalName", []string{name + "@" + Realm})
	add.Attribute("unicodePwd", []string{unicodePwd(password)})
	add.Attribute("userAccountControl", []string{"512"})
	if err := c.Add(add); err != nil {
		tb.Fatalf("sambatest: add %s: %v", dn, err)
	}
	if len(set) > 0 {
		mod := ldap.NewModifyRequest(dn, nil)
		for attr, vals := range set {
			mod.Replace(attr, vals)
		}
		if err := c.Modify(mod); err != nil {
			tb.Fatalf("sambatest: modify %s: %v", dn, err)
		}
	}
	return dn
}

// unicodePwd is a password as AD takes it: quoted, in UTF-16LE.
func unicodePwd(password string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(`"` + password + `"`)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return string(b)
}

// NoLogonHours is a logonHours value that allows no hour of the week.
var NoLogonHours = string(make([]byte, 21))
