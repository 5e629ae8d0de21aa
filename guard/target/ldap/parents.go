package ldap

import (
	"fmt"
	"strings"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/target"
)

// containerClasses are the object classes of the containers syncguard
// creates on the way to an object, by RDN attribute type (core and cosine
// schemas, which every OpenLDAP has).
var containerClasses = map[string][]string{
	"ou": {"top", "organizationalUnit"},
	"cn": {"top", "organizationalRole"}, // AD's cn=Users and the like
	"dc": {"top", "domain"},
	"o":  {"top", "organization"},
	"l":  {"top", "locality"},
	"st": {"top", "locality"},
	"c":  {"top", "country"},
}

// ensureParents makes sure every container from just below the target base
// down to p exists, creating the missing ones top-down. Each is created
// (or found to exist) once per Writer; force forgets what is known of them
// first, for when the server said one is missing after all.
func (s *session) ensureParents(p dn, force bool) error {
	base := s.w.targetBase
	if !p.under(base) {
		return nil
	}
	for i := len(p) - len(base) - 1; i >= 0; i-- {
		if err := s.ensure(p[i:], force); err != nil {
			return err
		}
	}
	return nil
}

// ensure makes sure the container d exists. The first call for d creates
// it (entryAlreadyExists is success); calls for d at the same time wait
// for its answer, and try themselves when it failed.
func (s *session) ensure(d dn, force bool) error {
	k := d.key()
	ps := &s.w.parents
	for waited := false; ; waited = true {
		ps.mu.Lock()
		if ps.known == nil {
			ps.known = make(map[string]*parentState)
		}
		st, ok := ps.known[k]
		if ok && force && closed(st.done) {
			delete(ps.known, k)
			ok, force = false, false
		}
		if ok && !waited {
			ps.mu.Unlock()
			select {
			case <-st.done:
			case <-s.ctx.Done():
				return s.ctx.Err()
			}
			if st.err == nil {
				return nil
			}
			continue
		}
		st = &parentState{done: make(chan struct{})}
		ps.known[k] = st
		ps.mu.Unlock()

		st.err = s.createContainer(d)
		if st.err != nil {
			ps.mu.Lock()
			if ps.known[k] == st {
				delete(ps.known, k)
			}
			ps.mu.Unlock()
		}
		close(st.done)
		return st.err
	}
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// createContainer adds the container d with the class its RDN type calls
// for; one that exists already is success.
func (s *session) createContainer(d dn) error {
	var classes []string
	for _, a := range d[0].Attributes {
		if c, ok := containerClasses[strings.ToLower(a.Type)]; ok {
			classes = c
			break
		}
	}
	if classes == nil {
		return target.Permanent("LDAP: cannot create the missing parent %s: syncguard creates only ou, cn, dc, o, l, st and c containers", d)
	}
	req := ldapv3.NewAddRequest(d.String(), nil)
	req.Attribute("objectClass", classes)
	for _, a := range d[0].Attributes {
		req.Attribute(a.Type, []string{a.Value})
	}
	err := s.c.Add(req)
	if isCode(err, ldapv3.LDAPResultEntryAlreadyExists) {
		return nil
	}
	if err != nil {
		te := s.w.fail(s.ctx, err)
		te.Message += fmt.Sprintf(" (creating the parent %s)", d)
		return te
	}
	return nil
}
