package web

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// session returns the request's session, loaded once per request by
// loadSession. Should loading fail, a signed-out session stands in: the
// error itself went to loadSession.
func (s *Server) session(c echo.Context) *sessions.Session {
	sess, err := s.sessions.Get(c.Request(), sessionName)
	if err != nil {
		sess, _ = s.sessions.New(&http.Request{Header: http.Header{}}, sessionName)
	}
	return sess
}

const sessionName = "syncguard"

// loadSession loads the request's session and puts the signed-in user (if
// any) and the CSRF token in the context. The user is read from the store
// on each request, by id: a removed user is signed out at once, and one
// added again under the same name is someone else.
func (s *Server) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := s.sessions.Get(c.Request(), sessionName)
		if err != nil {
			return err
		}
		if id, ok := sess.Values[valUserID].(int64); ok && !sess.IsNew {
			u, err := s.store.UserByID(c.Request().Context(), id)
			switch {
			case err == nil:
				c.Set("user", u)
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		tok, _ := sess.Values[valCSRF].(string)
		c.Set("csrf", tok)
		if sess.Values[valSetPre] == true {
			if err := sess.Save(c.Request(), c.Response()); err != nil {
				return err
			}
		}
		return next(c)
	}
}

func currentUser(c echo.Context) *store.User {
	u, _ := c.Get("user").(*store.User)
	return u
}

// requireUser sends signed-out people to sign in, then back.
func requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if currentUser(c) == nil {
			if c.Request().Method != http.MethodGet {
				return echo.NewHTTPError(http.StatusUnauthorized, "Sign in first.")
			}
			return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		return next(c)
	}
}

// requireAdmin refuses viewers.
func requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return requireUser(func(c echo.Context) error {
		if currentUser(c).Role != store.RoleAdmin {
			return errForbidden
		}
		return next(c)
	})
}

// safeNext keeps a sign-in redirect on this site: a local absolute path only.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n\t\\") {
		return "/configurations"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/configurations"
	}
	return next
}

func (s *Server) loginPage(c echo.Context) error {
	if currentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	return render(c, http.StatusOK, views.Login(views.LoginPage{Base: s.base(c, "Sign in", ""), Next: c.QueryParam("next")}))
}

func (s *Server) login(c echo.Context) error {
	ctx := c.Request().Context()
	r := c.Request()
	// From the body only: a password never travels in a URL.
	name := strings.TrimSpace(r.PostFormValue("username"))
	password, next := r.PostFormValue("password"), r.PostFormValue("next")
	page := views.LoginPage{Base: s.base(c, "Sign in", ""), Username: name, Next: next}
	addr := s.clientAddr(r)
	res, wait := s.throttle.reserve(name, throttleAddress(addr))
	if wait > 0 {
		s.signInAudit.record(ctx, actionSignInThrottled, name, addr.String())
		page.Error = "Too many failed sign-in attempts. Try again in " + waitText(wait) + "."
		c.Response().Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		return render(c, http.StatusTooManyRequests, views.Login(page))
	}
	u, ok, err := s.checkPassword(ctx, name, password)
	if err != nil {
		return err
	}
	if !ok {
		s.signInAudit.record(ctx, actionSignInFailed, name, addr.String())
		page.Error = "The username or password is not right."
		return render(c, http.StatusUnauthorized, views.Login(page))
	}
	res.succeeded()
	if err := s.startSession(c, u, addr.String(), ""); err != nil {
		return err
	}
	if err := s.store.SignedIn(ctx, u, "from "+addr.String()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, safeNext(next))
}

// checkPassword looks the user up and checks the password, a few at a
// time: bcrypt takes a CPU core for tens of milliseconds, and pages must
// stay quick while sign-ins arrive. An unknown name costs the same as a
// wrong password, so names cannot be probed.
func (s *Server) checkPassword(ctx context.Context, name, password string) (*store.User, bool, error) {
	select {
	case s.checks <- struct{}{}:
		defer func() { <-s.checks }()
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	u, err := s.store.UserByName(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	if u == nil {
		guard.CheckPassword(dummyHash, password)
		return nil, false, nil
	}
	return u, guard.CheckPassword(u.PasswordHash, password), nil
}

// startSession signs u in on this browser with a new server-side session:
// nothing from before survives, and the id is a new one (no fixation).
// flash, when not empty, is shown on the next page ("s:text", as
// redirectFlash writes it).
func (s *Server) startSession(c echo.Context, u *store.User, address, flash string) error {
	sess, err := s.sessions.New(c.Request(), sessionName)
	if err != nil {
		return err
	}
	sess.IsNew = true
	sess.Values = map[any]any{valUserID: u.ID, valAddress: address, valAgent: c.Request().UserAgent()}
	if flash != "" {
		sess.AddFlash(flash)
	}
	return sess.Save(c.Request(), c.Response())
}

// waitText words a wait as people say it: "30 seconds", "1 minute", "15 minutes".
func waitText(d time.Duration) string {
	if d < time.Minute {
		sec := int((d + time.Second - 1) / time.Second)
		if sec <= 1 {
			return "1 second"
		}
		return strconv.Itoa(sec) + " seconds"
	}
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "1 minute"
	}
	return strconv.Itoa(m) + " minutes"
}

// dummyHash is a bcrypt hash of a random password, compared against when
// the user does not exist.
var dummyHash = func() string {
	h, _ := guard.HashPassword(newID())
	return h
}()

func (s *Server) logout(c echo.Context) error {
	sess := s.session(c)
	sess.Options.MaxAge = -1
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// clientAddr is the address of the person behind a request: the peer's,
// or, when the peer is a trusted proxy (--trusted-proxy), the first
// address of X-Forwarded-For, read from the right, that is not a trusted
// proxy. What a client writes into the header itself is left of what the
// proxies add, so it counts for nothing.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if !s.trusted(addr) {
		return addr
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage the client sent: the proxy that received it is all we know
		}
		if addr = a.Unmap(); !s.trusted(addr) {
			break
		}
	}
	return addr
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
