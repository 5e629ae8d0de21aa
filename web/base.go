package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// base builds what every page shares. It takes the flash message out of the
// session (so it shows once).
func (s *Server) base(c echo.Context, title, nav string) views.Base {
	b := views.Base{Title: title, Nav: nav}
	if tok, ok := c.Get("csrf").(string); ok {
		b.CSRF = tok
	}
	if u := currentUser(c); u != nil {
		b.User = &views.User{Name: u.Name, Role: u.Role}
		sess := s.session(c)
		if fl := sess.Flashes(); len(fl) > 0 {
			if m, ok := fl[0].(string); ok && len(m) > 2 {
				b.Flash = &views.Flash{Kind: flashKind(m[0]), Text: m[2:]}
			}
			sess.Save(c.Request(), c.Response())
		}
	}
	return b
}

func flashKind(k byte) string {
	switch k {
	case 'e':
		return "error"
	case 'i':
		return "info"
	}
	return "success"
}

// redirectFlash redirects with 303 and a message shown once on the next page.
func (s *Server) redirectFlash(c echo.Context, to, kind, msg string) error {
	sess := s.session(c)
	sess.AddFlash(kind[:1] + ":" + msg)
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// configParam loads the configuration named by the :id parameter.
func (s *Server) configParam(c echo.Context) (*store.Configuration, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, notFound("This configuration")
	}
	cfg, err := s.store.Configuration(c.Request().Context(), id)
	if err != nil {
		if isNotFound(err) {
			return nil, notFound("This configuration")
		}
		return nil, err
	}
	return cfg, nil
}

// formatTime shows a time as admins read it, in the server's zone, which
// it names (CSV and JSON give RFC 3339 in UTC); the zero time is empty.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// humanInterval words a schedule interval: "every 2 minutes".
func humanInterval(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "every " + one
		}
		return "every " + strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	case d%time.Second == 0:
		return unit(int64(d/time.Second), "second")
	}
	return "every " + d.String()
}

// configForm is the configuration named by :id and the form posted to it.
func (s *Server) configForm(c echo.Context) (*store.Configuration, url.Values, error) {
	cfg, err := s.configParam(c)
	if err != nil {
		return nil, nil, err
	}
	form, err := formParams(c)
	if err != nil {
		return nil, nil, err
	}
	return cfg, form, nil
}

// formParams is the posted form; a body that is no form is a 400.
func formParams(c echo.Context) (url.Values, error) {
	form, err := c.FormParams()
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	return form, nil
}
