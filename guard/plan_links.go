package guard

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"

	"github.com/syncguard/syncguard/store"
)

// Links between objects — a group's members, a user's manager, a user's
// primary group — are kept as the anchors of synced objects, never as
// DNs: renaming or moving one object then changes that object alone, not
// every group it is in nor every user who reports to it. A link to an
// object that is not synced (out of scope, not a user or group) is left
// out. They are resolved once every object of the source is known.

// managedUser is a user with a manager, planned once the manager's anchor
// is known. Its hash covers everything but the manager; the manager's
// anchor is added to it then (managedHash).
type managedUser struct {
	obj      store.TargetObject // Encoded is set only when more than the manager may have changed
	managers []string           // normalized DNs
	old      string             // hash in the target directory
	known    bool               // in the target directory
}

// resolveLinks returns the anchors of the DNs and uids the groups and the
// managers name, found in one pass over the objects read (the last object
// with a DN or uid wins, as a map filled in reading order would have it).
func (p *Planner) resolveLinks() (dnAnc, uidAnc map[string]string) {
	dnAnc, uidAnc = map[string]string{}, map[string]string{}
	for i := range p.groups {
		for _, m := range p.groups[i].members {
			dnAnc[m] = ""
		}
		for _, u := range p.groups[i].uids {
			uidAnc[strings.ToLower(u)] = ""
		}
	}
	for i := range p.managed {
		for _, m := range p.managed[i].managers {
			dnAnc[m] = ""
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
	return dnAnc, uidAnc
}

// planGroups plans the groups read, with their members as anchors: those
// they name (member, uniqueMember, memberUid) and the users whose primary
// group they are.
func (p *Planner) planGroups(dnAnc, uidAnc map[string]string) error {
	primary := p.primaryMembers()
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
		if g.sid != "" {
			members = append(members, primary[g.sid]...)
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

// primaryMembers returns, by the objectSid of each group read, the anchors
// of the users whose primary group it is. Active Directory lists no user
// in the member attribute of their primary group (Domain Users has none):
// the user says it, with primaryGroupID, the RID of that group's objectSid
// in the user's own domain.
func (p *Planner) primaryMembers() map[string][]string {
	out := map[string][]string{}
	if len(p.primary) == 0 {
		return out
	}
	for i := range p.groups {
		if sid := p.groups[i].sid; sid != "" {
			out[sid] = nil
		}
	}
	for _, u := range p.primary {
		if members, ok := out[u.key]; ok {
			out[u.key] = append(members, u.anchor)
		}
	}
	p.primary, p.sids = nil, nil
	return out
}

// deferManaged keeps a user with a manager for planManaged. obj.Hash is the
// hash of everything but the manager (the manager is never encoded with the
// rest, see skipped): when the target holds the object with that same
// hash, only the manager can have changed, and the user is kept without
// its attributes.
func (p *Planner) deferManaged(obj store.TargetObject, managers []string, old string, known bool) {
	m := managedUser{obj: obj, old: old, known: known}
	for _, v := range managers {
		if nm, err := NormalizeDN(v); err == nil {
			m.managers = append(m.managers, nm)
		}
	}
	if !known || !sameBase(old, obj.Hash) {
		m.obj.Encoded = p.enc.encoded()
	}
	p.managed = append(p.managed, m)
}

// planManaged plans the users with a manager, their manager now an anchor.
func (p *Planner) planManaged(dnAnc map[string]string) error {
	for i := range p.managed {
		m := &p.managed[i]
		var anchors []string
		for _, dn := range m.managers {
			if a := dnAnc[dn]; a != "" && a != m.obj.Anchor {
				anchors = append(anchors, a)
			}
		}
		slices.Sort(anchors)
		anchors = slices.Compact(anchors)
		obj := m.obj
		obj.Hash = managedHash(obj.Hash, anchors)
		switch {
		case m.known && obj.Hash == m.old:
		case obj.Encoded != "":
			obj.Encoded = withAttr(obj.Encoded, ManagerAttr, anchors)
		default:
			// Only the manager changed: the rest is as the target holds
			// it, read back by describeUpdates.
			if p.managerOnly == nil {
				p.managerOnly = map[string][]string{}
			}
			p.managerOnly[obj.Anchor] = anchors
		}
		if err := p.compare(obj, m.old, m.known); err != nil {
			return err
		}
	}
	p.managed = nil
	return nil
}

// managedHash is the content hash of a user with managers: the hash of the
// rest and, after a dot, a digest of the managers' anchors; the hash of the
// rest alone when no manager is synced.
func managedHash(base string, managers []string) string {
	if len(managers) == 0 {
		return base
	}
	h := sha256.Sum256([]byte(strings.Join(managers, "\x00")))
	return base + "." + hex.EncodeToString(h[:8])
}

// sameBase reports whether the target's hash old is that of an object
// whose attributes but its manager hash to base.
func sameBase(old, base string) bool {
	return old == base || (strings.HasPrefix(old, base) && len(old) > len(base) && old[len(base)] == '.')
}

// withAttr adds the attribute name with vals (none: nothing) to the JSON
// object encoded, which lacks it.
func withAttr(encoded, name string, vals []string) string {
	if len(vals) == 0 {
		return encoded
	}
	b := []byte(strings.TrimSuffix(encoded, "}"))
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = appendJSONString(b, name)
	b = append(b, ':', '[')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return string(append(b, ']', '}'))
}

// withManager returns the attributes of the target object old with the
// managers given instead of its own: the object of an update whose manager
// alone changed.
func withManager(old map[string][]string, managers []string) map[string][]string {
	attrs := maps.Clone(old)
	for k := range attrs {
		if strings.EqualFold(k, ManagerAttr) {
			delete(attrs, k)
		}
	}
	if len(managers) > 0 {
		attrs[ManagerAttr] = managers
	}
	return attrs
}
