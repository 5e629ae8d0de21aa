package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// statusInfo is the sync status info page: the pending quarantine (when,
// how many against what threshold, by type and OU, a sample), or the last
// cycle.
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
			p.ByType = append(p.ByType, views.Count{Label: typeWord(c.Label, true), N: c.N})
		}
		for _, c := range byOU {
			p.ByOU = append(p.ByOU, views.Count{Label: c.Label, N: c.N})
		}
		sample, err := s.store.StagedDeletes(ctx, cfg.ID, cy.ID, store.StagedPending, 25)
		if err != nil {
			return err
		}
		for _, d := range sample {
			p.Sample = append(p.Sample, views.StagedObject{Type: typeWord(d.Type, false), Name: d.Name, DN: d.DN, Anchor: d.Anchor})
		}
		p.SampleOf = total
		p.LogURL = views.ConfigURL(cfg.ID, "/logs?action=StagedDelete&cycle="+strconv.FormatInt(cy.ID, 10))
	} else if o.LastCycle != nil {
		v := cycleView(cfg.ID, o.LastCycle)
		p.LastCycle = &v
	}
	return render(c, http.StatusOK, views.StatusInfo(p))
}

// typeWord words an object type as the breakdown does: "User", or
// "Users" for the counts.
func typeWord(t string, many bool) string {
	w, ok := map[string]string{guard.TypeUser: "User", guard.TypeGroup: "Group"}[t]
	switch {
	case !ok:
		return t
	case many:
		return w + "s"
	}
	return w
}
