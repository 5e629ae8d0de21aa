package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// confirmDelete asks for the configuration's name before Delete
// configuration.
func (s *Server) confirmDelete(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	return s.renderDelete(c, http.StatusOK, cfg, "", "")
}

func (s *Server) renderDelete(c echo.Context, status int, cfg *store.Configuration, typed, problem string) error {
	p := views.DeletePage{Base: s.base(c, "Delete configuration · "+cfg.Name, "configurations"), ConfigID: cfg.ID, Name: cfg.Name,
		Typed: typed, Error: problem}
	var err error
	if p.Users, p.Groups, err = s.store.ObjectCounts(c.Request().Context(), cfg.ID); err != nil {
		return err
	}
	return render(c, status, views.DeleteConfig(p))
}

// deleteConfig deletes the configuration when its name was typed: its
// schedule stops, a running cycle refuses it, the audit keeps the event.
func (s *Server) deleteConfig(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	typed := c.FormValue("confirm_name")
	if typed != cfg.Name {
		msg := "Type " + cfg.Name + " exactly, to be sure of which configuration goes."
		if typed == "" {
			msg = "Type the name, " + cfg.Name + ", to confirm."
		}
		return s.renderDelete(c, http.StatusUnprocessableEntity, cfg, typed, msg)
	}
	if err := s.engine.DeleteConfiguration(c.Request().Context(), cfg.ID, currentUser(c).Name); err != nil {
		if store.ErrorCode(err) == store.Conflict {
			return s.renderDelete(c, http.StatusConflict, cfg, typed, store.ErrorMessage(err))
		}
		return err
	}
	return s.redirectFlash(c, "/configurations", "success",
		"Configuration "+cfg.Name+" deleted. Objects it provisioned to a target stay in place; the audit log keeps the event.")
}
