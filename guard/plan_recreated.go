package guard

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/syncguard/syncguard/store"
)

// An object deleted at the source and added again — a subtree restored
// from an export, an account deleted by mistake and made anew — comes back
// with a new objectGUID or entryUUID, so with a new anchor. Planned by
// anchor, that is a deletion and a creation of the same object: a
// quarantine when there are many, and in the target a new object where the
// old one was (its SCIM id, its group memberships there, lost). So when one
// cycle would delete an object and create another of the same type at the
// same DN — or, for users, with the same userPrincipalName, mail or uid —
// it is one object recreated at the source: one update that gives the
// target object the new anchor ("re-anchored: A → B"). It is no deletion
// for the guard.

// userKeys are the attributes that name one person whatever their DN, in
// the order a recreated user is matched by them.
var userKeys = []string{"userprincipalname", "mail", "uid"}

// created is a created object that may be an object recreated.
type created struct {
	anchor, typ, normDN string
	keys                []string // userKeys: "name\x00value", lower case
	taken               bool
}

// recreated finds the deletions whose object was recreated at the source
// and turns each, with its creation, into one update that re-anchors the
// target object. oldAttrs reads the deleted users' attributes (userKeys).
func (p *Planner) recreated(ctx context.Context, oldAttrs ObjectLookup) error {
	if len(p.plan.Deletes) == 0 || p.plan.NumCreates() == 0 {
		return nil
	}
	users := slices.ContainsFunc(p.plan.Deletes, func(d store.StagedDelete) bool { return d.Type == TypeUser })
	cands, err := p.createdCandidates(users)
	if err != nil {
		return err
	}
	pairs := matchByDN(p.plan.Deletes, cands)
	if users && oldAttrs != nil {
		more, err := p.matchByKeys(ctx, oldAttrs, cands, pairs)
		if err != nil {
			return err
		}
		for d, c := range more {
			pairs[d] = c
		}
	}
	return p.reanchor(pairs, cands)
}

// createdCandidates lists the objects the plan creates, with their keys
// when withKeys (read from their encoded attributes).
func (p *Planner) createdCandidates(withKeys bool) ([]created, error) {
	var out []created
	for o, err := range p.plan.creates() {
		if err != nil {
			return nil, err
		}
		norm, err := NormalizeDN(o.DN)
		if err != nil {
			continue
		}
		c := created{anchor: o.Anchor, typ: o.Type, normDN: norm}
		if withKeys && o.Type == TypeUser {
			var attrs map[string][]string
			if err := json.Unmarshal([]byte(o.Encoded), &attrs); err == nil {
				c.keys = keysOf(attrs)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// keysOf returns a user's userKeys values as "name\x00value", lower case,
// in the order of userKeys.
func keysOf(attrs map[string][]string) []string {
	var out []string
	for _, k := range userKeys {
		for name, vals := range attrs {
			if !strings.EqualFold(name, k) {
				continue
			}
			for _, v := range vals {
				if v = strings.TrimSpace(v); v != "" {
					out = append(out, k+"\x00"+strings.ToLower(v))
				}
			}
		}
	}
	return out
}

// matchByDN pairs each deletion (by index) with a creation (by index in
// cands) of the same type at the same DN.
func matchByDN(deletes []store.StagedDelete, cands []created) map[int]int {
	at := make(map[string]int, len(deletes))
	for i, d := range deletes {
		if norm, err := NormalizeDN(d.DN); err == nil {
			at[d.Type+"\x00"+norm] = i
		}
	}
	pairs := map[int]int{}
	for j := range cands {
		c := &cands[j]
		if i, ok := at[c.typ+"\x00"+c.normDN]; ok {
			pairs[i], c.taken = j, true
			delete(at, c.typ+"\x00"+c.normDN)
		}
	}
	return pairs
}

// matchByKeys pairs the deleted users not paired yet with created users
// that share a userPrincipalName, mail or uid (a value two creations share
// names neither).
func (p *Planner) matchByKeys(ctx context.Context, oldAttrs ObjectLookup, cands []created, pairs map[int]int) (map[int]int, error) {
	byKey := map[string]int{}
	for j, c := range cands {
		if c.taken {
			continue
		}
		for _, k := range c.keys {
			if prev, seen := byKey[k]; seen && prev != j {
				byKey[k] = -1 // two creations share it
			} else {
				byKey[k] = j
			}
		}
	}
	var anchors []string
	for i, d := range p.plan.Deletes {
		if _, ok := pairs[i]; !ok && d.Type == TypeUser {
			anchors = append(anchors, d.Anchor)
		}
	}
	if len(byKey) == 0 || len(anchors) == 0 {
		return nil, nil
	}
	olds, err := oldAttrs(ctx, anchors)
	if err != nil {
		return nil, err
	}
	more := map[int]int{}
	for i, d := range p.plan.Deletes {
		old, ok := olds[d.Anchor]
		if _, paired := pairs[i]; paired || !ok || d.Type != TypeUser {
			continue
		}
		for _, k := range keysOf(old.Attributes) {
			if j, ok := byKey[k]; ok && j >= 0 && !cands[j].taken {
				more[i], cands[j].taken = j, true
				break
			}
		}
	}
	return more, nil
}

// reanchor turns each pair (deletion, creation) into an update of the
// created object that re-anchors the deleted one, and takes both out of
// the plan.
func (p *Planner) reanchor(pairs map[int]int, cands []created) error {
	if len(pairs) == 0 {
		return nil
	}
	from := make(map[string]string, len(pairs)) // created anchor → deleted anchor
	for i, j := range pairs {
		from[cands[j].anchor] = p.plan.Deletes[i].Anchor
	}
	take := func(a string) bool { _, ok := from[a]; return ok }
	var objs []store.TargetObject
	p.plan.Creates = slices.DeleteFunc(p.plan.Creates, func(c Change) bool {
		if take(c.Object.Anchor) {
			objs = append(objs, c.Object)
		}
		return take(c.Object.Anchor)
	})
	if p.plan.created != nil {
		anchors := make(map[string]bool, len(from))
		for a := range from {
			anchors[a] = true
		}
		spooled, err := p.plan.created.take(anchors)
		if err != nil {
			return err
		}
		objs = append(objs, spooled...)
	}
	for _, o := range objs {
		p.plan.Updates = append(p.plan.Updates, Change{Object: o, Reanchored: from[o.Anchor]})
		if p.pending[from[o.Anchor]] {
			p.plan.Returned = append(p.plan.Returned, from[o.Anchor])
		}
	}
	gone := make(map[string]bool, len(from))
	for _, a := range from {
		gone[a] = true
	}
	p.plan.Deletes = slices.DeleteFunc(p.plan.Deletes, func(d store.StagedDelete) bool { return gone[d.Anchor] })
	return nil
}
