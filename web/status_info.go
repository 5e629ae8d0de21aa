package web

import (
	"context"
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
		Threshold: cfg.Basics.Threshold, Status: statusView(cfg, o.Status), Held: o.Held.Objects, HeldUntil: formatTime(o.Held.NextPurge)}
	if h := (store.Hold{Since: s.store.Now(), For: cfg.Basics.Hold}); h.On() {
		p.Hold, p.HoldUntil = store.HoldText(h.For), formatTime(h.Until())
	}
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
		if p.ByCause, err = s.stagedCauses(ctx, cfg.ID, cy.ID); err != nil {
			return err
		}
		if p.Sample, err = s.stagedSample(ctx, cfg.ID, cy.ID); err != nil {
			return err
		}
		p.SampleOf = total
		p.LogURL = views.ConfigURL(cfg.ID, "/logs?action=StagedDelete&cycle="+strconv.FormatInt(cy.ID, 10))
	} else if o.LastCycle != nil {
		v := cycleView(cfg.ID, o.LastCycle)
		p.LastCycle = &v
	}
	return render(c, http.StatusOK, views.StatusInfo(p))
}

// stagedCauses counts the pending staged deletes of a quarantine by cause.
func (s *Server) stagedCauses(ctx context.Context, configID, cycleID int64) ([]views.Count, error) {
	counts, err := s.store.StagedByCause(ctx, configID, cycleID, store.StagedPending)
	if err != nil {
		return nil, err
	}
	out := make([]views.Count, 0, len(counts))
	for _, c := range counts {
		out = append(out, views.Count{Label: c.Label, N: c.N})
	}
	return out, nil
}

// stagedSample is a sample of the pending staged deletes of a quarantine,
// each with its cause and, for a user still in the target directory,
// whether its account is enabled.
func (s *Server) stagedSample(ctx context.Context, configID, cycleID int64) ([]views.StagedObject, error) {
	sample, err := s.store.StagedDeletes(ctx, configID, cycleID, store.StagedPending, 25)
	if err != nil {
		return nil, err
	}
	anchors := make([]string, len(sample))
	for i, d := range sample {
		anchors[i] = d.Anchor
	}
	objs, err := s.store.TargetObjectsByAnchor(ctx, configID, anchors)
	if err != nil {
		return nil, err
	}
	out := make([]views.StagedObject, 0, len(sample))
	for _, d := range sample {
		o := views.StagedObject{Type: typeWord(d.Type, false), Name: d.Name, DN: d.DN, Anchor: d.Anchor, Cause: string(d.Cause)}
		if obj, ok := objs[d.Anchor]; ok && d.Type == guard.TypeUser {
			o.Account = accountWord(guard.AccountEnabled(obj.Attributes))
		}
		out = append(out, o)
	}
	return out, nil
}

// accountWord words whether an account is enabled.
func accountWord(enabled bool) string {
	if enabled {
		return "Enabled"
	}
	return "Disabled"
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
