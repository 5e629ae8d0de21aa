package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// errCSRF is what a request that changes something gets when it did not
// come from one of the portal's own forms.
var errCSRF = echo.NewHTTPError(http.StatusForbidden,
	"This form has expired or did not come from this site. Go back, reload the page and try again.")

// checkCSRF refuses a request that changes something unless it carries
// the session's token (a synchronizer token: stored with the session on
// the server, or for a signed-out browser bound to its pre-sign-in cookie
// by a MAC), in the form field _csrf or the X-CSRF-Token header, never in
// the URL. A browser that says the request comes from another site or
// origin (Sec-Fetch-Site, Origin) is refused even with the right token.
func (s *Server) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
			return errCSRF
		}
		if origin := r.Header.Get("Origin"); origin != "" && !s.sameOrigin(r, origin) {
			return errCSRF
		}
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = r.PostFormValue("_csrf") // the body only
		}
		want, _ := c.Get("csrf").(string)
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return errCSRF
		}
		return next(c)
	}
}

// sameOrigin reports whether origin is the portal's: the scheme and host
// the request was made to, or those of --public-url (a proxy in front may
// pass another Host).
func (s *Server) sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil || s.opts.Secure {
		scheme = "https"
	}
	if strings.EqualFold(u.Scheme, scheme) && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if p, err := url.Parse(s.opts.PublicURL); err == nil && p.Host != "" {
		return strings.EqualFold(u.Scheme, p.Scheme) && strings.EqualFold(u.Host, p.Host)
	}
	return false
}
