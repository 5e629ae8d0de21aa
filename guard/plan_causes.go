package guard

import (
	"context"
	"fmt"
	"strings"

	"github.com/syncguard/syncguard/store"
)

// Every deletion says why (SPEC section 9), from what the cycle knows:
//
//   - below a scope OU the source no longer has: scope OU gone;
//   - where the object was is no longer in the scope: scope changed, naming
//     who took which OU out of it and when (store.ScopeRemovals);
//   - the source has the object (by its anchor) out of scope: moved out of
//     scope, naming where it is now; or in scope, of a class syncguard
//     does not sync: no longer a user or group;
//   - else: deleted at the source.
//
// An LDIF source gives every entry of the file, so the planner sees the
// objects out of scope or of other classes as it reads. An LDAP source is
// searched below the scope for users and groups only: where the others
// went is looked up (Plan.Explain) only when it matters — a quarantine and
// a preview — since it costs a search of the whole base DN.

// location is where the source has an object of the target directory
// that the cycle does not sync.
type location struct {
	dn     string
	synced bool // a user or group syncguard syncs (out of scope, then)
}

// causes finds the cause of each deletion of a plan.
type causes struct {
	scope    []string // normalized
	gone     []string // scope OUs the source no longer has, normalized
	goneRaw  []string // the same, as the scope names them
	removals []store.ScopeRemoval
	// located are the target objects the source has but the cycle does
	// not sync, by anchor.
	located map[string]location
	// places caches what holds for the objects below a parent DN, as the
	// directory spells it: a million deletions from four OUs normalize
	// four DNs, not a million.
	places map[string]place
}

// place is what holds for the objects below one parent DN.
type place struct {
	in, gone bool   // in scope; below a scope OU gone
	goneOU   string // that OU, as the scope names it
	// scopeChild: a scope entry sits right below the parent, so an object
	// there may be in scope though the parent is not: it is asked alone.
	scopeChild bool
}

func newCauses(scope []string) *causes {
	return &causes{scope: scope, located: map[string]location{}, places: map[string]place{}}
}

// locate notes where the source has the target object anchor when the
// cycle does not sync it.
func (c *causes) locate(anchor, dn string, synced bool) {
	c.located[anchor] = location{dn: dn, synced: synced}
}

// where says whether the object at dn (as the directory spells it) is in
// scope, or below a scope OU gone.
func (c *causes) where(dn string) place {
	parent := strings.TrimSpace(ParentDN(dn))
	pl, ok := c.places[parent]
	if !ok {
		pnorm, err := NormalizeDN(parent)
		if err != nil {
			pl.scopeChild = true // ask each object
		} else {
			pl = c.placeOf(pnorm)
			for _, s := range c.scope {
				pl.scopeChild = pl.scopeChild || ParentDN(s) == pnorm
			}
		}
		c.places[parent] = pl
	}
	if pl.in || !pl.scopeChild {
		return pl
	}
	norm, err := NormalizeDN(dn)
	if err != nil {
		return place{}
	}
	return c.placeOf(norm)
}

// placeOf says what holds at or below the normalized DN norm.
func (c *causes) placeOf(norm string) place {
	pl := place{in: InScope(norm, c.scope)}
	for i, g := range c.gone {
		if InScope(norm, []string{g}) {
			pl.gone, pl.goneOU = true, c.goneRaw[i]
		}
	}
	return pl
}

// explain sets the cause of a deletion, and its details.
func (c *causes) explain(d *store.StagedDelete) {
	pl := c.where(d.DN)
	loc, located := c.located[d.Anchor]
	switch {
	case pl.gone:
		d.Cause, d.Detail = store.CauseScopeOUGone, goneWords([]string{pl.goneOU})
	case !pl.in:
		d.Cause, d.Detail = store.CauseScopeChanged, c.removedBy(d.DN)
		if located && loc.dn != d.DN {
			d.Detail += "; now at " + loc.dn
		}
	case located && !loc.synced && c.inScopeDN(loc.dn):
		d.Cause, d.Detail = store.CauseNotSynced, "still at "+loc.dn+", of no object class syncguard syncs"
	case located:
		d.Cause, d.Detail = store.CauseMovedOut, "now at "+loc.dn
		if !loc.synced {
			d.Detail += ", of no object class syncguard syncs"
		}
	default:
		d.Cause, d.Detail = store.CauseDeleted, ""
	}
}

// inScopeDN reports whether dn is in scope.
func (c *causes) inScopeDN(dn string) bool {
	norm, err := NormalizeDN(dn)
	return err == nil && InScope(norm, c.scope)
}

// removedBy says who took the OU of dn out of the scope and when: the
// newest removal of an OU at or above it.
func (c *causes) removedBy(dn string) string {
	norm, err := NormalizeDN(dn)
	if err == nil {
		for _, r := range c.removals {
			if ou, err := NormalizeDN(r.OU); err == nil && InScope(norm, []string{ou}) {
				if r.Time.IsZero() {
					return fmt.Sprintf("%s removed from the scope by %s", r.OU, r.Actor)
				}
				return fmt.Sprintf("%s removed from the scope by %s at %s", r.OU, r.Actor, r.Time.UTC().Format("2006-01-02 15:04:05 UTC"))
			}
		}
	}
	return "the scope no longer includes " + strings.TrimSpace(ParentDN(dn))
}

// ScopeHistory tells the planner who took which OUs out of the scope
// (newest first), for the deletions of cause scope changed.
func (p *Planner) ScopeHistory(removals []store.ScopeRemoval) {
	p.plan.why.removals = removals
}

// elsewhere notes an entry the cycle does not sync (out of scope, or of
// no class it syncs) when the target directory has it: its deletion is
// then explained by where it is. norm is its normalized DN, or "".
func (p *Planner) elsewhere(e *Entry, norm string, synced bool) {
	if len(p.index) == 0 {
		return
	}
	anchor := ""
	if e.Get("objectGUID") == nil && e.Get("entryUUID") == nil {
		if norm == "" {
			var err error
			if norm, err = NormalizeDN(e.DN); err != nil {
				return
			}
		}
	}
	anchor = Anchor(e, norm)
	if h, ok := p.index[anchor]; ok && h != "" {
		p.plan.why.locate(anchor, e.DN, synced)
	}
}

// Explain looks up, with locate (a search of the whole source, Locator),
// where the objects the plan deletes as "deleted at the source" are, and
// gives them their causes: a source that reads only the scope cannot
// tell moved and reclassified objects from deleted ones otherwise.
func (p *Plan) Explain(ctx context.Context, locate func(ctx context.Context, fn func(*Entry) error) error) error {
	want := map[string]bool{}
	for i := range p.Deletes {
		if p.Deletes[i].Cause == store.CauseDeleted {
			want[p.Deletes[i].Anchor] = true
		}
	}
	if len(want) == 0 || locate == nil {
		return nil
	}
	err := locate(ctx, func(e *Entry) error {
		norm, err := NormalizeDN(e.DN)
		if err != nil {
			return nil
		}
		if a := Anchor(e, norm); want[a] {
			typ := Classify(e.Get("objectClass"))
			p.why.locate(a, strings.Clone(e.DN), typ != "" && !critical(e))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range p.Deletes {
		if d := &p.Deletes[i]; d.Cause == store.CauseDeleted {
			p.why.explain(d)
		}
	}
	return nil
}
