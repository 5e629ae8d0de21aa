// Package scim is syncguard's SCIM 2.0 target (RFC 7643, RFC 7644): a
// target.Writer that provisions users and groups into a SCIM service over
// HTTPS with a bearer token, using net/http and encoding/json only.
//
// # Addresses
//
// The target URL is scim+https://HOST/PATH, the service's base URL with
// "scim+" in front (https://HOST/PATH/Users is where users go).
// scim+http:// is refused unless HOST is a loopback address (127.0.0.0/8,
// ::1 or localhost): a bearer token never crosses a network in clear.
//
// # What is written
//
// Users carry externalId (the anchor), userName, name, displayName, emails
// and active; groups externalId, displayName and members by SCIM id.
// UserResource and GroupResource say from which source attributes.
//
// # How
//
//   - Put with no link looks first (LookFirst) by externalId, then by
//     userName (users) or displayName (groups), and updates what it finds;
//     else it creates with POST. With CreateFirst it POSTs at once and
//     looks only when the service answers 409. A match found by name that
//     carries another externalId belongs to someone else: it is refused,
//     never taken over. Every answer to a lookup is checked, so a service
//     that ignores filters cannot make syncguard update the wrong object.
//   - Put with a link updates: PATCH (one replace of the managed
//     attributes, a remove for each one now empty), or PUT of the whole
//     resource when the service's ServiceProviderConfig says it has no
//     PATCH (or it answers a PATCH with 501). A 404 creates it again.
//   - Delete is DELETE; a 404 is success.
//   - Disable sets a user's active to false and removes a group's
//     members (the group is kept); Put puts them back.
//
// # Errors
//
// Every failure is a *target.Error in the service's words: "SCIM 409
// uniqueness: <detail>", "SCIM 401: Unauthorized". Connection refused or
// reset, a connection cut mid-answer, timeouts, 429 and 5xx are transient,
// with the Retry-After the service sent (seconds or an HTTP date); 501
// (the operation is not there at all), other 4xx, 3xx (the target URL is
// to be corrected), TLS verification failures and unknown hosts are
// permanent. The writer never retries nor sleeps: the exporter does. The
// token never appears in a message.
//
// The id of a created resource is read from the answer's Location
// (RFC 7644 section 3.3), else from its body.
package scim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncguard/syncguard/guard/target"
)

// Defaults for Config.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultConcurrency = 8
	maxConcurrency     = 64
)

// Config says how to reach one SCIM service.
type Config struct {
	// URL is scim+https://HOST/PATH, or scim+http://LOOPBACK/PATH.
	URL string
	// Token is the bearer token (surrounding spaces and newlines, as a
	// token file has them, are trimmed).
	Token string
	// CAFile is a PEM file of the authorities to trust instead of the
	// system's. TLS, when set, is used as it is; give one or neither.
	CAFile string
	TLS    *tls.Config
	// Timeout bounds each call of the Writer (DefaultTimeout when 0).
	Timeout time.Duration
	// Concurrency is how many calls the exporter may make at once
	// (DefaultConcurrency when 0, at most 64).
	Concurrency int
}

// Writer writes users and groups to a SCIM service. It is safe for
// concurrent use; all calls share one HTTP transport.
type Writer struct {
	base        string // https://HOST/PATH, no trailing slash
	host        string // HOST, for messages
	token       string
	auth        string // the Authorization header
	client      *http.Client
	timeout     time.Duration
	concurrency int

	// patch is what the service said of PATCH: patchUnknown until its
	// ServiceProviderConfig is read (once, lazily, under spcMu).
	patch atomic.Int32
	spcMu sync.Mutex
}

const (
	patchUnknown int32 = iota
	patchYes
	patchNo
)

var _ target.Writer = (*Writer)(nil)

// New returns a Writer for cfg. It checks the configuration only; it does
// not connect (Test does). Errors say what is wrong with cfg.
func New(cfg Config) (*Writer, error) {
	base, host, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(cfg.Token)
	if token == "" {
		return nil, errors.New("scim: no bearer token (give the token file)")
	}
	if strings.ContainsAny(token, "\r\n") {
		return nil, errors.New("scim: the bearer token spans several lines")
	}
	if cfg.Concurrency < 0 || cfg.Concurrency > maxConcurrency {
		return nil, fmt.Errorf("scim: concurrency %d is not between 1 and %d", cfg.Concurrency, maxConcurrency)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("scim: negative timeout %s", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	tr, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	return &Writer{
		base:  base,
		host:  host,
		token: token,
		auth:  "Bearer " + token,
		client: &http.Client{
			Transport: tr,
			// A redirect is the admin's to follow, in the target URL:
			// the token is not sent on to another address.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout:     cfg.Timeout,
		concurrency: cfg.Concurrency,
	}, nil
}

// parseURL turns scim+https://HOST/PATH into https://HOST/PATH and HOST.
func parseURL(raw string) (base, host string, err error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", "", fmt.Errorf("scim: target URL %q: %v", raw, err)
	}
	switch u.Scheme {
	case "scim+https":
		u.Scheme = "https"
	case "scim+http":
		if !isLoopback(u.Hostname()) {
			return "", "", fmt.Errorf("scim: %s sends the token in clear: scim+http:// is allowed only to a loopback address; use scim+https://%s", raw, u.Host+u.Path)
		}
		u.Scheme = "http"
	default:
		return "", "", fmt.Errorf("scim: target URL %q: want scim+https://HOST/PATH", raw)
	}
	switch {
	case u.Host == "":
		return "", "", fmt.Errorf("scim: target URL %q has no host", raw)
	case u.User != nil:
		return "", "", fmt.Errorf("scim: target URL %q carries credentials: give the token in its file instead", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return "", "", fmt.Errorf("scim: target URL %q: want no query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), u.Host, nil
}

// isLoopback says whether host names this machine without a network.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newTransport returns the one transport a Writer's calls share: enough
// idle connections for Concurrency calls at once, TLS as configured.
func newTransport(cfg Config) (*http.Transport, error) {
	tlsConf, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	tr.MaxIdleConns = 2 * cfg.Concurrency
	tr.MaxIdleConnsPerHost = 2 * cfg.Concurrency
	return tr, nil
}

// tlsConfig builds the TLS configuration from CAFile or takes TLS.
func tlsConfig(cfg Config) (*tls.Config, error) {
	if cfg.TLS != nil && cfg.CAFile != "" {
		return nil, errors.New("scim: give a CA file or a TLS configuration, not both")
	}
	if cfg.TLS != nil {
		return cfg.TLS.Clone(), nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("scim: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("scim: CA file %s holds no PEM certificate", cfg.CAFile)
	}
	conf.RootCAs = pool
	return conf, nil
}

// Concurrency is how many calls the exporter may make at once.
func (w *Writer) Concurrency() int { return w.concurrency }

// Close releases idle connections. Calls in flight finish on their own.
func (w *Writer) Close() error {
	w.client.CloseIdleConnections()
	return nil
}

// bound limits one call of the Writer to its timeout.
func (w *Writer) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, w.timeout)
}
