package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// heldPerPage is how many deleted objects the Deleted objects page shows
// at once.
const heldPerPage = 100

// deleted is the Deleted objects page: what is held, since when, until
// when, why and who allowed it, newest first, filtered by OU and paged.
func (s *Server) deleted(c echo.Context) error {
	ctx := c.Request().Context()
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	p := views.DeletedPage{Base: s.base(c, "Deleted objects · "+cfg.Name, "configurations"), ConfigID: cfg.ID, ConfigName: cfg.Name,
		Hold: store.HoldText(cfg.Basics.Hold), OU: c.QueryParam("ou")}
	all, err := s.store.HeldSummary(ctx, store.HeldQuery{ConfigID: cfg.ID})
	if err != nil {
		return err
	}
	p.Total, p.NextPurge, p.UpTo = all.Objects, formatTime(all.NextPurge), all.Newest
	if p.OUs, err = s.heldOUs(c, cfg.ID); err != nil {
		return err
	}
	q := store.HeldQuery{ConfigID: cfg.ID, UpTo: p.UpTo, Limit: heldPerPage}
	if p.OU != "" {
		if q.OUs, err = guard.HeldOUsUnder(ctx, s.store, cfg.ID, p.OU); err != nil {
			return err
		}
		if len(q.OUs) == 0 {
			q.OUs = []string{p.OU} // holds nothing: an empty list
		}
		p.RestoreOUURL = restoreURL(cfg.ID, url.Values{"ou": {p.OU}, "upto": {id64(p.UpTo)}})
	}
	p.RestoreAllURL = restoreURL(cfg.ID, url.Values{"all": {"1"}, "upto": {id64(p.UpTo)}})
	if before, err := strconv.ParseInt(c.QueryParam("before"), 10, 64); err == nil && before > 0 {
		q.Before = before
		p.FirstURL = deletedURL(cfg.ID, p.OU, 0)
	}
	rows, err := s.store.HeldObjects(ctx, q)
	if err != nil {
		return err
	}
	for _, h := range rows {
		p.Rows = append(p.Rows, views.HeldRow{Anchor: h.Anchor, Type: typeWord(h.Type, false), Name: h.Name, DN: h.DN,
			Cause: string(h.Cause), Deleted: formatTime(h.DeletedAt), Until: formatTime(h.PurgeAt), AllowedBy: allowedBy(h.AllowedBy),
			RestoreURL: restoreURL(cfg.ID, url.Values{"anchor": {h.Anchor}})})
	}
	if len(rows) == q.Limit {
		p.NextURL = deletedURL(cfg.ID, p.OU, rows[len(rows)-1].ID)
	}
	return render(c, http.StatusOK, views.Deleted(p))
}

// heldOUs counts the held objects of a configuration by the OU they were in.
func (s *Server) heldOUs(c echo.Context, configID int64) ([]views.Count, error) {
	counts, err := s.store.HeldOUs(c.Request().Context(), configID)
	out := make([]views.Count, 0, len(counts))
	for _, n := range counts {
		out = append(out, views.Count{Label: n.Label, N: n.N})
	}
	return out, err
}

// allowedBy words who allowed a held deletion.
func allowedBy(who string) string {
	if who == store.HeldBySyncguard {
		return "syncguard (under the limits)"
	}
	return who
}

func id64(n int64) string { return strconv.FormatInt(n, 10) }

// deletedURL is a page of the Deleted objects page.
func deletedURL(configID int64, ou string, before int64) string {
	v := url.Values{}
	if ou != "" {
		v.Set("ou", ou)
	}
	if before > 0 {
		v.Set("before", id64(before))
	}
	if len(v) == 0 {
		return views.ConfigURL(configID, "/deleted")
	}
	return views.ConfigURL(configID, "/deleted?"+v.Encode())
}

// restoreURL is the confirmation of restoring what v names.
func restoreURL(configID int64, v url.Values) string {
	return views.ConfigURL(configID, "/deleted/restore?"+v.Encode())
}

// restoreSelection reads what a restore is about from a query or a form:
// all=1, ou=DN, or one or more anchor=A; upto bounds it to what the admin
// saw.
func restoreSelection(v url.Values) guard.RestoreSelection {
	sel := guard.RestoreSelection{All: v.Get("all") != "", OU: v.Get("ou"), Anchors: v["anchor"]}
	sel.UpTo, _ = strconv.ParseInt(v.Get("upto"), 10, 64)
	return sel
}

// hiddenSelection is sel as the Yes form's hidden fields.
func hiddenSelection(sel guard.RestoreSelection) []views.Hidden {
	var out []views.Hidden
	if sel.All {
		out = append(out, views.Hidden{Name: "all", Value: "1"})
	}
	if sel.OU != "" {
		out = append(out, views.Hidden{Name: "ou", Value: sel.OU})
	}
	for _, a := range sel.Anchors {
		out = append(out, views.Hidden{Name: "anchor", Value: a})
	}
	if sel.UpTo > 0 {
		out = append(out, views.Hidden{Name: "upto", Value: id64(sel.UpTo)})
	}
	return out
}

// confirmRestore asks "Restore N deleted objects to <config>?", naming
// a few of them.
func (s *Server) confirmRestore(c echo.Context) error {
	ctx := c.Request().Context()
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	back := views.ConfigURL(cfg.ID, "/deleted")
	p := views.ConfirmPage{Base: s.base(c, "Restore deleted objects · "+cfg.Name, "configurations"), ConfigID: cfg.ID,
		ConfigName: cfg.Name, Kind: "restore", Action: views.ConfigURL(cfg.ID, "/deleted/restore"), CancelURL: back}
	sel := restoreSelection(c.QueryParams())
	if !sel.All && sel.OU == "" && len(sel.Anchors) == 0 {
		p.Question, p.Nothing = "Restore deleted objects?", "Tick the deleted objects to restore first, or choose Restore all."
		return render(c, http.StatusOK, views.Confirm(p))
	}
	q, err := guard.SelectHeld(ctx, s.store, cfg.ID, sel)
	if err != nil {
		return err
	}
	sum, err := s.store.HeldSummary(ctx, q)
	if err != nil {
		return err
	}
	if sum.Objects == 0 {
		p.Question, p.Nothing = "Restore deleted objects?", "None of these objects is held any more: purged, or restored already."
		return render(c, http.StatusOK, views.Confirm(p))
	}
	q.Limit = 10
	some, err := s.store.HeldObjects(ctx, q)
	if err != nil {
		return err
	}
	for _, h := range some {
		p.Items = append(p.Items, typeWord(h.Type, false)+" "+h.Name+" ("+h.DN+")")
	}
	p.More, p.Hidden = sum.Objects-len(some), hiddenSelection(sel)
	p.Question = fmt.Sprintf("Restore %s to %s?", views.Plural(sum.Objects, "deleted object", "deleted objects"), cfg.Name)
	if sum.Objects == 1 && len(some) == 1 {
		p.Question = fmt.Sprintf("Restore %s to %s?", some[0].Name, cfg.Name)
	}
	t, err := s.store.Target(ctx, cfg.ID)
	if err != nil {
		return err
	}
	where := "in the target directory"
	if !t.None() {
		where = "in the target directory copy and in the target (" + t.URL + ")"
	}
	p.Explain = "Yes puts them back " + where + " as they were — attributes, DN, and the groups that named them. " +
		"An object the source still lacks is a deletion again in the next cycle, counted by the guard: " +
		"fix the source or the scope first, or the next cycle deletes (and holds) it again, or stops sync when too many go."
	return render(c, http.StatusOK, views.Confirm(p))
}

// restore restores what the confirmation named, and goes back to the
// Deleted objects page saying what it did.
func (s *Server) restore(c echo.Context) error {
	cfg, form, err := s.configForm(c)
	if err != nil {
		return err
	}
	back := views.ConfigURL(cfg.ID, "/deleted")
	res, err := s.engine.Restore(c.Request().Context(), cfg.ID, restoreSelection(form), currentUser(c).Name)
	if errors.Is(err, store.ErrInvalid) {
		return s.redirectFlash(c, back, "error", "Nothing was restored: "+store.ErrorMessage(err)+".")
	}
	if err != nil {
		return err
	}
	if res.Objects == 0 {
		return s.redirectFlash(c, back, "info", "Nothing was restored: these objects are no longer held (purged, or restored already).")
	}
	msg := fmt.Sprintf("%s restored to %s", views.Plural(res.Objects, "deleted object", "deleted objects"), cfg.Name)
	if res.Groups > 0 {
		msg += fmt.Sprintf(", and %s got members back", views.Plural(res.Groups, "group", "groups"))
	}
	msg += ". An object the source still lacks is a deletion again in the next cycle, counted by the guard."
	return s.redirectFlash(c, back, "success", msg)
}
