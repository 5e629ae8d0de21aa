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

// confirmAllow asks "Allow N deletions from <config>?" for all the staged
// deletions, or for the part the query names (OU, type, cause, chosen
// objects), saying what goes, what stays, and which of the objects the
// scope holds again (with a link that leaves them out).
func (s *Server) confirmAllow(c echo.Context) error {
	ctx := c.Request().Context()
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	back := views.ConfigURL(cfg.ID, "")
	p := views.ConfirmPage{Base: s.base(c, "Allow deletes · "+cfg.Name, "configurations"), ConfigID: cfg.ID, ConfigName: cfg.Name,
		Kind: "allow", Action: views.ConfigURL(cfg.ID, "/allow-deletes"), CancelURL: back, QuarantineID: cfg.QuarantineID}
	if cfg.QuarantineID == 0 {
		p.Question = "Nothing to allow"
		p.Nothing = "There are no staged deletions to allow for " + cfg.Name + ": sync is not stopped."
		return render(c, http.StatusOK, views.Confirm(p))
	}
	p.Part = parsePart(c.QueryParams())
	if err := s.wordAllow(ctx, cfg, &p); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Confirm(p))
}

// wordAllow fills in what Allow deletes of p.Part would do.
func (s *Server) wordAllow(ctx context.Context, cfg *store.Configuration, p *views.ConfirmPage) error {
	again, err := s.inScopeAgain(ctx, cfg)
	if err != nil {
		return err
	}
	f := filterOf(p.Part, again)
	deletes, updates, err := s.stagedCounts(ctx, cfg, f)
	if err != nil {
		return err
	}
	allDeletes, allUpdates, err := s.stagedCounts(ctx, cfg, store.StagedFilter{})
	if err != nil {
		return err
	}
	p.Count, p.GoingOf, p.Staying = deletes, deletes, allDeletes+allUpdates-deletes-updates
	if deletes+updates == 0 {
		p.Question, p.Nothing = "Nothing to allow", "None of the staged deletions of "+cfg.Name+" is in this part."
		return nil
	}
	what := views.Plural(deletes, "deletion", "deletions")
	if updates > 0 {
		what += " and the member removals of " + views.Plural(updates, "group", "groups")
	}
	p.Question = fmt.Sprintf("Allow %s from %s?", what, cfg.Name)
	p.Explain = fmt.Sprintf("Yes deletes the %s staged by cycle %d from the target directory", views.Plural(deletes, "object", "objects"),
		cfg.QuarantineID)
	if p.Staying == 0 {
		p.Explain += ", then runs the next cycle"
	}
	p.Explain += ". "
	if h := (store.Hold{Since: s.store.Now(), For: cfg.Basics.Hold}); h.On() {
		p.Explain += fmt.Sprintf("The deletions are not final at once: each object is disabled in the target and held for %s, "+
			"until %s, and can be restored from Deleted objects until then.", store.HoldText(h.For), formatTime(h.Until()))
	} else {
		p.Explain += "This cannot be undone."
	}
	if !p.Part.IsZero() {
		p.PartWords = partWords(p.Part)
	}
	inPart, err := s.countAgain(ctx, cfg, p.Part, again)
	if err != nil {
		return err
	}
	p.InScopeAgain = inPart
	toggle := p.Part
	toggle.LeaveInScope = !p.Part.LeaveInScope
	p.ToggleURL = views.ConfigURL(cfg.ID, "/allow-deletes") + "?" + partQuery(toggle).Encode()
	going, err := s.store.StagedChanges(ctx, store.StagedQuery{ConfigID: cfg.ID, CycleID: cfg.QuarantineID, State: store.StagedPending,
		Filter: f, ByName: true, Limit: 20})
	if err != nil {
		return err
	}
	p.Going, err = s.stagedObjects(ctx, cfg, going)
	return err
}

// countAgain counts the objects in scope again among a part.
func (s *Server) countAgain(ctx context.Context, cfg *store.Configuration, part views.Part, again []string) (int, error) {
	if len(again) == 0 {
		return 0, nil
	}
	f := filterOf(part, nil)
	if len(f.Anchors) == 0 {
		f.Anchors = again
	} else {
		var both []string
		for _, a := range f.Anchors {
			if slices.Contains(again, a) {
				both = append(both, a)
			}
		}
		if len(both) == 0 {
			return 0, nil
		}
		f.Anchors = both
	}
	n, _, err := s.stagedCounts(ctx, cfg, f)
	return n, err
}

// allowDeletes applies the staged deletes of the confirmed quarantine, or
// the part of them the confirmation named.
func (s *Server) allowDeletes(c echo.Context) error {
	ctx := c.Request().Context()
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	part := parsePart(form)
	var again []string
	if part.LeaveInScope {
		if again, err = s.inScopeAgain(ctx, cfg); err != nil {
			return err
		}
	}
	allow := func(ctx context.Context, configID, quarantineID int64, actor string) (guard.Resolution, error) {
		words := ""
		if !part.IsZero() {
			words = partWords(part)
		}
		return s.engine.AllowPart(ctx, configID, quarantineID, actor, filterOf(part, again), words)
	}
	return s.decide(c, allow, "Nothing was deleted", func(cfg *store.Configuration, r guard.Resolution) string {
		msg := fmt.Sprintf("Deletions accepted: %s deleted from %s.", views.Plural(r.Count, "object", "objects"), cfg.Name)
		if r.Updated > 0 {
			msg += fmt.Sprintf(" %s lost the member links staged.", views.Plural(r.Updated, "group", "groups"))
		}
		if r.Remaining > 0 {
			msg += fmt.Sprintf(" %s still pending: sync stays stopped until none is.",
				views.Plural(r.Remaining, "staged change is", "staged changes are"))
		}
		if h := (store.Hold{Since: s.store.Now(), For: cfg.Basics.Hold}); h.On() && r.Count > 0 {
			msg += fmt.Sprintf(" They are held until %s: Deleted objects can restore them until then.", formatTime(h.Until()))
		}
		return msg
	}, "The next cycle is running.")
}

// quarantineParam reads the quarantine a confirmation's Yes carries.
func quarantineParam(c echo.Context) (int64, error) {
	q, err := strconv.ParseInt(c.FormValue("quarantine"), 10, 64)
	if err != nil || q < 0 {
		return 0, errors.New("bad quarantine")
	}
	return q, nil
}
