package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

const sessionName = "syncguard_session"

// session returns the request's session; a cookie that no longer decodes
// (keys rotated, tampered) is a fresh, signed-out session, not an error.
func (s *Server) session(c echo.Context) *sessions.Session {
	sess, err := s.sessions.Get(c.Request(), sessionName)
	if err != nil {
		sess, _ = s.sessions.New(c.Request(), sessionName)
		sess.IsNew = true
	}
	return sess
}

// loadUser puts the signed-in user (if any) in the context. The user is read
// from the store on each request, so a removed user is signed out at once.
func (s *Server) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess := s.session(c)
		if name, ok := sess.Values["user"].(string); ok && name != "" {
			u, err := s.store.UserByName(c.Request().Context(), name)
			switch {
			case err == nil:
				c.Set("user", u)
			case !errors.Is(err, store.ErrNotFound):
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
	name := strings.TrimSpace(c.FormValue("username"))
	password := c.FormValue("password")
	next := c.FormValue("next")
	page := views.LoginPage{Base: s.base(c, "Sign in", ""), Username: name, Next: next}
	ip := clientIP(c)
	if wait := s.limiter.blocked(name, ip); wait > 0 {
		page.Error = "Too many failed sign-in attempts. Try again in " + waitText(wait) + "."
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return render(c, http.StatusTooManyRequests, views.Login(page))
	}
	u, err := s.store.UserByName(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if u == nil || !guard.CheckPassword(u.PasswordHash, password) {
		if u == nil {
			// Spend the same time as a wrong password, so names cannot be probed.
			guard.CheckPassword(dummyHash, password)
		}
		s.limiter.fail(name, ip)
		page.Error = "The username or password is not right."
		return render(c, http.StatusUnauthorized, views.Login(page))
	}
	s.limiter.reset(name, ip)
	// A fresh session on sign-in: nothing from before survives, and the
	// session id changes (no fixation).
	sess, _ := s.sessions.New(c.Request(), sessionName)
	sess.Values = map[any]any{"user": u.Name, "sid": randomID(), "at": time.Now().Unix()}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	if err := s.store.AddAudit(ctx, &store.AuditEvent{Actor: u.Name, Action: "Signed in", Details: "from " + ip}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, safeNext(next))
}

// waitText words a wait as people say it: "1 minute", "15 minutes".
func waitText(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "1 minute"
	}
	return strconv.Itoa(m) + " minutes"
}

// dummyHash is a bcrypt hash of a random password, compared against when
// the user does not exist.
var dummyHash = func() string {
	h, _ := guard.HashPassword(randomID() + randomID())
	return h
}()

func (s *Server) logout(c echo.Context) error {
	sess := s.session(c)
	sess.Values = map[any]any{}
	sess.Options.MaxAge = -1
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func clientIP(c echo.Context) string {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

// limiter counts failed sign-ins per user name and per address in a window.
type limiter struct {
	mu             sync.Mutex
	perUser, perIP int
	window         time.Duration
	users, addrs   map[string][]time.Time
}

func newLimiter(perUser, perIP int, window time.Duration) *limiter {
	return &limiter{perUser: perUser, perIP: perIP, window: window, users: map[string][]time.Time{}, addrs: map[string][]time.Time{}}
}

func (l *limiter) recent(m map[string][]time.Time, key string, now time.Time) []time.Time {
	ts := m[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(m, key)
	} else {
		m[key] = ts
	}
	return ts
}

// blocked returns how long to wait before another attempt, or 0.
func (l *limiter) blocked(user, ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	var wait time.Duration
	for _, x := range []struct {
		m     map[string][]time.Time
		key   string
		limit int
	}{{l.users, strings.ToLower(user), l.perUser}, {l.addrs, ip, l.perIP}} {
		if ts := l.recent(x.m, x.key, now); len(ts) >= x.limit {
			wait = max(wait, l.window-now.Sub(ts[len(ts)-x.limit]))
		}
	}
	return wait
}

func (l *limiter) fail(user, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.users)+len(l.addrs) > 10000 {
		// Someone is trying many names: forget what is out of the window
		// so the tables cannot grow without bound.
		for k := range l.users {
			l.recent(l.users, k, now)
		}
		for k := range l.addrs {
			l.recent(l.addrs, k, now)
		}
	}
	l.users[strings.ToLower(user)] = append(l.recent(l.users, strings.ToLower(user), now), now)
	l.addrs[ip] = append(l.recent(l.addrs, ip, now), now)
}

func (l *limiter) reset(user, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.users, strings.ToLower(user))
}
