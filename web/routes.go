package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/syncguard/syncguard/static"
)

// routes lists every route of the portal.
func (s *Server) routes(e *echo.Echo) {
	e.Use(middleware.Recover())
	e.Use(securityHeaders)
	e.Use(middleware.BodyLimit("1M"))

	// Without sign-in.
	e.GET("/healthz", s.healthz)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServer(http.FS(static.FS)))))

	// Everything else has a session and CSRF protection on every form.
	g := e.Group("", middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:_csrf,header:X-CSRF-Token",
		CookieName:     "syncguard_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   s.opts.Secure,
		CookieSameSite: http.SameSiteLaxMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, "This form has expired or did not come from this site. Go back, reload the page and try again.")
		},
	}), s.loadUser)

	g.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/configurations") })
	g.GET("/login", s.loginPage)
	g.POST("/login", s.login)
	g.POST("/logout", s.logout)

	// Looking: admins and viewers.
	g.GET("/configurations", s.configurations, requireUser)
	g.GET("/configurations/:id", s.configuration, requireUser)
	g.GET("/configurations/:id/status", s.statusInfo, requireUser)
	g.GET("/configurations/:id/logs", s.logs, requireUser)
	g.GET("/configurations/:id/logs.csv", s.logsCSV, requireUser)
	g.GET("/configurations/:id/logs/:entry", s.logEntry, requireUser)
	g.GET("/agents/:id", s.agent, requireUser)
	g.GET("/audit", s.audit, requireUser)
	g.GET("/outbox", s.outbox, requireUser)

	// Changing: admins only.
	g.GET("/configurations/:id/basics/edit", s.editBasics, requireAdmin)
	g.POST("/configurations/:id/basics", s.saveBasics, requireAdmin)
	g.GET("/configurations/:id/scope/edit", s.editScope, requireAdmin)
	g.POST("/configurations/:id/scope", s.saveScope, requireAdmin)
	g.POST("/configurations/:id/sync", s.syncNow, requireAdmin)
	g.GET("/configurations/:id/allow-deletes", s.confirmAllow, requireAdmin)
	g.POST("/configurations/:id/allow-deletes", s.allowDeletes, requireAdmin)
	g.GET("/configurations/:id/restart", s.confirmRestart, requireAdmin)
	g.POST("/configurations/:id/restart", s.restart, requireAdmin)
}

// securityHeaders forbids inline script and style, framing and sniffing.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

func (s *Server) healthz(c echo.Context) error {
	if _, err := s.store.UserCount(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ok\n")
}
