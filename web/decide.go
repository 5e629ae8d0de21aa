package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// confirm shows the confirmation page of an admin's decision on the
// quarantine of the :id configuration: the decision's kind and name, where
// its form goes (suffix), the pending staged deletes it is about (Count);
// word fills in the question. Yes carries the quarantine it is about.
func (s *Server) confirm(c echo.Context, kind, what, suffix string, word func(*store.Configuration, *views.ConfirmPage)) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	p := views.ConfirmPage{Base: s.base(c, what+" · "+cfg.Name, "configurations"), ConfigID: cfg.ID, ConfigName: cfg.Name,
		Kind: kind, Action: views.ConfigURL(cfg.ID, suffix), CancelURL: views.ConfigURL(cfg.ID, ""), QuarantineID: cfg.QuarantineID}
	if p.Count, err = s.store.PendingStaged(c.Request().Context(), cfg.ID); err != nil {
		return err
	}
	word(cfg, &p)
	return render(c, http.StatusOK, views.Confirm(p))
}

// decision is an admin's decision on a quarantine, as the engine takes it
// (Engine.AllowDeletes, Engine.RestartSync).
type decision func(ctx context.Context, configID, quarantineID int64, actor string) (guard.Resolution, error)

// decide carries out the decision the confirmation of the :id configuration
// confirmed, and goes back to the configuration saying what happened: on a
// conflict, refused and why; else what done words of the n staged deletes
// handled, then running (what the cycle that follows is) when one follows,
// which it starts.
func (s *Server) decide(c echo.Context, do decision, refused string, done func(cfg *store.Configuration, n int) string, running string) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	q, err := strconv.ParseInt(c.FormValue("quarantine"), 10, 64)
	if err != nil || q < 0 {
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
	msg := done(cfg, res.Count)
	if res.Next != "" {
		s.sched.Trigger(cfg.ID, res.Next)
		msg += " " + running
	}
	return s.redirectFlash(c, back, "success", msg)
}
