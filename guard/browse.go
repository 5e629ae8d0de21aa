package guard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap"
	"github.com/syncguard/syncguard/guard/ldif"
	"github.com/syncguard/syncguard/store"
)

// Picking a scope from the source's own tree: the portal lists one level of
// containers per request (a directory of 10,000 OUs is never read whole),
// counts the users and groups below the OUs an admin ticks, and tests a
// source before anything is saved.

// Container is an OU or another container of a source, as the scope picker
// shows it.
type Container struct {
	DN   string // as the source spells it
	Name string // the value of its first RDN: "Sales"
	// Children is false when the source says there is nothing to browse
	// below the container: an LDIF file has no container below it, an LDAP
	// server says hasSubordinates FALSE (nothing at all below it). A server
	// that does not say (Active Directory) leaves it true.
	Children bool
}

// Counts are the users and groups at or below a DN.
type Counts struct{ Users, Groups int }

// SourceReport is what Test connection found.
type SourceReport struct {
	// Kind is "ldap" or "ldif".
	Kind string
	// Vendor names the LDAP server when it says (vendorName, vendorVersion).
	Vendor string
	// NamingContexts are the trees the LDAP server holds; for an LDIF file,
	// its top entries.
	NamingContexts []string
	// DefaultBase is the base DN to offer when none is given: the server's
	// default naming context, or its only one; the file's only top entry.
	DefaultBase string
	// Base is the base DN that was checked ("" when none was given).
	Base string
	// Below counts the containers directly below Base (or DefaultBase).
	Below int
	// Entries, Users and Groups count an LDIF file's records.
	Entries, Users, Groups int
}

// browser is what a source does for the scope picker.
type browser interface {
	children(ctx context.Context, parent string) ([]Container, error)
	count(ctx context.Context, dns []string) ([]Counts, error)
	test(ctx context.Context, base string) (*SourceReport, error)
}

func openBrowser(c *store.Configuration, opts SourceOptions) (browser, error) {
	if c.BaseDN == "" && (strings.HasPrefix(c.Source, "ldap://") || strings.HasPrefix(c.Source, "ldaps://")) {
		// Test connection finds the base DN of a server that was given none.
		cfg, err := ldapConfig(c, opts)
		if err != nil {
			return nil, err
		}
		return &ldapSource{cfg: cfg}, nil
	}
	src, err := OpenSource(c, opts)
	if err != nil {
		return nil, err
	}
	b, ok := src.(browser)
	if !ok {
		return nil, errors.New("source: this source cannot be browsed")
	}
	return b, nil
}

// Children lists the containers directly below parent (the base DN when
// parent is empty), sorted by name. parent must be at or below the base DN.
// An LDIF source without a base DN lists the file's top entries.
func Children(ctx context.Context, c *store.Configuration, opts SourceOptions, parent string) ([]Container, error) {
	if parent == "" {
		parent = c.BaseDN
	}
	if err := underBase(c, parent); err != nil {
		return nil, err
	}
	b, err := openBrowser(c, opts)
	if err != nil {
		return nil, err
	}
	out, err := b.children(ctx, parent)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Container) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.DN, b.DN))
	})
	return out, nil
}

// underBase refuses a DN outside the configuration's base DN: nothing out
// there can be in scope.
func underBase(c *store.Configuration, dn string) error {
	if c.BaseDN == "" || dn == "" {
		return nil
	}
	base, err1 := NormalizeDN(c.BaseDN)
	norm, err2 := NormalizeDN(dn)
	if err := errors.Join(err1, err2); err != nil {
		return invalid("%v", err)
	}
	if !InScope(norm, []string{base}) {
		return invalid("%s is not under the base DN %s", dn, c.BaseDN)
	}
	return nil
}

// CountObjects counts the users and groups at or below each DN.
func CountObjects(ctx context.Context, c *store.Configuration, opts SourceOptions, dns []string) ([]Counts, error) {
	b, err := openBrowser(c, opts)
	if err != nil {
		return nil, err
	}
	return b.count(ctx, dns)
}

// TestSource connects to the source as c says, binds, and reads its base
// (an LDAP server's root DSE and base entry; an LDIF file from end to end).
// Its error is the reader's, in an admin's words (see Explain).
func TestSource(ctx context.Context, c *store.Configuration, opts SourceOptions) (*SourceReport, error) {
	b, err := openBrowser(c, opts)
	if err != nil {
		return nil, err
	}
	return b.test(ctx, c.BaseDN)
}

// RDNName is the value of a DN's first RDN: Sales of ou=Sales,dc=corp.
func RDNName(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 || len(d.RDNs[0].Attributes) == 0 {
		return dn
	}
	return d.RDNs[0].Attributes[0].Value
}

// ---- LDIF ----

func (s *ldifSource) children(ctx context.Context, parent string) ([]Container, error) {
	want, err := NormalizeDN(parent)
	if err != nil {
		return nil, invalid("%v", err)
	}
	var out []Container
	parents := map[string]bool{} // DNs with a container below them
	all := map[string]bool{}
	err = s.each(ctx, false, func(rec *ldif.Record) error {
		norm, err := NormalizeDN(rec.DN)
		if err != nil {
			return nil
		}
		up := ParentDN(norm)
		container := isContainer(rec.Get("objectClass"))
		all[norm] = true
		if container {
			parents[up] = true // an OU below up: there is something to browse
		}
		if container && (up == want || want == "" && up == "") {
			out = append(out, Container{DN: rec.DN, Name: RDNName(rec.DN)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if want == "" {
		// No base DN: the file's top entries are those without a parent in it.
		out = nil
		err = s.each(ctx, false, func(rec *ldif.Record) error {
			norm, err := NormalizeDN(rec.DN)
			if err == nil && !all[ParentDN(norm)] && isContainer(rec.Get("objectClass")) {
				out = append(out, Container{DN: rec.DN, Name: RDNName(rec.DN)})
			}
			return nil
		})
	}
	for i := range out {
		norm, _ := NormalizeDN(out[i].DN)
		out[i].Children = parents[norm]
	}
	return out, err
}

func (s *ldifSource) count(ctx context.Context, dns []string) ([]Counts, error) {
	scope, err := NormalizeScope(dns)
	if err != nil {
		return nil, invalid("%v", err)
	}
	out := make([]Counts, len(dns))
	err = s.each(ctx, false, func(rec *ldif.Record) error {
		typ := Classify(rec.Get("objectClass"))
		if typ == "" {
			return nil
		}
		norm, err := NormalizeDN(rec.DN)
		if err != nil {
			return nil
		}
		for i, sc := range scope {
			if InScope(norm, []string{sc}) {
				out[i].add(typ)
			}
		}
		return nil
	})
	return out, err
}

func (c *Counts) add(typ string) {
	switch typ {
	case TypeUser:
		c.Users++
	case TypeGroup:
		c.Groups++
	}
}

func (s *ldifSource) test(ctx context.Context, base string) (*SourceReport, error) {
	r := &SourceReport{Kind: "ldif", Base: base}
	normBase, err := NormalizeDN(base)
	if err != nil {
		return nil, invalid("base DN: %v", err)
	}
	all := map[string]bool{}
	var records []string // normalized DNs, in order
	spelled := map[string]string{}
	err = s.each(ctx, false, func(rec *ldif.Record) error {
		r.Entries++
		var c Counts
		c.add(Classify(rec.Get("objectClass")))
		r.Users, r.Groups = r.Users+c.Users, r.Groups+c.Groups
		if norm, err := NormalizeDN(rec.DN); err == nil {
			all[norm] = true
			records = append(records, norm)
			spelled[norm] = rec.DN
			if normBase != "" && ParentDN(norm) == normBase && isContainer(rec.Get("objectClass")) {
				r.Below++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.Entries == 0 {
		return nil, fmt.Errorf("source %s: no entries: an empty or unfinished export?", s.path)
	}
	for _, norm := range records {
		if !all[ParentDN(norm)] {
			r.NamingContexts = append(r.NamingContexts, spelled[norm])
		}
	}
	if len(r.NamingContexts) == 1 {
		r.DefaultBase = r.NamingContexts[0]
	}
	if normBase != "" && !all[normBase] {
		return nil, invalid("the base DN %s is not in %s; its top entries: %s", base, s.path, strings.Join(r.NamingContexts, "; "))
	}
	return r, nil
}

// ---- LDAP ----

// containerFilter selects the entries the scope picker offers.
const containerFilter = "(|(objectClass=organizationalUnit)(objectClass=container)(objectClass=organization)" +
	"(objectClass=domain)(objectClass=builtinDomain))"

func (s *ldapSource) children(ctx context.Context, parent string) ([]Container, error) {
	cfg := s.cfg
	cfg.BaseDN = parent
	var out []Container
	err := ldap.SearchScope(ctx, cfg, ldap.ScopeOneLevel, containerFilter, []string{"objectClass", "hasSubordinates"},
		func(e *ldap.Entry) error {
			c := Container{DN: e.DN, Name: RDNName(e.DN), Children: true}
			if v := e.Get("hasSubordinates"); len(v) == 1 && strings.EqualFold(v[0], "FALSE") {
				c.Children = false
			}
			out = append(out, c)
			return nil
		})
	return out, pinHint(err)
}

func (s *ldapSource) count(ctx context.Context, dns []string) ([]Counts, error) {
	out := make([]Counts, len(dns))
	for i, dn := range dns {
		cfg := s.cfg
		cfg.BaseDN = dn
		err := ldap.Search(ctx, cfg, objectFilter, []string{"objectClass"}, func(e *ldap.Entry) error {
			out[i].add(Classify(e.Get("objectClass")))
			return nil
		})
		if err != nil {
			return nil, pinHint(err)
		}
	}
	return out, nil
}

// rootDSEAttrs are what Test connection reads of the server itself.
var rootDSEAttrs = []string{"namingContexts", "defaultNamingContext", "vendorName", "vendorVersion"}

func (s *ldapSource) test(ctx context.Context, _ string) (*SourceReport, error) {
	r := &SourceReport{Kind: "ldap", Base: s.cfg.BaseDN}
	root := s.cfg
	root.BaseDN = ""
	err := ldap.SearchScope(ctx, root, ldap.ScopeBase, "(objectClass=*)", rootDSEAttrs, func(e *ldap.Entry) error {
		r.NamingContexts = slices.Clone(e.Get("namingContexts"))
		if v := e.Get("defaultNamingContext"); len(v) > 0 {
			r.DefaultBase = v[0]
		}
		r.Vendor = strings.TrimSpace(strings.Join(append(slices.Clone(e.Get("vendorName")), e.Get("vendorVersion")...), " "))
		return nil
	})
	var le *ldap.Error
	if err != nil && !(errors.As(err, &le) && le.Op == "search") {
		return nil, pinHint(err) // no connection, no TLS or no bind: the answer
	}
	// A root DSE hidden from this account says nothing against the source.
	if r.DefaultBase == "" && len(r.NamingContexts) == 1 {
		r.DefaultBase = r.NamingContexts[0]
	}
	base := cmp.Or(r.Base, r.DefaultBase)
	if base == "" {
		return r, nil
	}
	cfg := s.cfg
	cfg.BaseDN = base
	err = ldap.SearchScope(ctx, cfg, ldap.ScopeOneLevel, containerFilter, []string{"1.1"}, func(*ldap.Entry) error {
		r.Below++
		return nil
	})
	return r, pinHint(err)
}
