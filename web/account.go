package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// actionPasswordCheckFailed is audited when Change password is given a
// wrong current password: someone at an open session guessing.
const actionPasswordCheckFailed = "Password check failed"

func (s *Server) account(c echo.Context) error {
	p, err := s.accountPage(c, nil)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Account(p))
}

func (s *Server) accountPage(c echo.Context, errs map[string]string) (views.AccountPage, error) {
	u := currentUser(c)
	p := views.AccountPage{Base: s.base(c, "Your account", "account"), Errors: errs,
		Idle: humanDuration(store.SessionIdle), Lifetime: humanDuration(store.SessionLifetime)}
	sessions, err := s.store.UserSessions(c.Request().Context(), u.ID)
	if err != nil {
		return p, err
	}
	current := store.HashSessionID(s.session(c).ID)
	for _, sess := range sessions {
		p.Sessions = append(p.Sessions, views.SessionRow{SignedIn: formatTime(sess.CreatedAt), LastUsed: formatTime(sess.SeenAt),
			From: sess.Address, Browser: sess.UserAgent, Current: sess.IDHash == current})
	}
	return p, nil
}

// changePassword checks the current password (throttled like a sign-in),
// stores the new one, ends every session of the user, and signs this
// browser in again with a new session.
func (s *Server) changePassword(c echo.Context) error {
	ctx := c.Request().Context()
	r := c.Request()
	u := currentUser(c)
	current, next, repeat := r.PostFormValue("current_password"), r.PostFormValue("new_password"), r.PostFormValue("repeat_password")
	refuse := func(status int, errs map[string]string) error {
		p, err := s.accountPage(c, errs)
		if err != nil {
			return err
		}
		return render(c, status, views.Account(p))
	}
	addr := s.clientAddr(r)
	res, wait := s.throttle.reserve(u.Name, throttleAddress(addr))
	if wait > 0 {
		s.signInAudit.record(ctx, actionSignInThrottled, u.Name, addr.String())
		c.Response().Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		return refuse(http.StatusTooManyRequests, map[string]string{"current": "Too many wrong passwords. Try again in " + waitText(wait) + "."})
	}
	if _, ok, err := s.checkPassword(ctx, u.Name, current); err != nil {
		return err
	} else if !ok {
		s.signInAudit.record(ctx, actionPasswordCheckFailed, u.Name, addr.String())
		return refuse(http.StatusUnprocessableEntity, map[string]string{"current": "This is not your current password."})
	}
	res.succeeded()
	hash, err := guard.HashPassword(next)
	switch {
	case next == current:
		return refuse(http.StatusUnprocessableEntity, map[string]string{"new": "Choose a password other than the current one."})
	case err != nil:
		return refuse(http.StatusUnprocessableEntity, map[string]string{"new": capitalize(err.Error()) + "."})
	case repeat != next:
		return refuse(http.StatusUnprocessableEntity, map[string]string{"repeat": "The two new passwords are not the same."})
	}
	if err := s.store.SetPassword(ctx, u.ID, hash, u.Name); err != nil {
		return err
	}
	if err := s.startSession(c, u, addr.String(), "s:Your password was changed. Every other session of yours was signed out."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account")
}

// signOutEverywhere ends every session of the signed-in user, this one too.
func (s *Server) signOutEverywhere(c echo.Context) error {
	u := currentUser(c)
	if _, err := s.store.EndSessions(c.Request().Context(), u.ID, u.Name); err != nil {
		return err
	}
	sess := s.session(c)
	sess.Options.MaxAge = -1
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// humanDuration words 12h as "12 hours" and 168h as "7 days".
func humanDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return strconv.Itoa(int(d/time.Hour)) + " hours"
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
