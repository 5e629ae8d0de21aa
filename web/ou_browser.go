package web

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/views"
)

// The scope picker of New configuration and Edit Scope: one level of the
// source's tree per request, the ticks kept in a draft between requests.

// ouPage is how many OUs of one level a page lists.
const ouPage = 100

// sourceTimeout bounds what a page asks of a source (Test connection, a
// level of OUs, counting OUs): an admin waits for the answer.
const sourceTimeout = 30 * time.Second

// browsePlace is where the picker stands: which OU's children, which page,
// which filter.
type browsePlace struct {
	At     string
	Page   int
	Filter string
}

// query is the place as URL parameters.
func (p browsePlace) query(draftID string) string {
	v := url.Values{"draft": {draftID}}
	if p.At != "" {
		v.Set("at", p.At)
	}
	if p.Page > 1 {
		v.Set("page", strconv.Itoa(p.Page))
	}
	if p.Filter != "" {
		v.Set("q", p.Filter)
	}
	return v.Encode()
}

// placeFrom reads a place from the query or a form (at, page, q), then the
// move a button asked for: browse (open an OU or go up), goto (a page),
// action=filter.
func placeFrom(v url.Values) browsePlace {
	p := browsePlace{At: v.Get("at"), Filter: strings.TrimSpace(v.Get("q"))}
	p.Page, _ = strconv.Atoi(v.Get("page"))
	if g, err := strconv.Atoi(v.Get("goto")); err == nil {
		p.Page = g
	}
	if b := v.Get("browse"); b != "" {
		p = browsePlace{At: b}
	}
	if v.Get("action") == "filter" {
		p.Page = 1
	}
	p.Page = max(p.Page, 1)
	return p
}

// applyTicks updates the draft's scope from a posted picker: each OU the
// form showed is ticked or not as its checkbox says; "remove" unticks one.
// A form without "shown" (a script posting the whole list) sets the scope
// to its "ou" values.
func applyTicks(d *draft, form url.Values) {
	shown, ticked := form["shown"], form["ou"]
	if len(shown) == 0 && len(ticked) > 0 {
		d.Config.Scope = slices.Clone(ticked)
	}
	for _, dn := range shown {
		d.Config.Scope = withoutDN(d.Config.Scope, dn)
		if slices.Contains(ticked, dn) {
			d.Config.Scope = append(d.Config.Scope, dn)
		}
	}
	if r := form.Get("remove"); r != "" {
		d.Config.Scope = withoutDN(d.Config.Scope, r)
	}
	sortDNs(d.Config.Scope)
}

// withoutDN drops dn (compared normalized) from list.
func withoutDN(list []string, dn string) []string {
	norm, _ := guard.NormalizeDN(dn)
	return slices.DeleteFunc(list, func(x string) bool {
		n, _ := guard.NormalizeDN(x)
		return n == norm || x == dn
	})
}

// sortDNs orders DNs as a tree: each parent before its children.
func sortDNs(dns []string) {
	key := func(dn string) []string {
		n, _ := guard.NormalizeDN(dn)
		parts := strings.Split(n, ",")
		slices.Reverse(parts)
		return parts
	}
	slices.SortStableFunc(dns, func(a, b string) int { return slices.Compare(key(a), key(b)) })
}

// countTicked counts the users and groups below the ticked OUs it has not
// counted yet; the counts stay in the draft.
func (s *Server) countTicked(ctx context.Context, d *draft) error {
	if d.Counts == nil {
		d.Counts = map[string]guard.Counts{}
	}
	var todo []string
	for _, dn := range d.Config.Scope {
		if n, err := guard.NormalizeDN(dn); err == nil {
			if _, ok := d.Counts[n]; !ok {
				todo = append(todo, dn)
			}
		}
	}
	if len(todo) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	counts, err := guard.CountObjects(ctx, &d.Config, s.engine.Source, todo)
	if err != nil {
		return err
	}
	for i, dn := range todo {
		n, _ := guard.NormalizeDN(dn)
		d.Counts[n] = counts[i]
	}
	return nil
}

// ouBrowser reads one level of the source and builds the picker.
func (s *Server) ouBrowser(ctx context.Context, d *draft, at browsePlace) views.OUBrowser {
	cfg := &d.Config
	if at.At == "" {
		at.At = cfg.BaseDN
	}
	b := views.OUBrowser{Draft: d.ID, At: at.At, Filter: at.Filter, Page: at.Page}
	ticked, _ := guard.NormalizeScope(cfg.Scope)
	checked := func(dn string) bool {
		n, _ := guard.NormalizeDN(dn)
		return slices.Contains(ticked, n)
	}
	for _, dn := range guard.Ancestors(at.At, cfg.BaseDN) {
		b.Path = append(b.Path, views.OUItem{DN: dn, Name: guard.RDNName(dn)})
	}
	b.Self = views.OUItem{DN: at.At, Name: guard.RDNName(at.At), Checked: checked(at.At)}
	if err := s.countTicked(ctx, d); err != nil {
		b.Error = "Could not count the users and groups of the ticked OUs: " + guard.Explain(err)
	}
	selection(d, &b)
	lctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	children, err := guard.Children(lctx, cfg, s.engine.Source, at.At)
	if err != nil {
		b.Error = "Could not read the OUs below " + at.At + ": " + guard.Explain(err)
		return b
	}
	if at.Filter != "" {
		children = slices.DeleteFunc(children, func(c guard.Container) bool {
			return !strings.Contains(strings.ToLower(c.Name), strings.ToLower(at.Filter))
		})
	}
	b.Total = len(children)
	b.Pages = max(1, (b.Total+ouPage-1)/ouPage)
	b.Page = min(b.Page, b.Pages)
	for _, c := range children[(b.Page-1)*ouPage : min(b.Page*ouPage, b.Total)] {
		b.Items = append(b.Items, views.OUItem{DN: c.DN, Name: c.Name, Checked: checked(c.DN), Children: c.Children})
	}
	return b
}

// selection lists the ticked OUs with their counts; an OU inside another
// ticked one is named so and counted once.
func selection(d *draft, b *views.OUBrowser) {
	norms, _ := guard.NormalizeScope(d.Config.Scope)
	for i, dn := range d.Config.Scope {
		sel := views.SelectedOU{DN: dn}
		for j, other := range norms {
			if j != i && norms[j] != norms[i] && guard.InScope(norms[i], []string{other}) {
				sel.Inside = d.Config.Scope[j]
				break
			}
		}
		if i < len(norms) {
			if c, ok := d.Counts[norms[i]]; ok {
				sel.Users, sel.Groups, sel.Counted = c.Users, c.Groups, true
				if sel.Inside == "" {
					b.Users, b.Groups = b.Users+c.Users, b.Groups+c.Groups
				}
			}
		}
		b.Selected = append(b.Selected, sel)
	}
}
