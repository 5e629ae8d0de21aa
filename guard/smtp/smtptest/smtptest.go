// Package smtptest runs a real SMTP server in the test process, on
// github.com/emersion/go-smtp, listening on 127.0.0.1 with a free port.
//
// It records the messages it accepts, can require AUTH PLAIN, offer STARTTLS
// or speak implicit TLS with a self-signed certificate (trusted through
// Server.CAPool), and can be told to fail deliveries in the ways real servers
// do: a temporary or permanent rejection, or a connection dropped mid-message.
// It can also stop listening and listen again on the same port, to test an
// unreachable server.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is a message the server accepted.
type Message struct {
	// From and To are the envelope (MAIL FROM, RCPT TO).
	From string
	To   []string
	// Subject is the decoded Subject header (MIME encoded-words decoded).
	Subject string
	// Body is the readable text: quoted-printable or base64 decoded, line
	// endings turned into "\n".
	Body string
	// Header holds the raw (undecoded) headers.
	Header mail.Header
	// Raw is the message exactly as received after DATA.
	Raw []byte
	// AuthUser is the user that authenticated on the connection, if any.
	AuthUser string
}

// Mode says how the server answers delivery attempts.
type Mode int

// The modes.
const (
	// Accept delivers and records every message.
	Accept Mode = iota
	// RefuseTemp answers the end of DATA with 451 (try again later).
	RefuseTemp
	// RefusePerm answers RCPT TO with 550 (mailbox unavailable).
	RefusePerm
	// CloseMidMessage drops the connection while the message is being
	// transferred, before any reply to DATA; nothing is recorded.
	CloseMidMessage
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Accept:
		return "Accept"
	case RefuseTemp:
		return "RefuseTemp"
	case RefusePerm:
		return "RefusePerm"
	case CloseMidMessage:
		return "CloseMidMessage"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Options configures Start.
type Options struct {
	// TLS gives the server a self-signed certificate and offers STARTTLS.
	TLS bool
	// Implicit speaks TLS from the first byte (smtps), with the same
	// certificate.
	Implicit bool
	// User and Password, when User is set, are required: the server offers
	// AUTH PLAIN (also without TLS: it only listens on loopback) and refuses
	// MAIL FROM until the client authenticated.
	User, Password string
}

// Timeout is the server's read and write timeout per command.
const Timeout = 10 * time.Second

// Server is a running test SMTP server.
type Server struct {
	// Host is "127.0.0.1"; Port the port it listens on; Addr "Host:Port".
	Host string
	Port int
	Addr string
	// CAPool trusts the server's certificate (nil without TLS or Implicit).
	CAPool *x509.CertPool

	opts      Options
	tlsConfig *tls.Config

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	served   chan struct{} // closed when srv's Serve returned
	messages []Message
	mode     Mode
	fails    []failRun // the failures planned for the next attempts, in order
	attempts int
}

// failRun is n delivery attempts in a row that fail with mode.
type failRun struct {
	n    int
	mode Mode
}

// Start starts a server on 127.0.0.1 with a free port and closes it when the
// test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := &Server{opts: opts, Host: "127.0.0.1"}
	if opts.TLS || opts.Implicit {
		cert, pool, err := testCert()
		if err != nil {
			tb.Fatalf("smtptest: certificate: %v", err)
		}
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.CAPool = pool
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	s.Addr = net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	s.serve(l)
	tb.Cleanup(s.Close)
	return s
}

// serve starts a go-smtp server on l.
func (s *Server) serve(l net.Listener) {
	if s.opts.Implicit {
		l = tls.NewListener(l, s.tlsConfig)
	}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.ReadTimeout = Timeout
	srv.WriteTimeout = Timeout
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.EnableSMTPUTF8 = true
	srv.AllowInsecureAuth = true // loopback only
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if s.opts.TLS {
		srv.TLSConfig = s.tlsConfig
	}
	served := make(chan struct{})
	s.mu.Lock()
	s.srv, s.ln, s.served = srv, l, served
	s.mu.Unlock()
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
}

// Close stops listening and drops open connections: connecting is refused
// afterwards. Closing twice is fine.
func (s *Server) Close() {
	s.mu.Lock()
	srv, ln, served := s.srv, s.ln, s.served
	s.srv, s.ln, s.served = nil, nil, nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	// srv.Close only closes listeners its Serve goroutine already
	// registered; closing ln as well makes a Serve that starts late return
	// at once instead of accepting forever.
	_ = srv.Close()
	_ = ln.Close()
	<-served
}

// Restart listens again on the same port after Close. Recorded messages,
// mode and counters are kept.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Close()
	var (
		l   net.Listener
		err error
	)
	for deadline := time.Now().Add(2 * time.Second); ; {
		if l, err = net.Listen("tcp", s.Addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("smtptest: listen again on %s: %v", s.Addr, err)
	}
	s.serve(l)
}

// Messages returns a copy of the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	copy(out, s.messages)
	return out
}

// WaitMessages waits until at least n messages were accepted and returns
// them; after timeout it fails the test (call it from the test goroutine).
func (s *Server) WaitMessages(tb testing.TB, n int, timeout time.Duration) []Message {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("smtptest: %d message(s) after %v, want at least %d", len(msgs), timeout, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SetMode sets how the server answers from now on.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// FailNext makes the next n delivery attempts fail with m; after them the
// server answers Accept (whatever SetMode said before). It replaces the
// failures planned before.
func (s *Server) FailNext(n int, m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails, s.mode = []failRun{{n, m}}, Accept
}

// ThenFail makes the n delivery attempts after those already planned to
// fail (FailNext, ThenFail) fail with m: FailNext(3, CloseMidMessage) then
// ThenFail(2, RefuseTemp) drops three connections, then refuses twice.
func (s *Server) ThenFail(n int, m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, failRun{n, m})
}

// Attempts returns the number of delivery attempts seen: MAIL FROM commands
// the server accepted to consider (one per connection for a client that
// sends one message per connection).
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// nextAttempt counts an attempt and returns the mode it gets.
func (s *Server) nextAttempt() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	for len(s.fails) > 0 && s.fails[0].n == 0 {
		s.fails = s.fails[1:]
	}
	if len(s.fails) > 0 {
		s.fails[0].n--
		return s.fails[0].mode
	}
	return s.mode
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{srv: s, conn: c}, nil
}

// session is one SMTP connection.
type session struct {
	srv  *Server
	conn *smtp.Conn

	authUser string
	from     string
	to       []string
	mode     Mode
}

var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errMailbox      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox unavailable"}
	errTryLater     = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
)

// AuthMechanisms offers PLAIN when the server requires a user.
func (se *session) AuthMechanisms() []string {
	if se.srv.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth checks PLAIN credentials against Options.
func (se *session) Auth(mech string) (sasl.Server, error) {
	if se.srv.opts.User == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != se.srv.opts.User || pass != se.srv.opts.Password || (identity != "" && identity != user) {
			return smtp.ErrAuthFailed
		}
		se.authUser = user
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.srv.opts.User != "" && se.authUser == "" {
		return errAuthRequired
	}
	se.mode = se.srv.nextAttempt()
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if se.mode == RefusePerm {
		return errMailbox
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	switch se.mode {
	case CloseMidMessage:
		// Read a little so the client is mid-transfer, then hang up.
		_, _ = io.ReadFull(r, make([]byte, 16))
		_ = se.conn.Conn().Close()
		return errors.New("smtptest: connection closed mid-message")
	case RefusePerm:
		return errMailbox
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if se.mode == RefuseTemp {
		return errTryLater
	}
	m := parse(raw)
	m.From, m.To, m.AuthUser = se.from, append([]string(nil), se.to...), se.authUser
	se.srv.record(m)
	return nil
}

func (se *session) Reset() {
	se.from, se.to, se.mode = "", nil, Accept
}

func (se *session) Logout() error { return nil }

// parse reads what the server received; what cannot be parsed is left raw.
func parse(raw []byte) Message {
	m := Message{Raw: raw, Body: string(raw)}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m
	}
	m.Header = msg.Header
	m.Subject = msg.Header.Get("Subject")
	if s, err := new(mime.WordDecoder).DecodeHeader(m.Subject); err == nil {
		m.Subject = s
	}
	var body io.Reader = msg.Body
	switch strings.ToLower(strings.TrimSpace(msg.Header.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return m
	}
	m.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	return m
}

var certOnce = sync.OnceValues(func() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
})

// testCert returns the process's self-signed certificate for 127.0.0.1 and
// localhost, and a pool that trusts it.
func testCert() (tls.Certificate, *x509.CertPool, error) {
	cert, err := certOnce()
	if err != nil {
		return cert, nil, fmt.Errorf("smtptest: generate certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return cert, pool, nil
}
