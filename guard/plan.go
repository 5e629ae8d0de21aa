package guard

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/syncguard/syncguard/store"
)

// Plan is what one cycle would change in the target directory.
type Plan struct {
	Read     int // entries read from the source
	InScope  int // users and groups in scope
	Creates  []Change
	Updates  []Change
	Deletes  []store.StagedDelete // objects no longer in scope (OU is where they were)
	Returned []string             // anchors of pending staged deletes whose object is back in scope
}

// Change is an object to create or update, with what changed.
type Change struct {
	Object  store.TargetObject
	Details string
}

// Progress counts a cycle's work for whoever watches it.
type Progress struct {
	Read, Planned, Applied atomic.Int64
	Phase                  atomic.Value // string
}

// group is a group whose members are resolved once every object is known.
type group struct {
	obj     store.TargetObject
	normDN  string
	members []string // member/uniqueMember DNs, normalized
	uids    []string // memberUid values
}

// Planner builds a Plan from a stream of source entries against the target
// directory's index.
type Planner struct {
	scope   []string
	index   map[string]store.IndexEntry
	pending map[string]bool // anchors with a pending staged delete
	seen    map[string]string
	dnToAnc map[string]string
	uidAnc  map[string]string
	groups  []group
	plan    Plan
	prog    *Progress
}

// NewPlanner returns a planner for the normalized scope, the target index
// and the anchors whose deletion is staged.
func NewPlanner(scope []string, index map[string]store.IndexEntry, pending map[string]bool, prog *Progress) *Planner {
	if prog == nil {
		prog = &Progress{}
	}
	return &Planner{scope: scope, index: index, pending: pending, prog: prog,
		seen: make(map[string]string, len(index)), dnToAnc: make(map[string]string, len(index)),
		uidAnc: make(map[string]string)}
}

// Add takes one source entry. It fails on an entry that cannot be trusted
// (a DN that does not parse, two entries with one anchor): the source is
// then malformed and the cycle must fail.
func (p *Planner) Add(e *Entry) error {
	p.plan.Read++
	p.prog.Read.Add(1)
	typ := Classify(e.Get("objectClass"))
	if typ == "" {
		return nil
	}
	norm, err := NormalizeDN(e.DN)
	if err != nil {
		return fmt.Errorf("source entry: %w", err)
	}
	if !InScope(norm, p.scope) {
		return nil
	}
	anchor := Anchor(e, norm)
	if prev, dup := p.seen[anchor]; dup {
		return fmt.Errorf("source: two entries share the anchor %s: %q and %q", anchor, prev, e.DN)
	}
	p.seen[anchor] = e.DN
	p.dnToAnc[norm] = anchor
	p.plan.InScope++
	obj := store.TargetObject{Anchor: anchor, Type: typ, DN: e.DN, Name: displayName(e, e.DN), Attributes: attributes(e)}
	if typ == TypeGroup {
		g := group{obj: obj, normDN: norm}
		for _, attr := range []string{"member", "uniqueMember"} {
			for _, m := range e.Get(attr) {
				if attr == "uniqueMember" {
					// uniqueMember may carry an optional UID: "dn#'0101'B".
					if i := strings.LastIndex(m, "#'"); i > 0 {
						m = m[:i]
					}
				}
				if nm, err := NormalizeDN(m); err == nil {
					g.members = append(g.members, nm)
				}
			}
		}
		g.uids = slices.Clone(e.Get("memberUid"))
		p.groups = append(p.groups, g)
		return nil
	}
	if uid := e.Get("uid"); len(uid) > 0 {
		p.uidAnc[strings.ToLower(uid[0])] = anchor
	}
	p.compare(obj, norm)
	return nil
}

func (p *Planner) compare(obj store.TargetObject, norm string) {
	obj.Hash = contentHash(obj.Type, norm, obj.Attributes)
	p.prog.Planned.Add(1)
	old, ok := p.index[obj.Anchor]
	switch {
	case !ok:
		p.plan.Creates = append(p.plan.Creates, Change{Object: obj, Details: "created"})
	case old.Hash != obj.Hash:
		ch := Change{Object: obj}
		if old.DN != obj.DN {
			ch.Details = fmt.Sprintf("moved: %s → %s", old.DN, obj.DN)
		}
		p.plan.Updates = append(p.plan.Updates, ch)
	}
	if p.pending[obj.Anchor] {
		p.plan.Returned = append(p.plan.Returned, obj.Anchor)
	}
}

// Finish resolves group members, lists the deletions and returns the plan.
// oldAttrs loads the target attributes of updated objects to describe
// which attributes changed; it may be nil.
func (p *Planner) Finish(ctx context.Context, oldAttrs func(ctx context.Context, anchors []string) (map[string]*store.TargetObject, error)) (*Plan, error) {
	for i := range p.groups {
		g := &p.groups[i]
		var members []string
		for _, m := range g.members {
			if a, ok := p.dnToAnc[m]; ok {
				members = append(members, a)
			}
		}
		for _, u := range g.uids {
			if a, ok := p.uidAnc[strings.ToLower(u)]; ok {
				members = append(members, a)
			}
		}
		slices.Sort(members)
		members = slices.Compact(members)
		if len(members) > 0 {
			g.obj.Attributes[MembersAttr] = members
		}
		p.compare(g.obj, g.normDN)
	}
	p.groups = nil
	for anchor, e := range p.index {
		if _, ok := p.seen[anchor]; ok {
			continue
		}
		// The OU keeps the directory's own spelling: it is shown to admins.
		ou := strings.TrimSpace(ParentDN(e.DN))
		p.plan.Deletes = append(p.plan.Deletes, store.StagedDelete{Anchor: anchor, Type: e.Type, DN: e.DN, Name: e.Name, OU: ou})
	}
	slices.SortFunc(p.plan.Deletes, func(a, b store.StagedDelete) int { return strings.Compare(a.DN, b.DN) })
	if oldAttrs != nil && len(p.plan.Updates) > 0 {
		anchors := make([]string, len(p.plan.Updates))
		for i, u := range p.plan.Updates {
			anchors[i] = u.Object.Anchor
		}
		olds, err := oldAttrs(ctx, anchors)
		if err != nil {
			return nil, err
		}
		for i := range p.plan.Updates {
			u := &p.plan.Updates[i]
			if old, ok := olds[u.Object.Anchor]; ok {
				if changed := changedAttributes(old.Attributes, u.Object.Attributes); len(changed) > 0 {
					if u.Details != "" {
						u.Details += "; "
					}
					u.Details += "changed: " + strings.Join(changed, ", ")
				}
			}
		}
	}
	for i := range p.plan.Updates {
		if p.plan.Updates[i].Details == "" {
			p.plan.Updates[i].Details = "updated"
		}
	}
	return &p.plan, nil
}

// Decision is the guard's verdict on a plan.
type Decision struct {
	Quarantine bool
	Deletions  int
	Threshold  int
	Reason     string
}

// Decide applies the accidental deletion guard: with prevention on, a plan
// whose deletions reach the threshold (deletions ≥ threshold) is quarantined.
func Decide(p *Plan, b store.Basics) Decision {
	d := Decision{Deletions: len(p.Deletes), Threshold: b.Threshold}
	switch {
	case !b.Prevent:
		d.Reason = "prevention of accidental deletions is off"
	case b.Threshold > 0 && d.Deletions >= b.Threshold:
		d.Quarantine = true
		d.Reason = fmt.Sprintf("%d deletions reach the threshold of %d", d.Deletions, b.Threshold)
	default:
		d.Reason = fmt.Sprintf("%d deletions are below the threshold of %d", d.Deletions, b.Threshold)
	}
	return d
}
