package web

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// A part of a quarantine, as the sync status info filters its staged
// objects and a partial Allow deletes confirms it: by OU, object type,
// cause and chosen objects (they intersect), leaving out, on demand, the
// objects the scope holds again.

// parsePart reads a part from a query or a form. Values that are no OU,
// type or cause of the quarantine select nothing rather than everything.
func parsePart(v url.Values) views.Part {
	p := views.Part{Type: v.Get("type"), Cause: v.Get("cause"), LeaveInScope: v.Get("leave") == "in-scope"}
	for _, ou := range v["ou"] {
		if ou = strings.TrimSpace(ou); ou != "" {
			p.OUs = append(p.OUs, ou)
		}
	}
	if v.Get("pick") != "part" {
		p.Anchors = slices.DeleteFunc(slices.Clone(v["anchor"]), func(a string) bool { return a == "" })
	}
	return p
}

// filterOf is a part as the store selects it; again are the objects in
// scope again, left out when the part says so.
func filterOf(p views.Part, again []string) store.StagedFilter {
	f := store.StagedFilter{OUs: p.OUs, Type: p.Type, Cause: store.Cause(p.Cause), Anchors: p.Anchors}
	if p.LeaveInScope {
		f.Except = again
	}
	return f
}

// partWords words a part: "users in ou=Sales,… with cause scope changed,
// 3 chosen objects".
func partWords(p views.Part) string {
	var parts []string
	if p.Type != "" {
		parts = append(parts, typeWord(p.Type, true))
	} else {
		parts = append(parts, "objects")
	}
	if len(p.OUs) > 0 {
		parts[0] += " in " + strings.Join(p.OUs, " or ")
	}
	if p.Cause != "" {
		parts = append(parts, "cause "+p.Cause)
	}
	if len(p.Anchors) > 0 {
		parts = append(parts, views.Plural(len(p.Anchors), "chosen object", "chosen objects"))
	}
	if p.LeaveInScope {
		parts = append(parts, "leaving out those in scope again")
	}
	return strings.Join(parts, ", ")
}

// partQuery is a part as a query string.
func partQuery(p views.Part) url.Values {
	v := url.Values{}
	for _, ou := range p.OUs {
		v.Add("ou", ou)
	}
	for k, s := range map[string]string{"type": p.Type, "cause": p.Cause} {
		if s != "" {
			v.Set(k, s)
		}
	}
	for _, a := range p.Anchors {
		v.Add("anchor", a)
	}
	if p.LeaveInScope {
		v.Set("leave", "in-scope")
	}
	return v
}

// inScopeAgain returns the anchors of the pending staged deletes of cfg
// that its scope holds again.
func (s *Server) inScopeAgain(ctx context.Context, cfg *store.Configuration) ([]string, error) {
	return guard.BackInScope(ctx, s.store, cfg)
}

// stagedCounts counts the pending staged changes of cfg's quarantine in
// a part: deletions and groups' member removals.
func (s *Server) stagedCounts(ctx context.Context, cfg *store.Configuration, f store.StagedFilter) (deletes, updates int, err error) {
	counts, err := s.store.StagedCounts(ctx, store.StagedCountQuery{ConfigID: cfg.ID, CycleID: cfg.QuarantineID,
		State: store.StagedPending, Filter: f}, "action")
	for _, c := range counts {
		if c.Label == store.ActionStagedUpdate {
			updates = c.N
		} else {
			deletes += c.N
		}
	}
	return deletes, updates, err
}
