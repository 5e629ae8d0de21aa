// Package smtp sends syncguard's notification emails over SMTP, on top of
// github.com/wneessen/go-mail.
//
// Each Send opens a fresh connection, delivers one message and closes it, so a
// sender holds no state between outbox attempts. Errors say which step failed
// and whether retrying can help (see IsPermanent); they never contain the
// password.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	mail "github.com/wneessen/go-mail"
)

// TLSMode says how the connection to the SMTP server is protected.
type TLSMode string

// The TLS modes, as spelled on the command line (--smtp-tls).
const (
	// TLSNone sends in the clear (port 25 by default).
	TLSNone TLSMode = "none"
	// TLSStartTLS requires the server to offer STARTTLS and upgrades to TLS
	// before anything else is sent (port 587 by default).
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte, "smtps" (port 465 by default).
	TLSImplicit TLSMode = "tls"
)

// ParseTLSMode parses "none", "starttls" or "tls" (case-insensitive, spaces
// trimmed). The empty string is TLSStartTLS, the default.
func ParseTLSMode(s string) (TLSMode, error) {
	switch m := TLSMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return TLSStartTLS, nil
	case TLSNone, TLSStartTLS, TLSImplicit:
		return m, nil
	}
	return "", fmt.Errorf("smtp: invalid TLS mode %q (want none, starttls or tls)", s)
}

// Defaults applied by NewSender to a zero Config field.
const (
	DefaultFrom    = "syncguard@localhost"
	DefaultTimeout = 10 * time.Second
)

// Config configures a Sender. Zero fields take the documented defaults.
type Config struct {
	// Host is the SMTP server's host name or IP address; required.
	Host string
	// Port defaults to 25 for TLSNone, 587 for TLSStartTLS, 465 for TLSImplicit.
	Port int
	// User and Password authenticate (PLAIN or LOGIN, as the server offers)
	// when User is set. PLAIN and LOGIN are only used over TLS or to a
	// localhost server, so the password never travels in the clear.
	User, Password string
	// TLS defaults to TLSStartTLS.
	TLS TLSMode
	// TLSConfig is optional, e.g. to trust a private CA (RootCAs). Its
	// ServerName defaults to Host.
	TLSConfig *tls.Config
	// From is the sender address, header and envelope; default DefaultFrom.
	From string
	// Timeout bounds the dial and each read or write; default DefaultTimeout.
	Timeout time.Duration
}

// Message is one plain-text email.
type Message struct {
	// To is the recipient address, or several separated by commas.
	To string
	// Subject may contain any UTF-8; it is MIME-encoded as needed.
	Subject string
	// Body is plain UTF-8 text.
	Body string
	// ID, when set, becomes the Message-ID "<ID@syncguard>", so the receiver
	// can recognise a message delivered twice (e.g. the outbox retried after
	// the server accepted it but the connection broke before the reply).
	ID string
}

// Sender delivers messages to one SMTP server. It is safe for concurrent use.
type Sender struct {
	cfg  Config
	addr string
}

// NewSender validates cfg, applies its defaults and returns a Sender. It
// returns an error when Host is empty, the port is out of range, the TLS mode
// is unknown, From is not an address or Timeout is negative. It does not
// connect.
func NewSender(cfg Config) (*Sender, error) {
	cfg.Host = strings.TrimSpace(cfg.Host)
	if cfg.Host == "" {
		return nil, errors.New("smtp: host is required")
	}
	mode, err := ParseTLSMode(string(cfg.TLS))
	if err != nil {
		return nil, err
	}
	cfg.TLS = mode
	if cfg.Port == 0 {
		switch cfg.TLS {
		case TLSNone:
			cfg.Port = 25
		case TLSStartTLS:
			cfg.Port = 587
		case TLSImplicit:
			cfg.Port = 465
		}
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp: invalid port %d", cfg.Port)
	}
	if cfg.From == "" {
		cfg.From = DefaultFrom
	}
	if _, err := netmail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("smtp: invalid from address %q: %v", cfg.From, err)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("smtp: invalid timeout %v", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TLSConfig != nil {
		cfg.TLSConfig = cfg.TLSConfig.Clone()
	} else {
		cfg.TLSConfig = &tls.Config{}
	}
	if cfg.TLSConfig.ServerName == "" {
		cfg.TLSConfig.ServerName = cfg.Host
	}
	if cfg.TLSConfig.MinVersion == 0 {
		cfg.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return &Sender{cfg: cfg, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))}, nil
}

// Addr returns the server address "host:port" the sender delivers to.
func (s *Sender) Addr() string { return s.addr }

// sendError is the error Send returns: the step that failed, the server's
// reply code when there was one, and the cause.
type sendError struct {
	msg       string
	code      int  // SMTP reply code, 0 when the server did not answer
	permanent bool // retrying cannot help
	err       error
}

func (e *sendError) Error() string { return e.msg }
func (e *sendError) Unwrap() error { return e.err }

// IsPermanent reports whether err is a permanent failure that retrying cannot
// fix: a permanent SMTP rejection (a 5xx reply, including 535 authentication
// failed: wrong credentials stay wrong until an admin changes them) or a
// message that cannot be sent at all (an invalid recipient address).
// Connection errors, timeouts, TLS failures and 4xx replies are temporary.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var se *sendError
	if errors.As(err, &se) {
		return se.permanent
	}
	return replyCode(err)/100 == 5
}

// replyCode returns the SMTP reply code carried by err, or 0.
func replyCode(err error) int {
	var me *mail.SendError
	if errors.As(err, &me) {
		return me.ErrorCode()
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// Send delivers m over a fresh connection: dial, STARTTLS or implicit TLS as
// configured, AUTH when User is set, MAIL/RCPT/DATA, QUIT. The dial and each
// read or write are bounded by Timeout, and the whole exchange by 2×Timeout
// (or ctx, if sooner), after which the connection is closed.
//
// Once the server has accepted the message (250 after DATA), Send returns nil
// even if QUIT fails: reporting an error then would make the caller send a
// duplicate.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, 2*s.cfg.Timeout)
	defer cancel()

	// Remember the connection so it can be closed when ctx ends: go-mail's
	// deadlines are per step, ctx only bounds its dial.
	var (
		mu   sync.Mutex
		conn net.Conn
		done bool
	)
	closeConn := func() {
		mu.Lock()
		defer mu.Unlock()
		done = true
		if conn != nil {
			conn.Close()
		}
	}
	stop := context.AfterFunc(ctx, closeConn)
	defer stop()
	defer closeConn()

	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d interface {
			DialContext(context.Context, string, string) (net.Conn, error)
		} = &net.Dialer{}
		if s.cfg.TLS == TLSImplicit {
			d = &tls.Dialer{Config: s.cfg.TLSConfig}
		}
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if done {
			c.Close()
			return nil, net.ErrClosed
		}
		conn = c
		return c, nil
	}

	client, err := s.client(dial)
	if err != nil {
		return &sendError{msg: "smtp: " + s.redact(err.Error()), permanent: true}
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return s.dialError(ctx, err)
	}
	if err := client.SendWithSMTPClient(sc, msg); err != nil {
		return s.deliveryError(ctx, err)
	}
	// The message is delivered; a failing QUIT changes nothing about that.
	_ = client.CloseWithSMTPClient(sc)
	return nil
}

// build turns m into a go-mail message.
func (s *Sender) build(m Message) (*mail.Msg, error) {
	invalid := func(format string, args ...any) error {
		return &sendError{msg: fmt.Sprintf(format, args...), permanent: true}
	}
	if strings.TrimSpace(m.To) == "" {
		return nil, invalid("smtp: no recipient")
	}
	rcpts, err := netmail.ParseAddressList(m.To)
	if err != nil {
		return nil, invalid("smtp: invalid recipient %q: %v", m.To, err)
	}
	msg := mail.NewMsg(mail.WithCharset(mail.CharsetUTF8), mail.WithEncoding(mail.EncodingQP))
	if err := msg.From(s.cfg.From); err != nil {
		return nil, invalid("smtp: invalid from address %q: %v", s.cfg.From, err)
	}
	for _, r := range rcpts {
		if err := msg.AddTo(r.String()); err != nil {
			return nil, invalid("smtp: invalid recipient %q: %v", r.Address, err)
		}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.ID != "" {
		if strings.ContainsAny(m.ID, "<>@ \t\r\n") {
			return nil, invalid("smtp: invalid message id %q", m.ID)
		}
		msg.SetMessageIDWithValue(m.ID + "@syncguard")
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	return msg, nil
}

// client builds the go-mail client for one Send.
func (s *Sender) client(dial mail.DialContextFunc) (*mail.Client, error) {
	opts := []mail.Option{
		mail.WithPort(s.cfg.Port),
		mail.WithTimeout(s.cfg.Timeout),
		mail.WithTLSConfig(s.cfg.TLSConfig),
		mail.WithDialContextFunc(dial),
		mail.WithHELO(helo()),
	}
	switch s.cfg.TLS {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		// Our dial function speaks TLS itself; WithSSL makes go-mail skip
		// STARTTLS on the already encrypted connection.
		opts = append(opts, mail.WithSSL())
	}
	if s.cfg.User != "" {
		// PLAIN or LOGIN as offered. go-mail's own auto-discovery does not
		// pick them on an implicit-TLS connection made by a custom dialer,
		// and both refuse to run over plain text except to localhost.
		opts = append(opts,
			mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlain, mail.SMTPAuthLogin),
			mail.WithUsername(s.cfg.User),
			mail.WithPassword(s.cfg.Password))
	}
	return mail.NewClient(s.cfg.Host, opts...)
}

// helo is the name sent in EHLO: the host name when it looks like one.
func helo() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsAny(h, " \t\r\n") {
		return "localhost"
	}
	return h
}

// dialError classifies a failure to connect, negotiate TLS or authenticate.
func (s *Sender) dialError(ctx context.Context, err error) error {
	code := replyCode(err)
	text := s.redact(err.Error())
	var step string
	var oe *net.OpError
	var ue *net.AddrError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		step = "connect " + s.addr
		text = dnsErr.Error()
	case errors.As(err, &ue):
		step = "connect " + s.addr
	case errors.As(err, &oe) && oe.Op == "dial":
		step = "connect " + s.addr
		text = s.redact(netCause(oe).Error())
	case ctx.Err() != nil || isTimeout(err):
		step = "talk to " + s.addr
		text = "timed out after " + s.cfg.Timeout.String()
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			text = ctx.Err().Error()
		}
	case strings.Contains(err.Error(), "does not support STARTTLS"):
		step = "starttls " + s.addr
		text = "server does not offer STARTTLS (use --smtp-tls none or tls)"
	case strings.HasPrefix(err.Error(), "SMTP AUTH failed"), strings.Contains(err.Error(), "SMTP AUTH"),
		errors.Is(err, mail.ErrNoSupportedAuthDiscovered):
		step = "authenticate to " + s.addr + " as " + s.cfg.User
		text = strings.TrimPrefix(err.Error(), "SMTP AUTH failed: ")
		if code != 0 {
			text = serverText(err, code)
		}
		text = s.redact(text)
	case isTLSError(err):
		step = "tls " + s.addr
	default:
		step = s.addr
	}
	return &sendError{
		msg:       "smtp: " + step + ": " + text,
		code:      code,
		permanent: code/100 == 5,
		err:       err,
	}
}

// deliveryError classifies a failure after the session was set up.
func (s *Sender) deliveryError(ctx context.Context, err error) error {
	code := replyCode(err)
	if code/100 == 4 || code/100 == 5 {
		return &sendError{
			msg:       "smtp: server rejected message: " + s.redact(serverText(err, code)),
			code:      code,
			permanent: code/100 == 5,
			err:       err,
		}
	}
	text := s.redact(cutAffected(err.Error()))
	if ctx.Err() != nil || isTimeout(err) {
		text = "timed out"
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			text = ctx.Err().Error()
		}
	}
	return &sendError{msg: "smtp: send to " + s.addr + ": " + text, err: err}
}

// serverText extracts the server's reply ("550 5.1.1 no such user") from a
// go-mail error, whose text also names the command, recipients and message id
// and quotes the reply text.
func serverText(err error, code int) string {
	var te *textproto.Error
	if errors.As(err, &te) {
		return replyText(te.Code, te.Msg)
	}
	text := err.Error()
	prefix := strconv.Itoa(code) + " "
	i := strings.Index(text, prefix)
	if i < 0 {
		return cutAffected(text)
	}
	rest := text[i+len(prefix):]
	if q, qerr := strconv.QuotedPrefix(rest); qerr == nil {
		if msg, uerr := strconv.Unquote(q); uerr == nil {
			return replyText(code, msg)
		}
	}
	return cutAffected(text[i:])
}

// cutAffected drops go-mail's ", affected recipient(s): …, affected message
// ID: …" suffix.
func cutAffected(text string) string {
	if i := strings.Index(text, ", affected "); i >= 0 {
		return text[:i]
	}
	return text
}

// replyText formats an SMTP reply on one line, without control characters.
func replyText(code int, msg string) string {
	msg = strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return ' '
		case !unicode.IsPrint(r):
			return -1
		}
		return r
	}, msg)
	return strconv.Itoa(code) + " " + msg
}

// netCause returns the innermost useful cause of a dial error:
// "connection refused" rather than "dial tcp 127.0.0.1:25: connect: connection refused".
func netCause(oe *net.OpError) error {
	err := oe.Err
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func isTLSError(err error) bool {
	var (
		rh tls.RecordHeaderError
		ae tls.AlertError
		ve *tls.CertificateVerificationError
	)
	return errors.As(err, &rh) || errors.As(err, &ae) || errors.As(err, &ve) ||
		strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:")
}

// redact removes the password from text, should any layer ever echo it.
func (s *Sender) redact(text string) string {
	if s.cfg.Password == "" {
		return text
	}
	return strings.ReplaceAll(text, s.cfg.Password, "********")
}
