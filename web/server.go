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
		signInAudit: newSignInAudit(opts.Store, opts.Log), checks: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
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

// Error kinds a handler may return; handleError maps them to a status and a page.
var (
	errForbidden = echo.NewHTTPError(http.StatusForbidden, "Only an admin can do this.")
)

func notFound(what string) error {
	return echo.NewHTTPError(http.StatusNotFound, what+" does not exist.")
}

// handleError decides what the user sees for an error. Internal errors are
// logged and never shown.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, title, msg := http.StatusInternalServerError, "Something went wrong", "The error was logged. Try again, or ask your administrator."
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		code = he.Code
		title = http.StatusText(code)
		if m, ok := he.Message.(string); ok {
			msg = m
		}
		if code >= 500 {
			s.log.Error("request", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
			msg = "The error was logged. Try again, or ask your administrator."
		}
	case errors.Is(err, store.ErrNotFound):
		code, title, msg = http.StatusNotFound, "Not Found", "This page does not exist."
	case errors.Is(err, context.Canceled):
		return
	default:
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
