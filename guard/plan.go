package guard

import (
	"cmp"
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
	Read    int      // entries read from the source
	InScope int      // users and groups in scope
	Creates []Change // creates held in memory (see NumCreates)
	Updates []Change
	// Deletes are the objects no longer in scope (OU is where they were),
	// each with its cause.
	Deletes  []store.StagedDelete
	Returned []string // anchors of pending staged deletes whose object is back in scope
	// Gone are the scope OUs the source no longer has (deleted, moved, or
	// hidden from the bind account), as the scope names them: the synced
	// objects below them are deletions of cause store.CauseScopeOUGone.
	Gone []string
	// TargetCount is how many objects the target directory held when the
	// cycle started (the base of the percent limit).
	TargetCount int
	// Members are the groups that stay but lose member links, and
	// MembershipRemovals how many links they lose in all.
	Members            []store.StagedMembers
	MembershipRemovals int
	// created holds the creates of a planner that spools them, besides
	// Creates.
	created *spool
	// why finds the causes of the deletions (plan_causes.go).
	why *causes
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
	// Reanchored, on an update, is the anchor the target directory knew
	// the object by: it was recreated at the source (see recreated).
	Reanchored string
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
	sid     string   // objectSid (Active Directory), for the members by primary group
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
	// managed are the users with a manager, planned once the manager's
	// anchor is known (plan_links.go).
	managed []managedUser
	// managerOnly are the users whose manager alone changed, with their
	// managers' anchors: describeUpdates rewrites them from the target.
	managerOnly map[string][]string
	// primary are the users whose primary group (AD's primaryGroupID)
	// may be a group read: the group's objectSid, and the user's anchor.
	primary []keyAnchor
	sids    map[string]string // interned objectSids of primary
	plan    Plan
	prog    *Progress
	enc     *encoder
}

// NewPlanner returns a planner for the normalized scope, the content hashes
// of the target directory by anchor and the anchors whose deletion is staged.
func NewPlanner(scope []string, index map[string]string, pending map[string]bool, prog *Progress) *Planner {
	if prog == nil {
		prog = &Progress{}
	}
	return &Planner{scope: scope, index: index, pending: pending, prog: prog, enc: newEncoder(),
		created: make(map[string]struct{}), dns: make([]keyAnchor, 0, len(index)), uids: make([]keyAnchor, 0, len(index)),
		plan: Plan{TargetCount: len(index), why: newCauses(scope)}}
}

// Add takes one source entry. It fails on an entry that cannot be trusted
// (a DN that does not parse, two entries with one anchor): the source is
// then malformed and the cycle must fail. Entries that are no user or group
// syncguard syncs (Classify, critical system objects) are passed over.
func (p *Planner) Add(e *Entry) error {
	p.plan.Read++
	p.prog.Read.Add(1)
	typ := Classify(e.Get("objectClass"))
	if typ == "" || critical(e) {
		p.elsewhere(e, "", false)
		return nil
	}
	norm, err := NormalizeDN(e.DN)
	if err != nil {
		return fmt.Errorf("source entry: %w", err)
	}
	if !InScope(norm, p.scope) {
		p.elsewhere(e, norm, true)
		return nil
	}
	anchor := Anchor(e, norm)
	old, known, err := p.see(anchor, e.DN)
	if err != nil {
		return err
	}
	p.dns = append(p.dns, keyAnchor{norm, anchor})
	p.plan.InScope++
	obj := store.TargetObject{Anchor: anchor, Type: typ, DN: e.DN, Name: displayName(e, e.DN)}
	if typ == TypeGroup {
		p.addGroup(obj, norm, e, old, known)
		return nil
	}
	return p.addUser(obj, norm, e, old, known)
}

// see records that anchor was read and returns its hash in the target
// directory (known: the target has it). Two entries with one anchor are an
// error.
func (p *Planner) see(anchor, dn string) (old string, known bool, err error) {
	old, known = p.index[anchor]
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
		return "", false, fmt.Errorf("source: two entries share the anchor %s: %q and %q", anchor, prev, dn)
	}
	if known {
		p.index[anchor] = "" // seen
	} else {
		p.created[anchor] = struct{}{}
	}
	return old, known, nil
}

// addGroup keeps a group until every object is known: its members are
// resolved then (planGroups).
func (p *Planner) addGroup(obj store.TargetObject, norm string, e *Entry, old string, known bool) {
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
	if sid := e.Get("objectSid"); len(sid) > 0 {
		g.sid, _ = sidString(sid[0])
	}
	p.groups = append(p.groups, g)
}

// addUser plans a user, or keeps it until its manager's anchor is known.
func (p *Planner) addUser(obj store.TargetObject, norm string, e *Entry, old string, known bool) error {
	if uid := e.Get("uid"); len(uid) > 0 {
		p.uids = append(p.uids, keyAnchor{strings.ToLower(uid[0]), obj.Anchor})
	}
	if sid, ok := primaryGroupSID(e); ok {
		p.primary = append(p.primary, keyAnchor{p.intern(sid), obj.Anchor})
	}
	// The attributes are encoded once, and only for an object that
	// changed; no map of them is built.
	obj.Hash = p.enc.entryHash(obj.Type, norm, e)
	if managers := e.Get("manager"); len(managers) > 0 {
		p.deferManaged(obj, managers, old, known)
		return nil
	}
	if !known || old != obj.Hash {
		obj.Encoded = p.enc.encoded()
	}
	return p.compare(obj, old, known)
}

// intern returns s, or the equal string kept before: every user of a
// domain has one of a few primary groups.
func (p *Planner) intern(s string) string {
	if k, ok := p.sids[s]; ok {
		return k
	}
	if p.sids == nil {
		p.sids = map[string]string{}
	}
	p.sids[s] = s
	return s
}

// ScopeGone tells the planner which scope OUs (as the scope names them)
// the source no longer has: the synced objects below them are deletions of
// cause store.CauseScopeOUGone.
func (p *Planner) ScopeGone(bases []string) error {
	for _, b := range bases {
		norm, err := NormalizeDN(b)
		if err != nil {
			return err
		}
		p.plan.why.gone, p.plan.why.goneRaw = append(p.plan.why.gone, norm), append(p.plan.why.goneRaw, b)
		p.plan.Gone = append(p.plan.Gone, b)
	}
	return nil
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

// Finish resolves group members and managers, lists the deletions and
// their causes, finds the objects recreated at the source, and returns the
// plan. index loads the type, DN and name of the target objects no longer
// in the source (the deletions). oldAttrs loads target objects: those
// updated, to describe what changed (a move, attributes) and to rewrite
// those whose manager alone changed, and those deleted, to find the
// recreated ones; it may be nil only when the target directory is empty.
func (p *Planner) Finish(ctx context.Context, index IndexLookup, oldAttrs ObjectLookup) (*Plan, error) {
	dnAnc, uidAnc := p.resolveLinks()
	if err := p.planGroups(dnAnc, uidAnc); err != nil {
		return nil, err
	}
	if err := p.planManaged(dnAnc); err != nil {
		return nil, err
	}
	if err := p.listDeletes(ctx, index); err != nil {
		return nil, err
	}
	if err := p.recreated(ctx, oldAttrs); err != nil {
		return nil, err
	}
	if len(p.plan.Updates) > 0 {
		if oldAttrs == nil {
			return nil, fmt.Errorf("plan: %d updates and no way to look up the target objects", len(p.plan.Updates))
		}
		if err := p.describeUpdates(ctx, oldAttrs); err != nil {
			return nil, err
		}
	}
	for i := range p.plan.Updates {
		if p.plan.Updates[i].Details == "" {
			p.plan.Updates[i].Details = "updated"
		}
	}
	// The plan outlives the planner's index of the target directory: a
	// million anchors and hashes need not stay while a quarantine is
	// written.
	p.index, p.pending = nil, nil
	return &p.plan, nil
}

// listDeletes lists the target objects the source no longer has, by DN,
// each with its cause.
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
			d := store.StagedDelete{Anchor: anchor, Type: e.Type, DN: e.DN, Name: e.Name, OU: strings.TrimSpace(ParentDN(e.DN))}
			p.plan.why.explain(&d)
			p.plan.Deletes = append(p.plan.Deletes, d)
		})
		if err != nil {
			return err
		}
	}
	slices.SortFunc(p.plan.Deletes, func(a, b store.StagedDelete) int { return strings.Compare(a.DN, b.DN) })
	return nil
}

// describeUpdates says what changed in each update (a re-anchoring, a
// move, the attributes), and gives the updates whose manager alone changed
// the rest of their attributes, as the target holds them.
func (p *Planner) describeUpdates(ctx context.Context, oldAttrs ObjectLookup) error {
	anchors := make([]string, len(p.plan.Updates))
	for i, u := range p.plan.Updates {
		anchors[i] = cmp.Or(u.Reanchored, u.Object.Anchor)
	}
	olds, err := oldAttrs(ctx, anchors)
	if err != nil {
		return err
	}
	for i := range p.plan.Updates {
		u := &p.plan.Updates[i]
		old, ok := olds[anchors[i]]
		managers, managerOnly := p.managerOnly[u.Object.Anchor]
		switch {
		case !ok && managerOnly:
			// Gone from the target since it was planned: Allow deletes
			// landed; the store refuses this plan, planned again.
			return store.Errorf(store.Conflict, "plan: %s left the target directory while the cycle planned", u.Object.DN)
		case !ok:
			continue
		case managerOnly:
			u.Object.Attributes = withManager(old.Attributes, managers)
		}
		cur, err := describe(u, old)
		if err != nil {
			return err
		}
		if u.Object.Type == TypeGroup {
			p.lostMembers(u, old.Attributes[MembersAttr], cur[MembersAttr])
		}
	}
	p.managerOnly = nil
	return nil
}

// lostMembers counts the member links the group of update u loses (was:
// the members the target holds, now: those it will hold) and notes the
// group among the plan's Members.
func (p *Planner) lostMembers(u *Change, was, now []string) {
	var removed []string
	for _, m := range was {
		if !slices.Contains(now, m) {
			removed = append(removed, m)
		}
	}
	if len(removed) == 0 {
		return
	}
	p.plan.MembershipRemovals += len(removed)
	p.plan.Members = append(p.plan.Members, store.StagedMembers{Anchor: cmp.Or(u.Reanchored, u.Object.Anchor), Type: u.Object.Type,
		DN: u.Object.DN, Name: u.Object.Name, OU: strings.TrimSpace(ParentDN(u.Object.DN)), Removed: removed,
		Detail: fmt.Sprintf("member links removed: %d", len(removed))})
}

// describe words what changed in u from the target object old, and
// returns u's attributes.
func describe(u *Change, old *store.TargetObject) (map[string][]string, error) {
	var parts []string
	if u.Reanchored != "" {
		parts = append(parts, fmt.Sprintf("re-anchored: %s → %s", u.Reanchored, u.Object.Anchor))
	}
	if old.DN != u.Object.DN {
		parts = append(parts, fmt.Sprintf("moved: %s → %s", old.DN, u.Object.DN))
	}
	cur := u.Object.Attributes
	if cur == nil {
		if err := json.Unmarshal([]byte(u.Object.Encoded), &cur); err != nil {
			return nil, fmt.Errorf("plan: attributes of %s: %w", u.Object.DN, err)
		}
	}
	if changed := changedAttributes(old.Attributes, cur); len(changed) > 0 {
		parts = append(parts, "changed: "+strings.Join(changed, ", "))
	}
	u.Details = strings.Join(parts, "; ")
	return cur, nil
}
