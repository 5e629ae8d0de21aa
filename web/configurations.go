package web

import (
	"context"
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

// statusView words a configuration's status for the views. A cycle this
// process has started but not yet begun shows as running, from the click
// on: the page then watches it (liveSeconds).
func (s *Server) statusView(cfg *store.Configuration, st guard.Status) views.Status {
	v := views.Status{Code: st.Code, Text: st.Text, Error: st.Error, InfoURL: views.ConfigURL(cfg.ID, "/status"),
		Since: formatTime(st.Since)}
	if st.Code != store.StatusQuarantined && st.Code != guard.StatusRunning && s.sched != nil && s.sched.Running(cfg.ID) {
		v.Code, v.Text, v.Error = guard.StatusRunning, guard.StatusText(guard.StatusRunning), ""
	}
	if st.Lock != nil && v.Code == guard.StatusRunning {
		v.Progress = &views.Progress{Read: st.Lock.Read, Planned: st.Lock.Planned, Applied: st.Lock.Applied, Phase: st.Lock.Phase}
	}
	return v
}

// cycleRuns reports whether a cycle of the configuration runs now: one
// holding its lock (in any process) or one this process has started. While
// sync is stopped the headline stays the guard's stop, yet such a cycle
// (Run sync now) may release the staged deletions, so its page watches it.
func (s *Server) cycleRuns(cfg *store.Configuration, st guard.Status) bool {
	return st.Lock != nil || (s.sched != nil && s.sched.Running(cfg.ID))
}

// liveSeconds is how soon a page showing a configuration in this status
// shows itself again: a running cycle's progress moves.
func liveSeconds(st views.Status, running bool) int {
	if st.Code == guard.StatusRunning || running {
		return 2
	}
	return 0
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
		row := views.ConfigurationRow{ID: cfg.ID, Name: cfg.Name, Source: cfg.Source, Status: s.statusView(cfg, o.Status),
			Objects: o.Users + o.Groups, StoppedSince: formatTime(o.StoppedSince)}
		if o.LastCycle != nil {
			row.LastCycle = formatTime(o.LastCycle.FinishedAt)
		}
		page.Base.Live = max(page.Base.Live, liveSeconds(row.Status, s.cycleRuns(cfg, o.Status)))
		page.Rows = append(page.Rows, row)
	}
	return render(c, http.StatusOK, views.Configurations(page))
}

// configurationPage builds the configuration page's model.
func (s *Server) configurationPage(c echo.Context, cfg *store.Configuration) (views.ConfigurationPage, error) {
	ctx := c.Request().Context()
	p := views.ConfigurationPage{Base: s.base(c, cfg.Name, "configurations"), ID: cfg.ID, Name: cfg.Name,
		Basics: basicsView(cfg.Basics), Limits: basicsLimits(cfg.Basics),
		Scope: cfg.EffectiveScope(), Source: cfg.Source, BaseDN: cfg.BaseDN, BindDN: cfg.BindDN,
		BindMethod: guard.BindMethod(cfg), StartTLS: cfg.StartTLS, CAFile: cfg.CAFile, TLSPin: cfg.TLSPin, TLSServer: cfg.TLSServer,
		Interval: humanInterval(cfg.Interval), AgentID: cfg.AgentID, QuarantineID: cfg.QuarantineID}
	o, err := guard.OverviewOf(ctx, s.store, cfg)
	if err != nil {
		return p, err
	}
	p.Status, p.Users, p.Groups, p.PendingStaged = s.statusView(cfg, o.Status), o.Users, o.Groups, o.PendingStaged
	p.Stop = stopView(o, s.store.Now())
	p.Basics.Held, p.Basics.HeldUntil = o.Held.Objects, formatTime(o.Held.NextPurge)
	p.Target = targetView(cfg.ID, o.Target)
	p.Base.Live = liveSeconds(p.Status, s.cycleRuns(cfg, o.Status))
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
			Quarantined: cy.Outcome == store.OutcomeQuarantined && !cy.Held, Threshold: tripThreshold(cy)})
	}
	switch {
	case p.Stop != nil:
		p.NextRun = "stopped since " + p.Stop.Since + ", until an admin allows the deletes or restarts sync"
	case o.LastCycle != nil:
		p.NextRun = formatTime(o.LastCycle.FinishedAt.Add(cfg.Interval))
	default:
		p.NextRun = "now"
	}
	return p, nil
}

// cycleView words a cycle: a quarantine reads as people know it (Delete
// threshold exceeded) with what became of it; a cycle held by a pending
// quarantine says so rather than passing for a new one.
func cycleView(configID int64, cy *store.Cycle) views.Cycle {
	v := views.Cycle{ID: cy.ID, Outcome: cy.Outcome, OutcomeText: cy.Outcome, Trigger: triggerWords(cy.Trigger),
		Creates: cy.Creates, Updates: cy.Updates, Deletes: cy.Deletes, StagedDeletes: cy.StagedDeletes, Failures: cy.Failures,
		Started: formatTime(cy.StartedAt), Duration: formatDuration(cy.FinishedAt.Sub(cy.StartedAt)), Error: cy.Error,
		LogURL: views.ConfigURL(configID, "/logs?cycle="+strconv.FormatInt(cy.ID, 10))}
	switch {
	case cy.Outcome == store.OutcomeQuarantined && cy.Held:
		v.Outcome, v.OutcomeText = "Held", "Held: sync stopped"
		v.Fate = "applied nothing"
		if cy.Discarded > 0 {
			v.Fate += fmt.Sprintf("; released %d back in scope", cy.Discarded)
		}
	case cy.Outcome == store.OutcomeQuarantined:
		v.OutcomeText = guard.StatusText(store.StatusQuarantined)
		v.Fate = fateWords(cy)
	}
	return v
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

// basicsInput reads the Basics form as typed.
func basicsInput(c echo.Context) guard.BasicsInput {
	return guard.BasicsInput{Email: c.FormValue("email"), Threshold: c.FormValue("threshold"), Prevent: c.FormValue("prevent") != "",
		Users: c.FormValue("users"), Groups: c.FormValue("groups"), Memberships: c.FormValue("memberships"),
		Percent: c.FormValue("percent"), RemindEvery: c.FormValue("remind"), Hold: c.FormValue("hold")}
}

// basicsTyped is the Basics form as typed, for showing it again.
func basicsTyped(in guard.BasicsInput) views.Basics {
	return views.Basics{Email: in.Email, Prevent: in.Prevent, Threshold: in.Threshold, Users: in.Users, Groups: in.Groups,
		Memberships: in.Memberships, Percent: in.Percent, RemindEvery: in.RemindEvery, Hold: in.Hold}
}

// saveBasics saves the Basics form, or (Preview) says what the next cycle
// would do with them, saving nothing.
func (s *Server) saveBasics(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	in := basicsInput(c)
	basics, errs := in.Parse()
	preview := c.FormValue("preview") != ""
	if errs != nil || preview {
		p, err := s.configurationPage(c, cfg)
		if err != nil {
			return err
		}
		p.Base.Title = "Edit Basics · " + cfg.Name
		p.BasicsForm = &views.BasicsForm{Basics: basicsTyped(in), Errors: errs}
		if errs != nil {
			return render(c, http.StatusUnprocessableEntity, views.Configuration(p))
		}
		edited := *cfg
		edited.Basics = basics
		p.BasicsForm.Preview = previewView(s.engine.Preview(c.Request().Context(), &edited, nil))
		return render(c, http.StatusOK, views.Configuration(p))
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
		msg = "Basics saved. Sync is stopped: they apply from the first cycle after Allow deletes or Restart sync, " +
			"and release none of the deletions already staged."
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
	return s.renderScopeWith(c, status, cfg, d, at, problem, nil, false)
}

// renderScopeWith renders the OU picker with a preview of the OUs ticked.
func (s *Server) renderScopeWith(c echo.Context, status int, cfg *store.Configuration, d *draft, at browsePlace, problem string,
	preview *views.Preview, focus bool) error {
	p, err := s.configurationPage(c, cfg)
	if err != nil {
		return err
	}
	p.Base.Title = "Edit Scope · " + cfg.Name
	b := s.ouBrowser(c.Request().Context(), d, at)
	s.drafts.save(c, s, d)
	b.Draft, b.Focus = d.ID, focus
	p.ScopeForm, p.ScopeErr, p.ScopePreview = &b, problem, preview
	return render(c, status, views.Configuration(p))
}

func (s *Server) editScope(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	d := s.scopeDraft(c, cfg, c.QueryParam("draft"))
	// Just opened by its pencil: the focus goes to the picker.
	return s.renderScopeWith(c, http.StatusOK, cfg, d, placeFrom(c.QueryParams()), "", nil, c.QueryParam("draft") == "")
}

// saveScope keeps the ticks of the level shown, then moves to another
// level or page, or saves.
func (s *Server) saveScope(c echo.Context) error {
	cfg, form, err := s.configForm(c)
	if err != nil {
		return err
	}
	d := s.scopeDraft(c, cfg, form.Get("draft"))
	applyTicks(d, form)
	if a := form.Get("action"); a != "save" && a != "preview" && (a != "" || len(form["shown"]) > 0) {
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
	if form.Get("action") == "preview" {
		pv := previewView(s.engine.Preview(c.Request().Context(), &next, guard.ScopeEdit(cfg, &next, currentUser(c).Name)))
		return s.renderScopeWith(c, http.StatusOK, cfg, d, placeFrom(form), "", pv, false)
	}
	saved, err := s.store.EditConfiguration(c.Request().Context(), cfg.ID, currentUser(c).Name, func(cur *store.Configuration) error {
		cur.Scope = next.Scope
		return nil
	})
	if err != nil {
		return err
	}
	s.drafts.drop(d.ID)
	msg := fmt.Sprintf("Scope saved: %d OU(s) in scope. It applies from the next cycle.", len(picked))
	if saved.QuarantineID != 0 {
		if msg, err = s.scopeWhileStopped(c.Request().Context(), saved, len(picked)); err != nil {
			return err
		}
	}
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success", msg)
}

// scopeWhileStopped words a scope saved while sync is stopped: it applies
// once sync resumes, and how many of the staged objects it holds again.
func (s *Server) scopeWhileStopped(ctx context.Context, cfg *store.Configuration, ous int) (string, error) {
	again, err := s.inScopeAgain(ctx, cfg)
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("Scope saved: %d OU(s) in scope. Sync is stopped: the scope applies from the first cycle after "+
		"Allow deletes or Restart sync.", ous)
	if len(again) > 0 {
		msg += fmt.Sprintf(" %s of the staged deletions are in scope again: Restart sync keeps them, or leave them out of "+
			"Allow deletes.", views.Plural(len(again), "object", "objects"))
	}
	return msg, nil
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
		msg += " Sync is stopped: this cycle applies nothing and stages nothing new. It releases the staged deletions " +
			"of objects that are back in scope, and sync resumes only when all of them are."
	}
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success", msg)
}
