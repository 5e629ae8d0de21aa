package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// decision is an admin's decision on a quarantine, as the engine takes it
// (Engine.AllowPart, Engine.RestartSync).
type decision func(ctx context.Context, configID, quarantineID int64, actor string) (guard.Resolution, error)

// decide carries out the decision the confirmation of the :id configuration
// confirmed, and goes back to the configuration saying what happened: on a
// conflict, refused and why; else what done words of the resolution, then
// running (what the cycle that follows is) when one follows, which it
// starts.
func (s *Server) decide(c echo.Context, do decision, refused string, done func(*store.Configuration, guard.Resolution) string, running string) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	q, err := quarantineParam(c)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "This confirmation is incomplete. Go back to the configuration and try again.")
	}
	back := views.ConfigURL(cfg.ID, "")
	res, err := do(c.Request().Context(), cfg.ID, q, currentUser(c).Name)
	if errors.Is(err, store.ErrConflict) {
		return s.redirectFlash(c, back, "error", refused+": "+store.ErrorMessage(err)+".")
	}
	if err != nil {
		return err
	}
	msg := done(cfg, res)
	if res.Next != "" {
		s.sched.Trigger(cfg.ID, res.Next)
		msg += " " + running
	}
	return s.redirectFlash(c, back, "success", msg)
}
