// Package web is syncguard's admin portal: an Echo server rendering templ
// views over the store and the guard engine.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// Options configure a Server.
type Options struct {
	Store     *store.Store
	Engine    *guard.Engine
	Scheduler *guard.Scheduler
	Log       *slog.Logger
	// Secure says the portal is served over TLS (directly or behind a
	// proxy that terminates TLS): cookies are Secure and __Host- prefixed,
	// and answers carry Strict-Transport-Security.
	Secure bool
	// PublicURL is the portal's address as browsers know it; a form posted
	// from its origin is the portal's own (besides the Host it was sent to).
	PublicURL string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client: sign-in throttling and the audit then see people, not
	// the proxy.
	TrustedProxies []netip.Prefix
	// MetricsToken is the bearer token of /metrics; empty: no /metrics (404).
	MetricsToken string
}

// Server is the portal.
type Server struct {
	opts        Options
	store       *store.Store
	engine      *guard.Engine
	sched       *guard.Scheduler
	log         *slog.Logger
	sessions    *dbSessions
	throttle    *throttle
	signInAudit *signInAudit
	checks      chan struct{} // password checks running
	drafts      *drafts
	echo        *echo.Echo
}

// New builds the portal.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Store == nil {
		return nil, errors.New("web: no store")
	}
	s := &Server{opts: opts, store: opts.Store, engine: opts.Engine, sched: opts.Scheduler, log: opts.Log,
		sessions: newDBSessions(opts.Store, opts.Secure), throttle: newThrottle(opts.Store.Now),
		signInAudit: newSignInAudit(opts.Store, opts.Log), checks: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		drafts: newDrafts(opts.Store.Now)}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	s.echo = e
	s.routes(e)
	return s, nil
}

// ServeHTTP makes the portal an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Echo returns the underlying router (for serving and tests).
func (s *Server) Echo() *echo.Echo { return s.echo }

// render writes a component with a status, buffered so a failed render is a
// clean 500 rather than half a page.
func render(c echo.Context, status int, comp templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// errForbidden is what a viewer gets for an admin's action.
var errForbidden = echo.NewHTTPError(http.StatusForbidden, "Only an admin can do this.")

// notFound is the error of a page whose object does not exist.
func notFound(what string) error {
	return store.Errorf(store.NotFound, "%s does not exist.", what)
}

// codeStatus maps the error codes of store and guard to an HTTP status, the
// title of the error page, and the message shown when the error has none.
var codeStatus = map[string]struct {
	status     int
	title, msg string
}{
	store.NotFound: {http.StatusNotFound, "Not Found", "This page does not exist."},
	store.Conflict: {http.StatusConflict, "Conflict", "This changed while you were looking. Reload the page and try again."},
	store.Invalid:  {http.StatusUnprocessableEntity, "Unprocessable Entity", "This request is not valid."},
}

// handleError decides what the user sees for an error: an error with a code
// (store.Error) shows its message under the status of its code, an
// echo.HTTPError below 500 its own; anything else is internal, logged and
// never shown.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed || errors.Is(err, context.Canceled) {
		return
	}
	code, title, msg := http.StatusInternalServerError, "Something went wrong", "The error was logged. Try again, or ask your administrator."
	var he *echo.HTTPError
	if cs, ok := codeStatus[store.ErrorCode(err)]; ok {
		code, title, msg = cs.status, cs.title, cs.msg
		if m := store.ErrorMessage(err); m != "" {
			msg = m
		}
	} else if errors.As(err, &he) {
		code, title = he.Code, http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && code < 500 {
			msg = m
		}
	}
	if code >= 500 {
		s.log.Error("request", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(code)
		return
	}
	page := views.ErrorPage{Base: s.base(c, title, ""), Code: code, Title: title, Message: msg}
	if err := render(c, code, views.Error(page)); err != nil {
		s.log.Error("render error page", "err", err)
		c.String(code, msg)
	}
}
