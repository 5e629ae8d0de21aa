package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// statusView words a configuration's status for the views.
func statusView(cfg *store.Configuration, st guard.Status) views.Status {
	v := views.Status{Code: st.Code, Text: st.Text, Error: st.Error, InfoURL: views.ConfigURL(cfg.ID, "/status"),
		Since: formatTime(st.Since)}
	if st.Lock != nil && st.Code == guard.StatusRunning {
		v.Progress = &views.Progress{Read: st.Lock.Read, Planned: st.Lock.Planned, Applied: st.Lock.Applied, Phase: st.Lock.Phase}
	}
	return v
}

func (s *Server) configurations(c echo.Context) error {
	ctx := c.Request().Context()
	cfgs, err := s.store.Configurations(ctx)
	if err != nil {
		return err
	}
	page := views.ConfigurationsPage{Base: s.base(c, "Configurations", "configurations")}
	for _, cfg := range cfgs {
		o, err := guard.OverviewOf(ctx, s.store, cfg)
		if err != nil {
			return err
		}
		row := views.ConfigurationRow{ID: cfg.ID, Name: cfg.Name, Source: cfg.Source, Status: statusView(cfg, o.Status),
			Objects: o.Users + o.Groups}
		if o.LastCycle != nil {
			row.LastCycle = formatTime(o.LastCycle.FinishedAt)
		}
		page.Rows = append(page.Rows, row)
	}
	return render(c, http.StatusOK, views.Configurations(page))
}

// configurationPage builds the configuration page's model.
func (s *Server) configurationPage(c echo.Context, cfg *store.Configuration) (views.ConfigurationPage, error) {
	ctx := c.Request().Context()
	p := views.ConfigurationPage{Base: s.base(c, cfg.Name, "configurations"), ID: cfg.ID, Name: cfg.Name,
		Basics: basicsView(cfg.Basics),
		Scope:  cfg.EffectiveScope(), Source: cfg.Source, BaseDN: cfg.BaseDN, BindDN: cfg.BindDN,
		BindMethod: guard.BindMethod(cfg), StartTLS: cfg.StartTLS, CAFile: cfg.CAFile, TLSPin: cfg.TLSPin, TLSServer: cfg.TLSServer,
		Interval: humanInterval(cfg.Interval), AgentID: cfg.AgentID, QuarantineID: cfg.QuarantineID}
	o, err := guard.OverviewOf(ctx, s.store, cfg)
	if err != nil {
		return p, err
	}
	p.Status, p.Users, p.Groups, p.PendingStaged = statusView(cfg, o.Status), o.Users, o.Groups, o.PendingStaged
	p.Basics.Held, p.Basics.HeldUntil = o.Held.Objects, formatTime(o.Held.NextPurge)
	p.Target = targetView(cfg.ID, o.Target)
	if cfg.AgentID != 0 {
		if a, err := s.store.Agent(ctx, cfg.AgentID); err == nil {
			p.AgentName = a.Name
		}
	}
	cycles, err := s.store.Cycles(ctx, cfg.ID, 20)
	if err != nil {
		return p, err
	}
	for i, cy := range cycles {
		if i < 10 {
			p.Cycles = append(p.Cycles, cycleView(cfg.ID, cy))
		}
	}
	p.Chart = views.Chart{Threshold: cfg.Basics.Threshold, Prevent: cfg.Basics.Prevent}
	for i := len(cycles) - 1; i >= 0; i-- {
		cy := cycles[i]
		p.Chart.Points = append(p.Chart.Points, views.ChartPoint{CycleID: cy.ID, Deletions: cy.Deletes + cy.StagedDeletes,
			Quarantined: cy.Outcome == store.OutcomeQuarantined && cy.StagedDeletes > 0})
	}
	switch {
	case cfg.QuarantineID != 0:
		p.NextRun = "stopped until an admin allows the deletes or restarts sync"
	case o.LastCycle != nil:
		p.NextRun = formatTime(o.LastCycle.FinishedAt.Add(cfg.Interval))
	default:
		p.NextRun = "now"
	}
	return p, nil
}

func cycleView(configID int64, cy *store.Cycle) views.Cycle {
	return views.Cycle{ID: cy.ID, Outcome: cy.Outcome, Trigger: cy.Trigger, Creates: cy.Creates, Updates: cy.Updates,
		Deletes: cy.Deletes, StagedDeletes: cy.StagedDeletes, Failures: cy.Failures, Started: formatTime(cy.StartedAt),
		Duration: formatDuration(cy.FinishedAt.Sub(cy.StartedAt)), Error: cy.Error,
		LogURL: views.ConfigURL(configID, "/logs?cycle="+strconv.FormatInt(cy.ID, 10))}
}

func (s *Server) configuration(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	p, err := s.configurationPage(c, cfg)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Configuration(p))
}

func (s *Server) editBasics(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	p, err := s.configurationPage(c, cfg)
	if err != nil {
		return err
	}
	p.Base.Title = "Edit Basics · " + cfg.Name
	p.BasicsForm = &views.BasicsForm{Basics: p.Basics}
	return render(c, http.StatusOK, views.Configuration(p))
}

// basicsView is the Basics as the pane and the form show them.
func basicsView(b store.Basics) views.Basics {
	hold := "0"
	if b.Hold > 0 {
		hold = store.HoldText(b.Hold)
	}
	return views.Basics{Email: b.Email, Prevent: b.Prevent, Threshold: strconv.Itoa(b.Threshold), Hold: hold}
}

// basicsTyped is the Basics form as posted.
func basicsTyped(c echo.Context) views.Basics {
	return views.Basics{Email: c.FormValue("email"), Prevent: c.FormValue("prevent") != "", Threshold: c.FormValue("threshold"),
		Hold: c.FormValue("hold")}
}

// parseBasics checks the Basics as typed.
func parseBasics(typed views.Basics) (store.Basics, map[string]string) {
	return guard.ParseBasics(guard.BasicsInput{Email: typed.Email, Threshold: typed.Threshold, Hold: typed.Hold, Prevent: typed.Prevent})
}

func (s *Server) saveBasics(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	typed := basicsTyped(c)
	basics, errs := parseBasics(typed)
	if errs != nil {
		p, err := s.configurationPage(c, cfg)
		if err != nil {
			return err
		}
		p.Base.Title = "Edit Basics · " + cfg.Name
		p.BasicsForm = &views.BasicsForm{Basics: typed, Errors: errs}
		return render(c, http.StatusUnprocessableEntity, views.Configuration(p))
	}
	if basics == cfg.Basics {
		return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "info", "Nothing changed.")
	}
	saved, err := s.store.EditConfiguration(c.Request().Context(), cfg.ID, currentUser(c).Name, func(cur *store.Configuration) error {
		cur.Basics = basics
		return nil
	})
	if err != nil {
		return err
	}
	msg := "Basics saved. They apply from the next cycle."
	if saved.QuarantineID != 0 {
		msg += " The deletions already staged still wait for Allow deletes or Restart sync."
	}
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success", msg)
}

// scopeDraft is the draft of Edit Scope the form or URL names, or a new
// one from the configuration's scope.
func (s *Server) scopeDraft(c echo.Context, cfg *store.Configuration, id string) *draft {
	if d, ok := s.drafts.get(c, s, id); ok && d.ConfigID == cfg.ID {
		return d
	}
	d := &draft{ConfigID: cfg.ID, Config: *cfg}
	d.Config.Scope = slices.Clone(cfg.EffectiveScope())
	return d
}

// renderScope renders the configuration page with the OU picker.
func (s *Server) renderScope(c echo.Context, status int, cfg *store.Configuration, d *draft, at browsePlace, problem string) error {
	p, err := s.configurationPage(c, cfg)
	if err != nil {
		return err
	}
	p.Base.Title = "Edit Scope · " + cfg.Name
	b := s.ouBrowser(c.Request().Context(), d, at)
	s.drafts.save(c, s, d)
	b.Draft = d.ID
	p.ScopeForm, p.ScopeErr = &b, problem
	return render(c, status, views.Configuration(p))
}

func (s *Server) editScope(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	d := s.scopeDraft(c, cfg, c.QueryParam("draft"))
	return s.renderScope(c, http.StatusOK, cfg, d, placeFrom(c.QueryParams()), "")
}

// saveScope keeps the ticks of the level shown, then moves to another
// level or page, or saves.
func (s *Server) saveScope(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	form, err := formParams(c)
	if err != nil {
		return err
	}
	d := s.scopeDraft(c, cfg, form.Get("draft"))
	applyTicks(d, form)
	if a := form.Get("action"); a != "save" && (a != "" || len(form["shown"]) > 0) {
		s.drafts.save(c, s, d)
		return c.Redirect(http.StatusSeeOther, views.ConfigURL(cfg.ID, "/scope/edit?"+placeFrom(form).query(d.ID)))
	}
	picked := d.Config.Scope
	var problem string
	switch {
	case len(picked) == 0:
		problem = "Tick at least one OU. To sync the whole directory, tick the base DN."
	case len(picked) > 1000:
		problem = "Too many OUs ticked."
	}
	next := *cfg
	next.Scope = slices.Clone(picked)
	if problem == "" {
		if err := guard.ValidateConfiguration(&next); err != nil {
			problem = "This scope cannot be used: " + err.Error() + "."
		}
	}
	if problem != "" {
		return s.renderScope(c, http.StatusUnprocessableEntity, cfg, d, placeFrom(form), problem)
	}
	if _, err := s.store.EditConfiguration(c.Request().Context(), cfg.ID, currentUser(c).Name, func(cur *store.Configuration) error {
		cur.Scope = next.Scope
		return nil
	}); err != nil {
		return err
	}
	s.drafts.drop(d.ID)
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success",
		fmt.Sprintf("Scope saved: %d OU(s) in scope. It applies from the next cycle.", len(picked)))
}

func (s *Server) syncNow(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	if !s.sched.Trigger(cfg.ID, guard.TriggerManual) {
		return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "info", "A cycle of "+cfg.Name+" is already running.")
	}
	msg := "A cycle of " + cfg.Name + " has started."
	if cfg.QuarantineID != 0 {
		msg += " While deletions are staged it applies nothing; it only releases objects that are back in scope."
	}
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success", msg)
}
