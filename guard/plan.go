package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/syncguard/syncguard/store"
)

// Plan is what one cycle would change in the target directory.
type Plan struct {
	Read     int      // entries read from the source
	InScope  int      // users and groups in scope
	Creates  []Change // creates held in memory (see NumCreates)
	Updates  []Change
	Deletes  []store.StagedDelete // objects no longer in scope (OU is where they were)
	Returned []string             // anchors of pending staged deletes whose object is back in scope
	// created holds the creates of a planner that spools them, besides
	// Creates.
	created *spool
}

// NumCreates returns how many objects the plan creates.
func (p *Plan) NumCreates() int { return len(p.Creates) + p.created.len() }

// creates yields every object the plan creates: those held in memory,
// then those spooled, in anchor order.
func (p *Plan) creates() iter.Seq2[*store.TargetObject, error] {
	return func(yield func(*store.TargetObject, error) bool) {
		for i := range p.Creates {
			if !yield(&p.Creates[i].Object, nil) {
				return
			}
		}
		if p.created != nil {
			p.created.all()(yield)
		}
	}
}

// Close releases the plan's spool, if any.
func (p *Plan) Close() {
	p.created.close()
	p.created = nil
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
	old     string   // hash in the target directory
	known   bool     // in the target directory
}

// keyAnchor maps a normalized DN or a uid to an anchor.
type keyAnchor struct{ key, anchor string }

// Planner builds a Plan from a stream of source entries against the target
// directory's index.
type Planner struct {
	scope []string
	// index maps the target directory's anchors to their content hash;
	// the hash of an anchor read from the source becomes "" (seen).
	index   map[string]string
	pending map[string]bool     // anchors with a pending staged delete
	created map[string]struct{} // anchors read that the target lacks
	// Normalized DNs and uids of the objects read, with their anchors, for
	// the groups' members: kept as lists and looked up at the end from
	// the few members the groups name, rather than a map of a million
	// entries built for them.
	dns    []keyAnchor
	uids   []keyAnchor
	groups []group
	plan   Plan
	prog   *Progress
	enc    *encoder
}

// NewPlanner returns a planner for the normalized scope, the content hashes
// of the target directory by anchor and the anchors whose deletion is staged.
func NewPlanner(scope []string, index map[string]string, pending map[string]bool, prog *Progress) *Planner {
	if prog == nil {
		prog = &Progress{}
	}
	return &Planner{scope: scope, index: index, pending: pending, prog: prog, enc: newEncoder(),
		created: make(map[string]struct{}), dns: make([]keyAnchor, 0, len(index)), uids: make([]keyAnchor, 0, len(index))}
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
	old, known := p.index[anchor]
	dup := known && old == ""
	if !known {
		_, dup = p.created[anchor]
	}
	if dup {
		prev := ""
		for _, d := range p.dns {
			if d.anchor == anchor {
				prev = d.key
			}
		}
		return fmt.Errorf("source: two entries share the anchor %s: %q and %q", anchor, prev, e.DN)
	}
	if known {
		p.index[anchor] = "" // seen
	} else {
		p.created[anchor] = struct{}{}
	}
	p.dns = append(p.dns, keyAnchor{norm, anchor})
	p.plan.InScope++
	obj := store.TargetObject{Anchor: anchor, Type: typ, DN: e.DN, Name: displayName(e, e.DN)}
	if typ == TypeGroup {
		obj.Attributes = attributes(e)
		g := group{obj: obj, normDN: norm, old: old, known: known}
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
		p.uids = append(p.uids, keyAnchor{strings.ToLower(uid[0]), anchor})
	}
	// The attributes are encoded once, and only for an object that
	// changed; no map of them is built.
	obj.Hash = p.enc.entryHash(obj.Type, norm, e)
	if !known || old != obj.Hash {
		obj.Encoded = p.enc.encoded()
	}
	return p.compare(obj, old, known)
}

// SpoolCreates makes the planner keep the objects it creates in a
// temporary file rather than in memory; the plan's Close removes it.
func (p *Planner) SpoolCreates() error {
	if p.plan.created != nil {
		return nil
	}
	s, err := newSpool()
	if err != nil {
		return err
	}
	p.plan.created = s
	return nil
}

// compare plans obj against its target hash old (known: the target has it).
func (p *Planner) compare(obj store.TargetObject, old string, known bool) error {
	p.prog.Planned.Add(1)
	switch {
	case !known && p.plan.created != nil:
		if err := p.plan.created.put(&obj); err != nil {
			return err
		}
	case !known:
		p.plan.Creates = append(p.plan.Creates, Change{Object: obj, Details: "created"})
	case old != obj.Hash:
		p.plan.Updates = append(p.plan.Updates, Change{Object: obj})
	}
	if p.pending[obj.Anchor] {
		p.plan.Returned = append(p.plan.Returned, obj.Anchor)
	}
	return nil
}

// IndexLookup calls fn with the type, DN and name of each of the anchors in
// the target directory (store.TargetIndexOf); member reports whether an
// anchor is one of them.
type IndexLookup func(ctx context.Context, anchors []string, member func(string) bool, fn func(string, store.IndexEntry)) error

// ObjectLookup returns the target objects among anchors, by anchor
// (store.TargetObjectsByAnchor).
type ObjectLookup func(ctx context.Context, anchors []string) (map[string]*store.TargetObject, error)

// Finish resolves group members, lists the deletions and returns the plan.
// index loads the type, DN and name of the target objects no longer in the
// source (the deletions). oldAttrs loads the target objects that are
// updated, to describe what changed (a move, attributes); it may be nil.
func (p *Planner) Finish(ctx context.Context, index IndexLookup, oldAttrs ObjectLookup) (*Plan, error) {
	if err := p.planGroups(); err != nil {
		return nil, err
	}
	if err := p.listDeletes(ctx, index); err != nil {
		return nil, err
	}
	if oldAttrs != nil && len(p.plan.Updates) > 0 {
		if err := p.describeUpdates(ctx, oldAttrs); err != nil {
			return nil, err
		}
	}
	for i := range p.plan.Updates {
		if p.plan.Updates[i].Details == "" {
			p.plan.Updates[i].Details = "updated"
		}
	}
	return &p.plan, nil
}

// planGroups resolves the members of the groups read, now that every
// object is known, and plans the groups.
func (p *Planner) planGroups() error {
	// The members the groups name, then their anchors in one pass over
	// the objects read (the last object with a DN or uid wins, as a map
	// filled in reading order would have it).
	dnAnc, uidAnc := map[string]string{}, map[string]string{}
	for i := range p.groups {
		for _, m := range p.groups[i].members {
			dnAnc[m] = ""
		}
		for _, u := range p.groups[i].uids {
			uidAnc[strings.ToLower(u)] = ""
		}
	}
	resolve := func(want map[string]string, list []keyAnchor) {
		if len(want) == 0 {
			return
		}
		for _, d := range list {
			if _, ok := want[d.key]; ok {
				want[d.key] = d.anchor
			}
		}
	}
	resolve(dnAnc, p.dns)
	resolve(uidAnc, p.uids)
	p.dns, p.uids, p.created = nil, nil, nil
	for i := range p.groups {
		g := &p.groups[i]
		var members []string
		for _, m := range g.members {
			if a := dnAnc[m]; a != "" {
				members = append(members, a)
			}
		}
		for _, u := range g.uids {
			if a := uidAnc[strings.ToLower(u)]; a != "" {
				members = append(members, a)
			}
		}
		slices.Sort(members)
		members = slices.Compact(members)
		if len(members) > 0 {
			g.obj.Attributes[MembersAttr] = members
		}
		g.obj.Hash, g.obj.Encoded = p.enc.object(g.obj.Type, g.normDN, g.obj.Attributes)
		if err := p.compare(g.obj, g.old, g.known); err != nil {
			return err
		}
	}
	p.groups = nil
	return nil
}

// listDeletes lists the target objects the source no longer has, by DN.
func (p *Planner) listDeletes(ctx context.Context, index IndexLookup) error {
	var gone []string
	for anchor, h := range p.index {
		if h != "" { // not seen
			gone = append(gone, anchor)
		}
	}
	if len(gone) > 0 {
		if index == nil {
			return fmt.Errorf("plan: %d deletions and no way to look them up", len(gone))
		}
		// An anchor deleted since the hashes were read (Allow deletes) is
		// not found: that moved the configuration's generation, so
		// ApplyCycle refuses this plan and the cycle plans again.
		p.plan.Deletes = make([]store.StagedDelete, 0, len(gone))
		member := func(a string) bool { h, ok := p.index[a]; return ok && h != "" }
		err := index(ctx, gone, member, func(anchor string, e store.IndexEntry) {
			// The OU keeps the directory's own spelling: it is shown to admins.
			ou := strings.TrimSpace(ParentDN(e.DN))
			p.plan.Deletes = append(p.plan.Deletes, store.StagedDelete{Anchor: anchor, Type: e.Type, DN: e.DN, Name: e.Name, OU: ou})
		})
		if err != nil {
			return err
		}
	}
	slices.SortFunc(p.plan.Deletes, func(a, b store.StagedDelete) int { return strings.Compare(a.DN, b.DN) })
	return nil
}

// describeUpdates says what changed in each update: a move, the attributes.
func (p *Planner) describeUpdates(ctx context.Context, oldAttrs ObjectLookup) error {
	anchors := make([]string, len(p.plan.Updates))
	for i, u := range p.plan.Updates {
		anchors[i] = u.Object.Anchor
	}
	olds, err := oldAttrs(ctx, anchors)
	if err != nil {
		return err
	}
	for i := range p.plan.Updates {
		u := &p.plan.Updates[i]
		old, ok := olds[u.Object.Anchor]
		if !ok {
			continue
		}
		if old.DN != u.Object.DN {
			u.Details = fmt.Sprintf("moved: %s → %s", old.DN, u.Object.DN)
		}
		cur := u.Object.Attributes
		if cur == nil {
			if err := json.Unmarshal([]byte(u.Object.Encoded), &cur); err != nil {
				return fmt.Errorf("plan: attributes of %s: %w", u.Object.DN, err)
			}
		}
		if changed := changedAttributes(old.Attributes, cur); len(changed) > 0 {
			if u.Details != "" {
				u.Details += "; "
			}
			u.Details += "changed: " + strings.Join(changed, ", ")
		}
	}
	return nil
}
