package web

import (
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// confirmRestart asks "Restart sync for <config>?".
func (s *Server) confirmRestart(c echo.Context) error {
	return s.confirm(c, "restart", "Restart sync", "/restart", func(cfg *store.Configuration, p *views.ConfirmPage) {
		p.Question = "Restart sync for " + cfg.Name + "?"
		p.Explain = "Yes runs a full cycle now."
		if p.Count > 0 {
			p.Explain = fmt.Sprintf("Yes discards the %s staged by cycle %d — nothing is deleted — and runs a full cycle now. "+
				"If the objects are back in the source or the scope, nothing will be deleted; if not, the guard stops sync again.",
				views.Plural(p.Count, "staged deletion", "staged deletions"), cfg.QuarantineID)
		}
	})
}

// restart discards the staged deletes of the confirmed quarantine and
// runs a full cycle.
func (s *Server) restart(c echo.Context) error {
	return s.decide(c, s.engine.RestartSync, "Sync was not restarted", func(_ *store.Configuration, n int) string {
		return fmt.Sprintf("Sync restarted: %s discarded, nothing deleted.", views.Plural(n, "staged deletion", "staged deletions"))
	}, "A full cycle is running.")
}
