package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// New configuration: the source (and Test connection), the scope picked
// from the source's own tree, the target (and its Test connection), then
// the Basics and the schedule. What is typed lives in a draft (see
// drafts.go); nothing is saved before Create configuration.

// newConfigSteps are the steps of New configuration, in order. A step is
// one line here, its GET and POST handlers, and its two routes.
var newConfigSteps = []views.WizardStep{
	{Key: "source", Name: "Source"},
	{Key: "scope", Name: "Scope"},
	{Key: "target", Name: "Target"},
	{Key: "basics", Name: "Basics and schedule"},
}

// stepBeside is the key of the step before (by -1) or after (by +1) the
// step key.
func stepBeside(key string, by int) string {
	for i, st := range newConfigSteps {
		if st.Key == key && i+by >= 0 && i+by < len(newConfigSteps) {
			return newConfigSteps[i+by].Key
		}
	}
	return key
}

// wizardURL is the address of a step of a draft.
func wizardURL(draftID, step string) string {
	return "/configurations/new/" + url.PathEscape(draftID) + "/" + step
}

// newConfigPage builds the page of a step.
func (s *Server) newConfigPage(c echo.Context, d *draft, step string) views.NewConfigPage {
	p := views.NewConfigPage{Base: s.base(c, "New configuration", "configurations"), Step: step}
	if d != nil {
		p.Draft = d.ID
	}
	done := true
	for _, st := range newConfigSteps {
		st.Current = st.Key == step
		if st.Current {
			done = false
		}
		if done && d != nil && d.ID != "" {
			st.URL = wizardURL(d.ID, st.Key)
		}
		p.Steps = append(p.Steps, st)
	}
	return p
}

// wizardDraft is the draft the URL names, or an error page saying it is gone.
func (s *Server) wizardDraft(c echo.Context) (*draft, error) {
	d, ok := s.drafts.get(c, s, c.Param("draft"))
	if !ok || d.ConfigID != 0 {
		return nil, store.Errorf(store.NotFound,
			"This new configuration is no longer here (it is forgotten after two hours unused, or when you sign out). Start again with New configuration.")
	}
	return d, nil
}

// wizardForm is the draft the URL names and the form posted to a step.
func (s *Server) wizardForm(c echo.Context) (*draft, url.Values, error) {
	d, err := s.wizardDraft(c)
	if err != nil {
		return nil, nil, err
	}
	form, err := formParams(c)
	return d, form, err
}

// newDraft is a new configuration with the defaults.
func newDraft() *draft {
	return &draft{Config: store.Configuration{BindMethod: "simple", Interval: guard.DefaultInterval,
		Basics: store.Basics{Prevent: true, Threshold: guard.DefaultThreshold, RemindEvery: guard.DefaultRemindEvery}}}
}

func (s *Server) newConfig(c echo.Context) error {
	p := s.newConfigPage(c, nil, "source")
	p.Source = sourceView(&newDraft().Config)
	p.Source.Action, p.Source.ShowName = "/configurations/new", true
	return render(c, http.StatusOK, views.NewConfig(p))
}

func (s *Server) newConfigSource(c echo.Context) error {
	d, err := s.wizardDraft(c)
	if err != nil {
		return err
	}
	p := s.newConfigPage(c, d, "source")
	p.Source = sourceView(&d.Config)
	p.Source.Action, p.Source.ShowName = wizardURL(d.ID, "source"), true
	return render(c, http.StatusOK, views.NewConfig(p))
}

// saveNewConfigSource takes the first step: Test connection, or Browse
// OUs (which tests the connection too, and fills in the source's own base
// DN when none is given).
func (s *Server) saveNewConfigSource(c echo.Context) error {
	ctx := c.Request().Context()
	form, err := formParams(c)
	if err != nil {
		return err
	}
	d := newDraft()
	if old, ok := s.drafts.get(c, s, cmpOr(c.Param("draft"), form.Get("draft"))); ok && old.ConfigID == 0 {
		d = old
	}
	in := sourceInput(form, d.Config.BindPassword)
	d.Config.Name = strings.TrimSpace(form.Get("name"))
	errs := guard.ApplySource(&d.Config, in)
	if msg := s.nameProblem(c, d.Config.Name); msg != "" {
		if errs == nil {
			errs = map[string]string{}
		}
		errs["name"] = msg
	}
	s.drafts.save(c, s, d)
	p := s.newConfigPage(c, d, "source")
	p.Source = sourceFormView(in, d.Config.Name, errs)
	p.Source.Action, p.Source.ShowName = wizardURL(d.ID, "source"), true
	if errs != nil {
		return render(c, http.StatusUnprocessableEntity, views.NewConfig(p))
	}
	test, reached := s.testSource(ctx, &d.Config)
	p.Source.BaseDN = d.Config.BaseDN
	s.drafts.save(c, s, d)
	if form.Get("action") == "test" {
		p.Source.Test = test
		return render(c, http.StatusOK, views.NewConfig(p))
	}
	if !reached || d.Config.BaseDN == "" && !strings.HasPrefix(d.Config.Source, "ldif:") {
		p.Source.Test = test
		return render(c, http.StatusUnprocessableEntity, views.NewConfig(p))
	}
	return c.Redirect(http.StatusSeeOther, wizardURL(d.ID, "scope"))
}

// nameProblem says what is wrong with a new configuration's name, or "".
func (s *Server) nameProblem(c echo.Context, name string) string {
	if name == "" {
		return "Enter a name, such as corp."
	}
	check := store.Configuration{Name: name, Source: "ldif:x", BaseDN: "dc=x", Interval: guard.DefaultInterval,
		Basics: store.Basics{Threshold: guard.DefaultThreshold}}
	if err := guard.ValidateConfiguration(&check); err != nil {
		return capitalize(store.ErrorMessage(err)) + "."
	}
	if _, err := s.store.ConfigurationByName(c.Request().Context(), name); err == nil {
		return "A configuration named " + name + " already exists: choose another name."
	}
	return ""
}

func (s *Server) newConfigScope(c echo.Context) error {
	d, err := s.wizardDraft(c)
	if err != nil {
		return err
	}
	p := s.newConfigPage(c, d, "scope")
	p.Scope = s.ouBrowser(c.Request().Context(), d, placeFrom(c.QueryParams()))
	s.drafts.save(c, s, d) // the counts it made
	return render(c, http.StatusOK, views.NewConfig(p))
}

// saveNewConfigScope keeps the ticks of the level shown, then moves: to
// another level or page (the same step), back, or on to the Basics.
func (s *Server) saveNewConfigScope(c echo.Context) error {
	d, form, err := s.wizardForm(c)
	if err != nil {
		return err
	}
	applyTicks(d, form)
	s.drafts.save(c, s, d)
	switch form.Get("action") {
	case "back":
		return c.Redirect(http.StatusSeeOther, wizardURL(d.ID, "source"))
	case "next":
		if len(d.Config.Scope) == 0 {
			p := s.newConfigPage(c, d, "scope")
			p.Scope = s.ouBrowser(c.Request().Context(), d, placeFrom(form))
			p.Error = "Tick at least one OU. To sync the whole directory, tick the base DN."
			return render(c, http.StatusUnprocessableEntity, views.NewConfig(p))
		}
		return c.Redirect(http.StatusSeeOther, wizardURL(d.ID, stepBeside("scope", 1)))
	}
	return c.Redirect(http.StatusSeeOther, wizardURL(d.ID, "scope")+"?"+placeFrom(form).query(d.ID))
}

func (s *Server) newConfigTarget(c echo.Context) error {
	d, err := s.wizardDraft(c)
	if err != nil {
		return err
	}
	in := guard.TargetSettings{Kind: guard.TargetNone}
	if d.Target != nil {
		in = *d.Target
	}
	return render(c, http.StatusOK, views.NewConfig(s.targetStep(c, d, targetFormView(in, nil, nil))))
}

// targetStep is the Target step's page with the form f.
func (s *Server) targetStep(c echo.Context, d *draft, f views.TargetForm) views.NewConfigPage {
	p := s.newConfigPage(c, d, "target")
	p.Target = f
	p.Target.Action = wizardURL(d.ID, "target")
	return p
}

// saveNewConfigTarget takes the Target step as Edit Target does (the same
// fields, checks and Test connection): Back keeps what was typed; Next
// goes on once the settings are right and the target answers, or they
// are none.
func (s *Server) saveNewConfigTarget(c echo.Context) error {
	d, form, err := s.wizardForm(c)
	if err != nil {
		return err
	}
	if form.Get("action") == "back" {
		in := targetInput(form, d.Target)
		if d.Target == nil || *d.Target != in {
			d.Target, d.TargetOK = &in, false
		}
		s.drafts.save(c, s, d)
		return c.Redirect(http.StatusSeeOther, wizardURL(d.ID, stepBeside("target", -1)))
	}
	view, _, good := s.takeTarget(c.Request().Context(), form, d, nil, &d.Config)
	s.drafts.save(c, s, d)
	if status := targetStatus(view, good, form.Get("action")); status != http.StatusOK || form.Get("action") == "test" {
		return render(c, status, views.NewConfig(s.targetStep(c, d, view)))
	}
	return c.Redirect(http.StatusSeeOther, wizardURL(d.ID, stepBeside("target", 1)))
}

// draftTarget is the target of a new configuration: nil for none, or an
// error message when its settings were not checked with the target.
func draftTarget(d *draft, cfg *store.Configuration) (*store.Target, string) {
	if d.Target == nil || d.Target.Kind == guard.TargetNone {
		return nil, ""
	}
	t, errs := guard.ApplyTarget(*d.Target, nil, cfg)
	if errs != nil || !d.TargetOK {
		return nil, "The target's settings were not checked with the target: go back to Target and press Next."
	}
	return t, ""
}

func (s *Server) newConfigBasics(c echo.Context) error {
	d, err := s.wizardDraft(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.NewConfig(s.basicsStep(c, d, nil)))
}

// basicsStep is the last step's page, with what was typed.
func (s *Server) basicsStep(c echo.Context, d *draft, errs map[string]string) views.NewConfigPage {
	p := s.newConfigPage(c, d, "basics")
	b := basicsView(d.Config.Basics)
	p.Interval = formatInterval(d.Config.Interval)
	if d.Basics != nil {
		b, p.Interval = *d.Basics, d.Interval
	}
	p.Basics = views.BasicsForm{Basics: b, Errors: errs}
	cfg := &d.Config
	if err := s.countTicked(c.Request().Context(), d); err != nil {
		p.Error = "Could not count the users and groups of the ticked OUs: " + guard.Explain(err)
	}
	s.drafts.save(c, s, d)
	p.Summary = []views.Prop{{Label: "Name", Value: cfg.Name}, {Label: "Source", Value: cfg.Source, Mono: true}}
	if cfg.BaseDN != "" {
		p.Summary = append(p.Summary, views.Prop{Label: "Base DN", Value: cfg.BaseDN, Mono: true})
	}
	if cfg.BindDN != "" {
		p.Summary = append(p.Summary, views.Prop{Label: "Bind DN", Value: cfg.BindDN, Mono: true})
	}
	var sel views.OUBrowser
	selection(d, &sel)
	p.Summary = append(p.Summary, views.Prop{Label: "Scope", Value: strings.Join(cfg.Scope, "; "), Mono: true},
		views.Prop{Label: "In scope now", Value: views.Plural(sel.Users, "user", "users") + " and " + views.Plural(sel.Groups, "group", "groups")})
	if t, _ := draftTarget(d, cfg); t != nil {
		p.Summary = append(p.Summary, views.Prop{Label: "Target", Value: t.URL, Mono: true})
	} else {
		p.Summary = append(p.Summary, views.Prop{Label: "Target", Value: "None: the target directory copy only"})
	}
	return p
}

// createConfig takes the last step: Back, or Create configuration.
func (s *Server) createConfig(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := s.wizardDraft(c)
	if err != nil {
		return err
	}
	in := basicsInput(c)
	typed := basicsTyped(in)
	d.Basics, d.Interval = &typed, c.FormValue("interval")
	s.drafts.save(c, s, d)
	if c.FormValue("action") == "back" {
		return c.Redirect(http.StatusSeeOther, wizardURL(d.ID, stepBeside("basics", -1)))
	}
	basics, errs := in.Parse()
	interval, err := guard.ParseInterval(d.Interval)
	if err != nil {
		if errs == nil {
			errs = map[string]string{}
		}
		errs["interval"] = capitalize(store.ErrorMessage(err))
	}
	if errs != nil {
		return render(c, http.StatusUnprocessableEntity, views.NewConfig(s.basicsStep(c, d, errs)))
	}
	cfg := d.Config
	cfg.Basics, cfg.Interval = basics, interval
	problem := ""
	if err := guard.ValidateConfiguration(&cfg); err != nil {
		problem = capitalize(store.ErrorMessage(err)) + "."
	}
	t, tproblem := draftTarget(d, &cfg)
	if problem = cmpOr(problem, tproblem); problem != "" {
		p := s.basicsStep(c, d, nil)
		p.Error = problem
		return render(c, http.StatusUnprocessableEntity, views.NewConfig(p))
	}
	if err := s.store.CreateConfigurationWithTarget(ctx, &cfg, t, currentUser(c).Name); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		p := s.basicsStep(c, d, nil)
		p.Error = "A configuration named " + cfg.Name + " was created meanwhile: go back to Source and choose another name."
		return render(c, http.StatusConflict, views.NewConfig(p))
	}
	s.drafts.drop(d.ID)
	msg := "Configuration " + cfg.Name + " created."
	if s.sched != nil && s.sched.Trigger(cfg.ID, guard.TriggerManual) {
		msg += " Its first cycle is running."
	}
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success", msg)
}
