package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// stagedPageSize is how many staged objects the sync status info shows at once.
const stagedPageSize = 50

// statusInfo is the sync status info page: the pending quarantine (when,
// how many against what limits, by cause, type and OU, the staged objects
// to allow a part of), or the story of the last one and the last cycle.
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
		Threshold: cfg.Basics.Threshold, Status: s.statusView(cfg, o.Status), Stop: stopView(o, s.store.Now()),
		Held: o.Held.Objects, HeldUntil: formatTime(o.Held.NextPurge)}
	if h := (store.Hold{Since: s.store.Now(), For: cfg.Basics.Hold}); h.On() {
		p.Hold, p.HoldUntil = store.HoldText(h.For), formatTime(h.Until())
	}
	p.Base.Live = liveSeconds(p.Status, s.cycleRuns(cfg, o.Status))
	if q := o.Quarantine; q != nil {
		p.Quarantined = true
		p.CycleID, p.When, p.Staged, p.Threshold = q.ID, formatTime(q.FinishedAt), q.StagedDeletes, tripThreshold(q)
		p.Limits = limitRows(q.Limits)
		p.LogURL = views.ConfigURL(cfg.ID, "/logs?action=StagedDelete&cycle="+strconv.FormatInt(q.ID, 10))
		if err := s.stagedBreakdown(ctx, cfg, &p); err != nil {
			return err
		}
		if err := s.stagedPage(c, cfg, &p); err != nil {
			return err
		}
	} else {
		p.Story = storyView(o)
		if o.LastCycle != nil {
			v := cycleView(cfg.ID, o.LastCycle)
			p.LastCycle = &v
		}
	}
	return render(c, http.StatusOK, views.StatusInfo(p))
}

// stagedBreakdown counts the pending staged deletes by cause, type and OU,
// which are also the choices of the part filter.
func (s *Server) stagedBreakdown(ctx context.Context, cfg *store.Configuration, p *views.StatusInfoPage) error {
	q := store.StagedCountQuery{ConfigID: cfg.ID, CycleID: cfg.QuarantineID, State: store.StagedPending, Deletes: true}
	for _, by := range []struct {
		col  string
		into *[]views.Count
	}{{"cause", &p.ByCause}, {"type", &p.ByType}, {"ou", &p.ByOU}} {
		counts, err := s.store.StagedCounts(ctx, q, by.col)
		if err != nil {
			return err
		}
		for _, c := range counts {
			label := c.Label
			if by.col == "type" {
				label = typeWord(label, true)
			}
			*by.into = append(*by.into, views.Count{Label: label, N: c.N})
			if by.col == "cause" {
				p.Causes = append(p.Causes, c.Label)
			}
			if by.col == "ou" {
				p.OUs = append(p.OUs, c.Label)
				p.Pending += c.N
			}
		}
	}
	return nil
}

// stagedPage is one page of the pending staged deletes in the part the
// query filters, by name, each with its cause, whether its account is
// enabled and whether the scope holds it again.
func (s *Server) stagedPage(c echo.Context, cfg *store.Configuration, p *views.StatusInfoPage) error {
	ctx := c.Request().Context()
	p.Part = parsePart(c.QueryParams())
	p.Part.Anchors = nil // the page shows a filter; chosen objects are picked on it
	page, _ := strconv.Atoi(c.QueryParam("page"))
	page = max(page, 1)
	f := filterOf(p.Part, nil)
	f.Type, f.Cause = p.Part.Type, store.Cause(p.Part.Cause)
	deletes, _, err := s.stagedCounts(ctx, cfg, store.StagedFilter{OUs: f.OUs, Type: f.Type, Cause: f.Cause, Anchors: f.Anchors})
	if err != nil {
		return err
	}
	p.SampleOf = deletes
	staged, err := s.store.StagedChanges(ctx, store.StagedQuery{ConfigID: cfg.ID, CycleID: cfg.QuarantineID, State: store.StagedPending,
		Filter: f, ByName: true, Offset: (page - 1) * stagedPageSize, Limit: stagedPageSize})
	if err != nil {
		return err
	}
	if p.Sample, err = s.stagedObjects(ctx, cfg, staged); err != nil {
		return err
	}
	first := (page-1)*stagedPageSize + 1
	p.Shown = fmt.Sprintf("%s–%s", strconv.Itoa(min(first, deletes)), strconv.Itoa(first-1+len(staged)))
	q := partQuery(p.Part)
	base := views.ConfigURL(cfg.ID, "/status")
	if first-1+len(staged) < deletes {
		q.Set("page", strconv.Itoa(page+1))
		p.NextURL = base + "?" + q.Encode()
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page-1))
		p.PrevURL = base + "?" + q.Encode()
	}
	return nil
}

// stagedObjects words staged changes: for a user still in the target
// directory, whether its account is enabled; whether the scope holds it
// again.
func (s *Server) stagedObjects(ctx context.Context, cfg *store.Configuration, staged []store.Staged) ([]views.StagedObject, error) {
	anchors := make([]string, len(staged))
	for i, d := range staged {
		anchors[i] = d.Anchor
	}
	objs, err := s.store.TargetObjectsByAnchor(ctx, cfg.ID, anchors)
	if err != nil {
		return nil, err
	}
	scope, _ := guard.NormalizeScope(cfg.EffectiveScope())
	out := make([]views.StagedObject, 0, len(staged))
	for _, d := range staged {
		o := views.StagedObject{Type: typeWord(d.Type, false), Name: d.Name, DN: d.DN, Anchor: d.Anchor, Cause: string(d.Cause),
			Detail: d.Detail}
		if obj, ok := objs[d.Anchor]; ok && d.Type == guard.TypeUser {
			o.Account = accountWord(guard.AccountEnabled(obj.Attributes))
		}
		if norm, err := guard.NormalizeDN(d.DN); err == nil && d.Cause == store.CauseScopeChanged && guard.InScope(norm, scope) {
			o.InScope = true
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
