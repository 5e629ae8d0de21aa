package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// The target's settings, as Edit Target and New configuration's Target
// step take them, and Test connection.

// targetView is the Target pane's model: the target's settings (never a
// secret) and its exports, each count linking to its log entries.
func targetView(configID int64, t guard.TargetOverview) views.Target {
	return views.Target{Kind: t.Kind, URL: t.URL, BaseDN: t.BaseDN, LastExport: formatTime(t.State.LastExport),
		Pending: t.State.Pending, Failed: t.State.Failed,
		PendingURL:  views.ConfigURL(configID, "/logs?status=Pending"),
		FailedURL:   views.ConfigURL(configID, "/logs?status=Failure"),
		Unreachable: formatTime(t.State.Unreachable), LastError: t.State.LastError}
}

// testTarget is Test connection: it connects to the configuration's
// target, authenticates and reads one page, and shows the answer on the
// configuration page (a flash: the page can be reloaded without testing
// again). It changes nothing.
func (s *Server) testTarget(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := s.store.Target(ctx, cfg.ID)
	if err != nil {
		return err
	}
	msg, err := guard.TestTarget(ctx, t, cfg)
	if err != nil {
		return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "error", "Test connection failed: "+err.Error())
	}
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success", "Test connection: "+msg)
}

// targetInput reads the target fields of a form. An empty password or
// token keeps the one typed earlier (prev, the draft's; may be nil).
func targetInput(form url.Values, prev *guard.TargetSettings) guard.TargetSettings {
	in := guard.TargetSettings{Kind: cmpOr(strings.TrimSpace(form.Get("target_kind")), guard.TargetNone),
		URL: form.Get("target_url"), BaseDN: form.Get("target_base_dn"), BindDN: form.Get("target_bind_dn"),
		BindPassword: form.Get("target_bind_password"), StartTLS: form.Get("target_starttls") != "",
		CAFile: form.Get("target_ca_file"), Token: form.Get("target_token")}
	if prev != nil {
		in.BindPassword = cmpOr(in.BindPassword, prev.BindPassword)
		in.Token = cmpOr(in.Token, prev.Token)
	}
	return in
}

// targetFormView shows target settings as typed, and whether a password
// or token is kept: typed earlier, or saved (kept, the target saved; nil
// for a new configuration) for a target of the same kind.
func targetFormView(in guard.TargetSettings, kept *store.Target, errs map[string]string) views.TargetForm {
	same := kept != nil && guard.TargetKind(kept.URL) == in.Kind
	return views.TargetForm{Kind: in.Kind, URL: in.URL, BaseDN: in.BaseDN, BindDN: in.BindDN, CAFile: in.CAFile,
		StartTLS: in.StartTLS, PasswordKept: in.BindPassword != "" || same && kept.BindPassword != "",
		TokenKept: in.Token != "" || same && kept.Token != "", Errors: errs}
}

// takeTarget is the step Edit Target and New configuration's Target step
// share: it reads the target fields of form into the draft, checks them
// for cfg and, unless they are none, connects to the target (Test
// connection's answer is in the form returned). It returns the form to
// show again, the target typed, and whether it may be saved: checked,
// and the target answered (or none). kept is the target saved (nil for a
// new configuration), whose secrets an empty field keeps.
func (s *Server) takeTarget(ctx context.Context, form url.Values, d *draft, kept *store.Target,
	cfg *store.Configuration) (views.TargetForm, *store.Target, bool) {
	in := targetInput(form, d.Target)
	d.Target = &in
	t, errs := guard.ApplyTarget(in, kept, cfg)
	view := targetFormView(in, kept, errs)
	d.TargetOK = errs == nil
	if errs == nil && !t.None() {
		msg, err := guard.TestTarget(ctx, t, cfg)
		if err != nil {
			view.Test = &views.ConnTest{Title: "Could not connect to the target", Lines: []string{err.Error()}}
		} else {
			view.Test = &views.ConnTest{OK: true, Title: "Connected to " + t.URL, Lines: []string{msg}}
		}
		d.TargetOK = err == nil
	}
	return view, t, d.TargetOK
}

// targetStatus is the status of a page showing the target form again
// after takeTarget: 422 for settings refused, or a target that did not
// answer when the admin meant to go on; 200 for Test connection.
func targetStatus(view views.TargetForm, ok bool, action string) int {
	if view.Errors != nil || !ok && action != "test" {
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
}

// editTarget is the Edit Target pencil.
func (s *Server) editTarget(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	t, err := s.store.Target(c.Request().Context(), cfg.ID)
	if err != nil {
		return err
	}
	form := targetFormView(guard.TargetSettingsOf(t), t, nil)
	if d, ok := s.drafts.get(c, s, c.QueryParam("draft")); ok && d.ConfigID == cfg.ID && d.Target != nil {
		form = targetFormView(*d.Target, t, nil)
		form.Draft = d.ID
	}
	return s.renderEditing(c, http.StatusOK, cfg, "Edit Target", func(p *views.ConfigurationPage) { p.TargetForm = &form })
}

// saveTarget is Edit Target's Save and Test connection, and the
// confirmation of a change of destination. Settings the target does not
// answer with are not saved: the page shows its answer, and every value
// typed (the secrets stay in the draft).
func (s *Server) saveTarget(c echo.Context) error {
	ctx := c.Request().Context()
	cfg, form, err := s.configForm(c)
	if err != nil {
		return err
	}
	stored, err := s.store.Target(ctx, cfg.ID)
	if err != nil {
		return err
	}
	d, ok := s.drafts.get(c, s, form.Get("draft"))
	if !ok || d.ConfigID != cfg.ID || d.Target == nil {
		d, ok = &draft{ConfigID: cfg.ID, TargetFrom: stored.Destination()}, false
	}
	switch form.Get("action") {
	case "confirm":
		if !ok || !d.TargetOK {
			return s.redirectFlash(c, views.ConfigURL(cfg.ID, "/target/edit"), "error",
				"This change was made too long ago and is forgotten: make it again.")
		}
		return s.storeTarget(c, cfg, d)
	case "edit":
		return c.Redirect(http.StatusSeeOther, views.ConfigURL(cfg.ID, "/target/edit?draft="+url.QueryEscape(d.ID)))
	}
	view, t, good := s.takeTarget(ctx, form, d, stored, cfg)
	s.drafts.save(c, s, d)
	view.Draft = d.ID
	if status := targetStatus(view, good, form.Get("action")); status != http.StatusOK || form.Get("action") == "test" {
		return s.renderEditing(c, status, cfg, "Edit Target", func(p *views.ConfigurationPage) { p.TargetForm = &view })
	}
	if t.Destination() != stored.Destination() {
		ch := s.targetChange(ctx, cfg, stored, t, d.ID)
		return s.renderEditing(c, http.StatusOK, cfg, "Edit Target", func(p *views.ConfigurationPage) { p.TargetChange = ch })
	}
	return s.storeTarget(c, cfg, d)
}

// targetChange describes a change of the target's destination from old
// to t: what the next cycle exports, and what is dropped.
func (s *Server) targetChange(ctx context.Context, cfg *store.Configuration, old, t *store.Target, draftID string) *views.TargetChange {
	ch := &views.TargetChange{Draft: draftID, From: cmpOr(old.URL, store.TargetNone), To: cmpOr(t.URL, store.TargetNone),
		Started: s.sched != nil}
	if ch.From != ch.To {
		ch.Changes = append(ch.Changes, "target: "+ch.From+" → "+ch.To)
	}
	if ob, nb := old.BaseDN, t.BaseDN; !t.None() && !strings.EqualFold(ob, nb) && (ob != "" || nb != "") {
		ch.Changes = append(ch.Changes, "target base DN: "+orNone(ob)+" → "+orNone(nb))
	}
	if u, g, err := s.store.ObjectCounts(ctx, cfg.ID); err == nil {
		ch.Users, ch.Groups = u, g
	}
	if st, err := s.store.TargetState(ctx, cfg.ID); err == nil {
		ch.Dropped = st.Pending + st.Failed
	}
	return ch
}

// storeTarget saves the target of the draft onto the configuration's
// target as it is now: a secret left empty keeps the one saved then. A
// target whose destination moved since the change was made is not
// touched (the admin looks again). A new destination gets the whole copy
// by a cycle started at once.
func (s *Server) storeTarget(c echo.Context, cfg *store.Configuration, d *draft) error {
	var moved, same bool
	saved, err := s.store.EditTarget(c.Request().Context(), cfg.ID, currentUser(c).Name, func(cur *store.Target) error {
		if cur.Destination() != d.TargetFrom {
			return store.Errorf(store.Conflict, "The target was changed by someone else meanwhile: look at it again.")
		}
		t, errs := guard.ApplyTarget(*d.Target, cur, cfg)
		if errs != nil {
			return store.Errorf(store.Invalid, "these target settings were never checked") // a forged confirmation
		}
		before := *cur
		cur.SetSettings(t)
		moved, same = before.Destination() != cur.Destination(), before == *cur
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "error", store.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	s.drafts.drop(d.ID)
	msg := "Target saved. Exports waiting for it are tried again at once."
	switch {
	case same:
		return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "info", "Nothing changed.")
	case moved && saved.None():
		msg = "Target removed: nothing is exported any more. What was exported stays where it is."
	case moved && s.sched != nil && s.sched.Trigger(cfg.ID, guard.TriggerManual):
		msg = "Target saved. A cycle has started: it exports the whole copy to " + saved.URL + "."
	case moved:
		msg = "Target saved. The next cycle exports the whole copy to " + saved.URL + "."
	}
	return s.redirectFlash(c, views.ConfigURL(cfg.ID, ""), "success", msg)
}
