package ldap

import (
	"context"
	"fmt"
	"strings"
	"time"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/target"
)

// session is one call's work on its connection.
type session struct {
	w   *Writer
	c   *conn
	ctx context.Context
}

// create adds e; an entry already at its DN is matched instead.
func (s *session) create(e *entry) error {
	err := s.add(e.dn, e.addRequest())
	if isCode(err, ldapv3.LDAPResultEntryAlreadyExists) {
		return s.match(e)
	}
	return err
}

// match finds e's object in the target — at its mapped DN, else by its RDN
// below the target base — and updates it (moving it to its mapped DN);
// when there is none it creates it.
func (s *session) match(e *entry) error {
	classes, found, err := s.read(e.dnStr)
	if err != nil {
		return err
	}
	if found {
		if !containsFold(classes, e.class()) {
			// LDAP cannot change an entry's structural class: another
			// kind of entry holds the DN.
			return target.Permanent("LDAP: %s exists with objectClass %s, not %s: syncguard does not take it over",
				e.dnStr, strings.Join(classes, ", "), e.class())
		}
		return s.modify(e)
	}
	cand, err := s.findByRDN(e)
	if err != nil {
		return err
	}
	if cand != nil {
		if err := s.move(cand, e); err != nil {
			return err
		}
		s.dropHolder(cand)
		return s.modify(e)
	}
	err = s.add(e.dn, e.addRequest())
	if isCode(err, ldapv3.LDAPResultEntryAlreadyExists) {
		// Created by a parallel call since the read: it is there now.
		return s.modify(e)
	}
	return err
}

// update brings the object at link to e: one ModifyDN when it is elsewhere
// (renamed, moved, held), then one Modify replacing every mapped
// attribute. An object gone from the target is matched or created again.
func (s *session) update(e *entry, link string) error {
	from, err := parseDN(link)
	if err != nil {
		return target.Permanent("LDAP: the object's link: %v", err)
	}
	if !from.equal(e.dn) {
		err := s.move(from, e)
		if isCode(err, ldapv3.LDAPResultNoSuchObject) {
			return s.match(e)
		}
		if err != nil {
			return err
		}
		s.dropHolder(from)
	}
	err = s.modify(e)
	if isCode(err, ldapv3.LDAPResultNoSuchObject) {
		return s.match(e)
	}
	return err
}

// add adds req at d, creating the missing containers above it first.
// When the server still says a parent is missing (deleted behind
// syncguard's back), the containers are checked again once.
func (s *session) add(d dn, req *ldapv3.AddRequest) error {
	if err := s.ensureParents(d.parent(), false); err != nil {
		return err
	}
	err := s.c.Add(req)
	if isCode(err, ldapv3.LDAPResultNoSuchObject) {
		if err := s.ensureParents(d.parent(), true); err != nil {
			return err
		}
		err = s.c.Add(req)
	}
	return err
}

// move renames and moves the entry at from to e's DN with one ModifyDN.
// The old RDN value is deleted when the RDN keeps its attribute type (a
// changed type keeps it: it may be required, and the Modify that follows
// replaces the mapped attributes anyway).
func (s *session) move(from dn, e *entry) error {
	newSup := ""
	if !from.parent().equal(e.dn.parent()) {
		newSup = e.dn.parent().String()
		if err := s.ensureParents(e.dn.parent(), false); err != nil {
			return err
		}
	}
	req := ldapv3.NewModifyDNRequest(from.String(), rdnString(e.dn[0]), sameTypes(from[0], e.dn[0]), newSup)
	err := s.c.ModifyDN(req)
	if isCode(err, ldapv3.LDAPResultNoSuchObject) && newSup != "" {
		if _, found, rerr := s.read(from.String()); rerr == nil && found {
			// The object is there: its new parent is what is missing.
			if err := s.ensureParents(e.dn.parent(), true); err != nil {
				return err
			}
			err = s.c.ModifyDN(req)
		}
	}
	return err
}

// sameTypes reports whether two RDNs have the same attribute types.
func sameTypes(a, b *ldapv3.RelativeDN) bool {
	if len(a.Attributes) != len(b.Attributes) {
		return false
	}
	for i := range a.Attributes {
		if !strings.EqualFold(a.Attributes[i].Type, b.Attributes[i].Type) {
			return false
		}
	}
	return true
}

func (s *session) modify(e *entry) error {
	return s.c.Modify(e.modifyRequest())
}

// read returns the object classes of the entry at d, and whether it exists.
func (s *session) read(d string) ([]string, bool, error) {
	req := ldapv3.NewSearchRequest(d, ldapv3.ScopeBaseObject, ldapv3.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"objectClass"}, nil)
	res, err := s.c.Search(req)
	switch {
	case isCode(err, ldapv3.LDAPResultNoSuchObject):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	case len(res.Entries) == 0:
		return nil, false, nil
	}
	return res.Entries[0].GetAttributeValues("objectClass"), true, nil
}

// findByRDN looks below the target base for an object of e's class with
// e's RDN value(s). A user whose uid differs from e's is another person
// (two "cn=John Smith" in two OUs), not a match. More than one match is an
// error: syncguard cannot tell which is this object.
func (s *session) findByRDN(e *entry) (dn, error) {
	req := ldapv3.NewSearchRequest(s.w.targetBase.String(), ldapv3.ScopeWholeSubtree, ldapv3.NeverDerefAliases, 0, 0, false,
		e.rdnFilter(), []string{"uid"}, nil)
	res, err := s.c.Search(req)
	if err != nil {
		return nil, err
	}
	var found []*ldapv3.Entry
	uids := e.attr("uid")
	for _, c := range res.Entries {
		if uids != nil && len(uids.Vals) > 0 {
			if have := c.GetAttributeValues("uid"); len(have) > 0 && !overlapFold(have, uids.Vals) {
				continue
			}
		}
		found = append(found, c)
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		d, err := parseDN(found[0].DN)
		if err != nil {
			return nil, target.Permanent("LDAP: the server returned %v", err)
		}
		return d, nil
	}
	names := make([]string, len(found))
	for i, c := range found {
		names[i] = c.DN
	}
	return nil, target.Permanent("LDAP: %d entries match %s below %s (%s): syncguard cannot tell which one is %s",
		len(found), e.rdnFilter(), s.w.targetBase, strings.Join(names, "; "), e.dnStr)
}

func overlapFold(a, b []string) bool {
	for _, v := range a {
		if containsFold(b, v) {
			return true
		}
	}
	return false
}

// heldOU is the RDN value of the container of held objects.
const heldOU = "syncguard-held"

// holder is the container a held object sits in: its own OU below
// ou=syncguard-held named after its anchor, so that two objects held with
// one DN never collide.
func (w *Writer) holder(obj *target.Object) dn {
	key := obj.Anchor
	if key == "" {
		key = "dn:" + strings.ToLower(obj.DN)
	}
	return join(dn{rdn("ou", key)}, w.held)
}

// hold moves the object at link (or, without one, at its mapped DN) into
// its holder, keeping its RDN and attributes, and returns its new DN.
func (s *session) hold(obj *target.Object, link string) (string, error) {
	if link == "" {
		d, err := s.w.reroot(obj.DN)
		if err != nil {
			return "", target.Permanent("LDAP: %v", err)
		}
		link = d.String()
	}
	from, err := parseDN(link)
	if err != nil || len(from) == 0 {
		return "", target.Permanent("LDAP: the object's link: %v", err)
	}
	if from.under(s.w.held) {
		return link, nil
	}
	holder := s.w.holder(obj)
	heldDN := join(dn{from[0]}, holder)
	held := heldDN.String()
	if err := s.makeHolder(holder, link); err != nil {
		return "", err
	}
	err = s.c.ModifyDN(ldapv3.NewModifyDNRequest(link, rdnString(from[0]), false, holder.String()))
	if isCode(err, ldapv3.LDAPResultNoSuchObject) {
		// Gone, or held by an earlier call whose answer was lost.
		_, found, rerr := s.read(held)
		if rerr != nil {
			return "", rerr
		}
		if found {
			return held, nil
		}
		s.dropHolder(heldDN) // nothing to hold
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return held, nil
}

// makeHolder creates (or finds) a held object's container, its
// description saying where the object was and since when.
func (s *session) makeHolder(holder dn, was string) error {
	if err := s.ensureParents(holder.parent(), false); err != nil {
		return err
	}
	desc := []string{fmt.Sprintf("held by syncguard since %s; was %s", time.Now().UTC().Format(time.RFC3339), was)}
	req := ldapv3.NewAddRequest(holder.String(), nil)
	req.Attribute("objectClass", []string{"top", "organizationalUnit"})
	req.Attribute("ou", []string{holder[0].Attributes[0].Value})
	req.Attribute("description", desc)
	err := s.c.Add(req)
	if isCode(err, ldapv3.LDAPResultEntryAlreadyExists) {
		mod := ldapv3.NewModifyRequest(holder.String(), nil)
		mod.Replace("description", desc)
		err = s.c.Modify(mod)
	}
	return err
}

// dropHolder deletes the holder a held object was taken out of (restored
// or purged). It is best effort: a holder left behind is harmless.
func (s *session) dropHolder(was dn) {
	if len(was) == len(s.w.held)+2 && was.parent().parent().equal(s.w.held) {
		s.c.Del(ldapv3.NewDelRequest(was.parent().String(), nil))
	}
}
