package web

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/syncguard/syncguard/static"
)

// routes lists every route of the portal.
func (s *Server) routes(e *echo.Echo) {
	e.Use(middleware.Recover())
	e.Use(s.securityHeaders)
	e.Use(middleware.BodyLimit("1M"))

	// Without sign-in.
	e.GET("/healthz", s.healthz)
	e.GET("/metrics", s.metricsHandler(s.opts.MetricsToken)) // a bearer token instead
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServer(http.FS(filesOnly{static.FS})))))

	// Everything else has a session, and CSRF protection on every change.
	g := e.Group("", s.loadSession, s.checkCSRF)

	g.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/configurations") })
	g.GET("/login", s.loginPage)
	g.POST("/login", s.login)
	g.POST("/logout", s.logout)

	// One's own account: admins and viewers.
	g.GET("/account", s.account, requireUser)
	g.POST("/account/password", s.changePassword, requireUser)
	g.POST("/account/sign-out-everywhere", s.signOutEverywhere, requireUser)

	// Looking: admins and viewers.
	g.GET("/configurations", s.configurations, requireUser)
	g.GET("/configurations/:id", s.configuration, requireUser)
	g.GET("/configurations/:id/status", s.statusInfo, requireUser)
	g.GET("/configurations/:id/logs", s.logs, requireUser)
	g.GET("/configurations/:id/logs.csv", s.logsCSV, requireUser)
	g.GET("/configurations/:id/logs/:entry", s.logEntry, requireUser)
	g.GET("/configurations/:id/deleted", s.deleted, requireUser)
	g.GET("/agents/:id", s.agent, requireUser)
	g.GET("/audit", s.audit, requireUser)
	g.GET("/outbox", s.outbox, requireUser)

	// Making a configuration: admins only. Nothing is saved before the last step.
	g.GET("/configurations/new", s.newConfig, requireAdmin)
	g.POST("/configurations/new", s.saveNewConfigSource, requireAdmin)
	g.GET("/configurations/new/:draft/source", s.newConfigSource, requireAdmin)
	g.POST("/configurations/new/:draft/source", s.saveNewConfigSource, requireAdmin)
	g.GET("/configurations/new/:draft/scope", s.newConfigScope, requireAdmin)
	g.POST("/configurations/new/:draft/scope", s.saveNewConfigScope, requireAdmin)
	g.GET("/configurations/new/:draft/target", s.newConfigTarget, requireAdmin)
	g.POST("/configurations/new/:draft/target", s.saveNewConfigTarget, requireAdmin)
	g.GET("/configurations/new/:draft/basics", s.newConfigBasics, requireAdmin)
	g.POST("/configurations/new/:draft/basics", s.createConfig, requireAdmin)

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
	g.GET("/configurations/:id/deleted/restore", s.confirmRestore, requireAdmin)
	g.POST("/configurations/:id/deleted/restore", s.restore, requireAdmin)
	g.POST("/configurations/:id/target/test", s.testTarget, requireAdmin)
	g.GET("/configurations/:id/target/edit", s.editTarget, requireAdmin)
	g.POST("/configurations/:id/target", s.saveTarget, requireAdmin)
	g.GET("/configurations/:id/source/edit", s.editSource, requireAdmin)
	g.POST("/configurations/:id/source", s.saveSource, requireAdmin)
	g.GET("/configurations/:id/schedule/edit", s.editSchedule, requireAdmin)
	g.POST("/configurations/:id/schedule", s.saveSchedule, requireAdmin)
	g.GET("/configurations/:id/delete", s.confirmDelete, requireAdmin)
	g.POST("/configurations/:id/delete", s.deleteConfig, requireAdmin)

	// Users: admins only (everyone changes their own password on /account).
	g.GET("/users", s.users, requireAdmin)
	g.GET("/users/new", s.newUser, requireAdmin)
	g.POST("/users", s.addUser, requireAdmin)
	g.POST("/users/:id/role", s.setRole, requireAdmin)
	g.GET("/users/:id/password", s.resetPasswordPage, requireAdmin)
	g.POST("/users/:id/password", s.resetPassword, requireAdmin)
	g.GET("/users/:id/remove", s.confirmRemoveUser, requireAdmin)
	g.POST("/users/:id/remove", s.removeUser, requireAdmin)
}

// securityHeaders forbids inline script and style, framing and sniffing;
// under TLS it tells browsers to come back over HTTPS only.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if s.opts.Secure {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// filesOnly serves the files of an fs.FS and nothing for its directories:
// no listing of what is embedded.
type filesOnly struct{ fs.FS }

func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if fi, err := file.Stat(); err != nil || fi.IsDir() {
		file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}

func (s *Server) healthz(c echo.Context) error {
	if _, err := s.store.UserCount(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ok\n")
}
