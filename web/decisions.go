package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

func (s *Server) statusInfo(c echo.Context) error {
	ctx := c.Request().Context()
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	o, err := guard.OverviewOf(ctx, s.store, cfg)
	if err != nil {
		return err
	}
	p := views.StatusInfoPage{Base: s.base(c, "Sync status · "+cfg.Name, "configurations"), ConfigID: cfg.ID, ConfigName: cfg.Name,
		Threshold: cfg.Basics.Threshold, Status: statusView(cfg, o.Status)}
	if cfg.QuarantineID != 0 {
		cy, err := s.store.Cycle(ctx, cfg.ID, cfg.QuarantineID)
		if err != nil {
			return err
		}
		p.Quarantined = true
		p.CycleID, p.When, p.Staged, p.Threshold = cy.ID, formatTime(cy.FinishedAt), cy.StagedDeletes, cy.Threshold
		total, byType, byOU, err := s.store.StagedSummary(ctx, cfg.ID, cy.ID, store.StagedPending)
		if err != nil {
			return err
		}
		p.Pending = total
		for _, c := range byType {
			p.ByType = append(p.ByType, views.Count{Label: typeLabel(c.Label), N: c.N})
		}
		for _, c := range byOU {
			p.ByOU = append(p.ByOU, views.Count{Label: c.Label, N: c.N})
		}
		sample, err := s.store.StagedDeletes(ctx, cfg.ID, cy.ID, store.StagedPending, 25)
		if err != nil {
			return err
		}
		for _, d := range sample {
			p.Sample = append(p.Sample, views.StagedObject{Type: typeName(d.Type), Name: d.Name, DN: d.DN, Anchor: d.Anchor})
		}
		p.SampleOf = total
		p.LogURL = configURL(cfg.ID, "/logs?action=StagedDelete&cycle="+strconv.FormatInt(cy.ID, 10))
	} else if o.LastCycle != nil {
		v := cycleView(cfg.ID, o.LastCycle)
		p.LastCycle = &v
	}
	return render(c, http.StatusOK, views.StatusInfo(p))
}

func typeLabel(t string) string {
	switch t {
	case guard.TypeUser:
		return "Users"
	case guard.TypeGroup:
		return "Groups"
	}
	return t
}

// typeName words one object's type as the breakdown does.
func typeName(t string) string {
	switch t {
	case guard.TypeUser:
		return "User"
	case guard.TypeGroup:
		return "Group"
	}
	return t
}

func (s *Server) confirmAllow(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	p := views.ConfirmPage{Base: s.base(c, "Allow deletes · "+cfg.Name, "configurations"), ConfigID: cfg.ID, ConfigName: cfg.Name,
		Kind: "allow", Action: configURL(cfg.ID, "/allow-deletes"), CancelURL: configURL(cfg.ID, ""), QuarantineID: cfg.QuarantineID}
	if cfg.QuarantineID == 0 {
		p.Nothing = "There are no staged deletions to allow for " + cfg.Name + "."
		return render(c, http.StatusOK, views.Confirm(p))
	}
	n, err := s.store.PendingStaged(c.Request().Context(), cfg.ID)
	if err != nil {
		return err
	}
	p.Count = n
	p.Question = fmt.Sprintf("Allow %s from %s?", plural(n, "deletion", "deletions"), cfg.Name)
	p.Explain = fmt.Sprintf("Yes deletes the %s staged by cycle %d from the target directory, then runs the next cycle. This cannot be undone.",
		plural(n, "object", "objects"), cfg.QuarantineID)
	return render(c, http.StatusOK, views.Confirm(p))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return views.Num(n) + " " + many
}

// quarantineForm reads the quarantine id a confirmation carried.
func quarantineForm(c echo.Context) (int64, error) {
	q, err := strconv.ParseInt(c.FormValue("quarantine"), 10, 64)
	if err != nil || q < 0 {
		return 0, echo.NewHTTPError(http.StatusBadRequest, "This confirmation is incomplete. Go back to the configuration and try again.")
	}
	return q, nil
}

func (s *Server) allowDeletes(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	q, err := quarantineForm(c)
	if err != nil {
		return err
	}
	user := currentUser(c).Name
	res, err := s.engine.AllowDeletes(c.Request().Context(), cfg.ID, q, user)
	if errors.Is(err, store.ErrConflict) {
		return s.redirectFlash(c, configURL(cfg.ID, ""), "error", "Nothing was deleted: "+store.ErrorMessage(err)+".")
	}
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Deletions accepted: %s deleted from %s.", plural(res.Count, "object", "objects"), cfg.Name)
	if s.runNext(cfg.ID, res) {
		msg += " The next cycle is running."
	}
	return s.redirectFlash(c, configURL(cfg.ID, ""), "success", msg)
}

func (s *Server) confirmRestart(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	p := views.ConfirmPage{Base: s.base(c, "Restart sync · "+cfg.Name, "configurations"), ConfigID: cfg.ID, ConfigName: cfg.Name,
		Kind: "restart", Action: configURL(cfg.ID, "/restart"), CancelURL: configURL(cfg.ID, ""), QuarantineID: cfg.QuarantineID,
		Question: "Restart sync for " + cfg.Name + "?"}
	n, err := s.store.PendingStaged(c.Request().Context(), cfg.ID)
	if err != nil {
		return err
	}
	p.Count = n
	if n > 0 {
		p.Explain = fmt.Sprintf("Yes discards the %s staged by cycle %d — nothing is deleted — and runs a full cycle now. "+
			"If the objects are back in the source or the scope, nothing will be deleted; if not, the guard stops sync again.",
			plural(n, "staged deletion", "staged deletions"), cfg.QuarantineID)
	} else {
		p.Explain = "Yes runs a full cycle now."
	}
	return render(c, http.StatusOK, views.Confirm(p))
}

func (s *Server) restart(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	q, err := quarantineForm(c)
	if err != nil {
		return err
	}
	res, err := s.engine.RestartSync(c.Request().Context(), cfg.ID, q, currentUser(c).Name)
	if errors.Is(err, store.ErrConflict) {
		return s.redirectFlash(c, configURL(cfg.ID, ""), "error", "Sync was not restarted: "+store.ErrorMessage(err)+".")
	}
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Sync restarted: %s discarded, nothing deleted.", plural(res.Count, "staged deletion", "staged deletions"))
	if s.runNext(cfg.ID, res) {
		msg += " A full cycle is running."
	}
	return s.redirectFlash(c, configURL(cfg.ID, ""), "success", msg)
}

// runNext starts the cycle that follows an admin's decision, if any, and
// reports whether one follows.
func (s *Server) runNext(configID int64, res guard.Resolution) bool {
	if res.Next == "" {
		return false
	}
	s.sched.Trigger(configID, res.Next)
	return true
}
