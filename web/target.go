package web

import (
	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/views"
)

// targetView is the Target pane's model: the target's settings (never a
// secret) and its exports, each count linking to its log entries.
func targetView(configID int64, t guard.TargetOverview) views.Target {
	return views.Target{Kind: t.Kind, URL: t.URL, BaseDN: t.BaseDN, LastExport: formatTime(t.State.LastExport),
		Pending: t.State.Pending, Failed: t.State.Failed,
		PendingURL:  views.ConfigURL(configID, "/logs?status=Pending"),
		FailedURL:   views.ConfigURL(configID, "/logs?status=Failure"),
		Unreachable: formatTime(t.State.Unreachable), LastError: t.State.LastError}
}

// testTarget is Test connection: it connects to the configuration's
// target, authenticates and reads one page, and shows the answer on the
// configuration page (a flash: the page can be reloaded without testing
// again). It changes nothing.
func (s *Server) testTarget(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := s.store.Target(ctx, cfg.ID)
	if err != nil {
		return err
	}
	msg, err := guard.TestTarget(ctx, t, cfg)
	if err != nil {
		return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "error", "Test connection failed: "+err.Error())
	}
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success", "Test connection: "+msg)
}
