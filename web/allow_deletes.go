package web

import (
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// confirmAllow asks "Allow N deletions from <config>?".
func (s *Server) confirmAllow(c echo.Context) error {
	return s.confirm(c, "allow", "Allow deletes", "/allow-deletes", func(cfg *store.Configuration, p *views.ConfirmPage) {
		if cfg.QuarantineID == 0 {
			p.Nothing = "There are no staged deletions to allow for " + cfg.Name + "."
			return
		}
		p.Question = fmt.Sprintf("Allow %s from %s?", views.Plural(p.Count, "deletion", "deletions"), cfg.Name)
		p.Explain = fmt.Sprintf("Yes deletes the %s staged by cycle %d from the target directory, then runs the next cycle. ",
			views.Plural(p.Count, "object", "objects"), cfg.QuarantineID)
		if h := (store.Hold{Since: s.store.Now(), For: cfg.Basics.Hold}); h.On() {
			p.Explain += fmt.Sprintf("The deletions are not final at once: each object is disabled in the target and held for %s, "+
				"until %s, and can be restored from Deleted objects until then.", store.HoldText(h.For), formatTime(h.Until()))
		} else {
			p.Explain += "This cannot be undone."
		}
	})
}

// allowDeletes applies the staged deletes of the confirmed quarantine.
func (s *Server) allowDeletes(c echo.Context) error {
	return s.decide(c, s.engine.AllowDeletes, "Nothing was deleted", func(cfg *store.Configuration, n int) string {
		msg := fmt.Sprintf("Deletions accepted: %s deleted from %s.", views.Plural(n, "object", "objects"), cfg.Name)
		if h := (store.Hold{Since: s.store.Now(), For: cfg.Basics.Hold}); h.On() {
			msg += fmt.Sprintf(" They are held until %s: Deleted objects can restore them until then.", formatTime(h.Until()))
		}
		return msg
	}, "The next cycle is running.")
}
