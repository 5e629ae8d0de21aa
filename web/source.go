package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// The source's settings, as New configuration's first step and Edit Source
// take them, and Test connection.

// sourceInput reads the source fields of a form. An empty password keeps
// the one kept before (stored, or typed earlier in the draft).
func sourceInput(form url.Values, kept string) guard.SourceSettings {
	in := guard.SourceSettings{URL: form.Get("source"), BaseDN: form.Get("base_dn"), BindDN: form.Get("bind_dn"),
		BindPassword: form.Get("bind_password"), BindMethod: form.Get("bind_method"), StartTLS: form.Get("starttls") != "",
		CAFile: form.Get("ca_file"), TLSPin: form.Get("tls_pin"), TLSServer: form.Get("tls_server_name")}
	if in.BindPassword == "" {
		in.BindPassword = kept
	}
	return in
}

// sourceView shows a configuration's source settings in the form (the
// password only as kept or not).
func sourceView(cfg *store.Configuration) views.SourceForm {
	return views.SourceForm{Name: cfg.Name, URL: cfg.Source, BaseDN: cfg.BaseDN, BindDN: cfg.BindDN,
		BindMethod: guard.BindMethod(cfg), StartTLS: cfg.StartTLS, CAFile: cfg.CAFile, TLSPin: cfg.TLSPin,
		TLSServer: cfg.TLSServer, PasswordKept: cfg.BindPassword != ""}
}

// sourceFormView shows what was typed: the fields as typed, the errors.
func sourceFormView(in guard.SourceSettings, name string, errs map[string]string) views.SourceForm {
	return views.SourceForm{Name: name, URL: in.URL, BaseDN: in.BaseDN, BindDN: in.BindDN, BindMethod: cmpOr(in.BindMethod, "simple"),
		StartTLS: in.StartTLS, CAFile: in.CAFile, TLSPin: in.TLSPin, TLSServer: in.TLSServer,
		PasswordKept: in.BindPassword != "" && strings.TrimSpace(in.BindDN) != "", Errors: errs}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// testSource connects to cfg's source as Test connection does. When cfg has
// no base DN and the source names one, cfg takes it (and the answer says so).
func (s *Server) testSource(ctx context.Context, cfg *store.Configuration) (*views.ConnTest, bool) {
	ctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	rep, err := guard.TestSource(ctx, cfg, s.engine.Source)
	if err != nil {
		title := "Could not connect"
		if strings.HasPrefix(cfg.Source, "ldif:") {
			title = "Could not read the file"
		}
		return &views.ConnTest{Title: title, Lines: []string{guard.Explain(err)}}, false
	}
	t := &views.ConnTest{OK: true}
	if rep.Kind == "ldif" {
		t.Title = "Read " + strings.TrimPrefix(cfg.Source, "ldif:")
		t.Lines = append(t.Lines, fmt.Sprintf("%s: %s and %s.", views.Plural(rep.Entries, "entry", "entries"),
			views.Plural(rep.Users, "user", "users"), views.Plural(rep.Groups, "group", "groups")))
		t.Lines = append(t.Lines, "Top entries: "+strings.Join(rep.NamingContexts, "; ")+".")
	} else {
		t.Title = "Connected to " + cfg.Source
		if cfg.BindDN != "" {
			t.Title += " as " + cfg.BindDN
		} else {
			t.Title += " anonymously"
		}
		if rep.Vendor != "" {
			t.Lines = append(t.Lines, "Server: "+rep.Vendor+".")
		}
		if len(rep.NamingContexts) > 0 {
			t.Lines = append(t.Lines, "Naming contexts: "+strings.Join(rep.NamingContexts, "; ")+".")
		}
	}
	switch {
	case cfg.BaseDN != "":
		t.Lines = append(t.Lines, fmt.Sprintf("Base DN %s found, with %s directly below.", cfg.BaseDN,
			views.Plural(rep.Below, "OU or container", "OUs and containers")))
	case rep.DefaultBase != "":
		cfg.BaseDN = rep.DefaultBase
		t.Lines = append(t.Lines, "No base DN given: "+rep.DefaultBase+" is the source's own, and is filled in.")
	default:
		t.Lines = append(t.Lines, "No base DN given, and the source names none: enter one.")
	}
	return t, true
}

// editSource is the Edit Source pencil.
func (s *Server) editSource(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	form := sourceView(cfg)
	if d, ok := s.drafts.get(c, s, c.QueryParam("draft")); ok && d.ConfigID == cfg.ID {
		form = sourceView(&d.Config)
		form.Draft = d.ID
	}
	return s.renderSource(c, http.StatusOK, cfg, func(p *views.ConfigurationPage) { p.SourceForm = &form })
}

// renderSource renders the configuration page with the Source pane as set.
func (s *Server) renderSource(c echo.Context, status int, cfg *store.Configuration, set func(*views.ConfigurationPage)) error {
	return s.renderEditing(c, status, cfg, "Edit Source", set)
}

// renderEditing renders the configuration page titled by what is being
// edited (Edit Source, Edit Target), with its pane as set.
func (s *Server) renderEditing(c echo.Context, status int, cfg *store.Configuration, what string, set func(*views.ConfigurationPage)) error {
	p, err := s.configurationPage(c, cfg)
	if err != nil {
		return err
	}
	p.Base.Title = what + " · " + cfg.Name
	set(&p)
	return render(c, status, views.Configuration(p))
}

// saveSource is Edit Source's Save and Test connection, and the
// confirmation of a change that moves what is read.
func (s *Server) saveSource(c echo.Context) error {
	ctx := c.Request().Context()
	cfg, form, err := s.configForm(c)
	if err != nil {
		return err
	}
	d, ok := s.drafts.get(c, s, form.Get("draft"))
	if !ok || d.ConfigID != cfg.ID {
		d = &draft{ConfigID: cfg.ID, Config: *cfg}
	}
	switch form.Get("action") {
	case "confirm":
		if !ok {
			return s.redirectFlash(c, views.ConfigURL(cfg.ID, "/source/edit"), "error",
				"This change was made too long ago and is forgotten: make it again.")
		}
		return s.storeSource(c, cfg, d)
	case "edit":
		return c.Redirect(http.StatusSeeOther, views.ConfigURL(cfg.ID, "/source/edit?draft="+url.QueryEscape(d.ID)))
	}
	in := sourceInput(form, d.Config.BindPassword)
	next := *cfg
	errs := guard.ApplySource(&next, in)
	d.Config = next
	s.drafts.save(c, s, d)
	view := sourceFormView(in, "", errs)
	view.Draft = d.ID
	if errs != nil {
		return s.renderSource(c, http.StatusUnprocessableEntity, cfg, func(p *views.ConfigurationPage) { p.SourceForm = &view })
	}
	if form.Get("action") == "preview" {
		s.drafts.save(c, s, d)
		view.Preview = previewView(s.engine.Preview(ctx, &d.Config, guard.ScopeEdit(cfg, &d.Config, currentUser(c).Name)))
		return s.renderSource(c, http.StatusOK, cfg, func(p *views.ConfigurationPage) { p.SourceForm = &view })
	}
	test, reached := s.testSource(ctx, &d.Config)
	view.BaseDN = d.Config.BaseDN
	if form.Get("action") == "test" || !reached {
		s.drafts.save(c, s, d)
		view.Test = test
		status := http.StatusOK
		if !reached && form.Get("action") != "test" {
			status = http.StatusUnprocessableEntity
		}
		return s.renderSource(c, status, cfg, func(p *views.ConfigurationPage) { p.SourceForm = &view })
	}
	if ch := s.sourceChange(ctx, cfg, d); ch != nil {
		s.drafts.save(c, s, d)
		return s.renderSource(c, http.StatusOK, cfg, func(p *views.ConfigurationPage) { p.SourceChange = ch })
	}
	return s.storeSource(c, cfg, d)
}

// sourceChange describes a change that moves what syncguard reads
// (another server or base DN), or nil when it does not. A scope no longer
// under the base DN becomes the base DN.
func (s *Server) sourceChange(ctx context.Context, old *store.Configuration, d *draft) *views.SourceChange {
	next := &d.Config
	var changes []string
	oldHost, newHost := sourceHost(old.Source), sourceHost(next.Source)
	if oldHost != newHost {
		changes = append(changes, "source: "+old.Source+" → "+next.Source)
	}
	ob, _ := guard.NormalizeDN(old.BaseDN)
	nb, _ := guard.NormalizeDN(next.BaseDN)
	if ob != nb {
		changes = append(changes, "base DN: "+orNone(old.BaseDN)+" → "+orNone(next.BaseDN))
	}
	if len(changes) == 0 {
		return nil
	}
	ch := &views.SourceChange{Draft: d.ID, Changes: changes, Threshold: old.Basics.Threshold, Prevent: old.Basics.Prevent}
	if guard.ValidateConfiguration(next) != nil {
		next.Scope, ch.ScopeReset = nil, true
	}
	if u, g, err := s.store.ObjectCounts(ctx, old.ID); err == nil {
		ch.Users, ch.Groups = u, g
	}
	s.previewSourceChange(ctx, next, ch)
	return ch
}

// previewSourceChange tells the confirmation of a source change what the
// next cycle would do with the new source (creates, updates, deletions,
// whether the guard would stop it), planned without applying anything.
func (s *Server) previewSourceChange(ctx context.Context, next *store.Configuration, ch *views.SourceChange) {
	ch.Preview = previewView(s.engine.Preview(ctx, next, nil))
}

// sourceHost is what identifies a source's server or file.
func sourceHost(src string) string {
	if strings.HasPrefix(src, "ldif:") {
		return src
	}
	u, err := url.Parse(src)
	if err != nil {
		return src
	}
	return strings.ToLower(u.Hostname())
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// storeSource saves the source settings of the draft onto the
// configuration as it is now (a Basics or Scope saved meanwhile stays).
func (s *Server) storeSource(c echo.Context, cfg *store.Configuration, d *draft) error {
	src := d.Config
	_, err := s.store.EditConfiguration(c.Request().Context(), cfg.ID, currentUser(c).Name, func(cur *store.Configuration) error {
		cur.Source, cur.BaseDN, cur.BindDN, cur.BindPassword = src.Source, src.BaseDN, src.BindDN, src.BindPassword
		cur.BindMethod, cur.StartTLS, cur.CAFile, cur.TLSPin, cur.TLSServer = src.BindMethod, src.StartTLS, src.CAFile, src.TLSPin, src.TLSServer
		if guard.ValidateConfiguration(cur) == nil {
			return nil
		}
		cur.Scope = nil                         // a scope outside the new base DN: the base DN
		return guard.ValidateConfiguration(cur) // settings never checked (a forged confirmation): Invalid
	})
	if err != nil {
		return err
	}
	s.drafts.drop(d.ID)
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success", "Source saved. It applies from the next cycle.")
}

// editSchedule is the Edit Schedule pencil.
func (s *Server) editSchedule(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	return s.renderSchedule(c, http.StatusOK, cfg, views.ScheduleForm{Interval: formatInterval(cfg.Interval)})
}

func (s *Server) renderSchedule(c echo.Context, status int, cfg *store.Configuration, f views.ScheduleForm) error {
	p, err := s.configurationPage(c, cfg)
	if err != nil {
		return err
	}
	p.Base.Title = "Edit Schedule · " + cfg.Name
	p.ScheduleForm = &f
	return render(c, status, views.Configuration(p))
}

func (s *Server) saveSchedule(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	typed := c.FormValue("interval")
	d, err := guard.ParseInterval(typed)
	if err != nil {
		return s.renderSchedule(c, http.StatusUnprocessableEntity, cfg, views.ScheduleForm{Interval: typed, Error: capitalize(store.ErrorMessage(err))})
	}
	if d == cfg.Interval {
		return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "info", "Nothing changed.")
	}
	if _, err := s.store.EditConfiguration(c.Request().Context(), cfg.ID, currentUser(c).Name, func(cur *store.Configuration) error {
		cur.Interval = d
		return nil
	}); err != nil {
		return err
	}
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success", "Schedule saved: a cycle "+humanInterval(d)+".")
}

// formatInterval writes an interval as people type it: 2m, 90s, 1h30m.
func formatInterval(d time.Duration) string { return store.TypedDuration(d) }
