package web

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// confirmRestart asks "Restart sync for <config>?": with deletions staged,
// Yes discards them and runs a full cycle; with none, it runs a full
// cycle (what Run sync now does too).
func (s *Server) confirmRestart(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	p := views.ConfirmPage{Base: s.base(c, "Restart sync · "+cfg.Name, "configurations"), ConfigID: cfg.ID, ConfigName: cfg.Name,
		Kind: "restart", Action: views.ConfigURL(cfg.ID, "/restart"), CancelURL: views.ConfigURL(cfg.ID, ""),
		QuarantineID: cfg.QuarantineID, Question: "Restart sync for " + cfg.Name + "?"}
	if p.Count, err = s.store.PendingStaged(c.Request().Context(), cfg.ID); err != nil {
		return err
	}
	p.Explain = "Sync is not stopped and nothing is staged: Yes runs a full cycle now, as Run sync now does."
	if cfg.QuarantineID != 0 {
		p.Explain = fmt.Sprintf("Yes discards the %s staged by cycle %d — nothing is deleted — and runs a full cycle now. "+
			"If the objects are back in the source or the scope, nothing will be deleted; if not, the guard stops sync again.",
			views.Plural(p.Count, "staged deletion", "staged deletions"), cfg.QuarantineID)
	}
	return render(c, http.StatusOK, views.Confirm(p))
}

// restart discards the staged deletes of the confirmed quarantine and
// runs a full cycle.
func (s *Server) restart(c echo.Context) error {
	return s.decide(c, s.engine.RestartSync, "Sync was not restarted", func(cfg *store.Configuration, r guard.Resolution) string {
		if r.Count == 0 && cfg.QuarantineID == 0 {
			return "Sync restarted."
		}
		return fmt.Sprintf("Sync restarted: %s discarded, nothing deleted.", views.Plural(r.Count, "staged deletion", "staged deletions"))
	}, "A full cycle is running.")
}
