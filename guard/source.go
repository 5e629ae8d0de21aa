package guard

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap"
	"github.com/syncguard/syncguard/guard/ldif"
	"github.com/syncguard/syncguard/store"
)

// Source is where users and groups are read from.
type Source interface {
	// Read calls fn for every entry at or below the given bases that may be
	// a user or a group (a source may also pass other entries; they are
	// filtered by object class). An error means the read is incomplete and
	// nothing may be concluded from it.
	Read(ctx context.Context, bases []string, fn func(*Entry) error) error
	// Containers lists the DNs of the OUs and containers under the base DN,
	// for picking a scope.
	Containers(ctx context.Context) ([]string, error)
}

// Locator is a source that reads only the scope and can say where the
// other objects are: Locate calls fn for every entry below the base DN,
// with its object classes and anchors only. Causes of deletions use it
// (Plan.Explain): it costs a read of the whole base DN.
type Locator interface {
	Locate(ctx context.Context, fn func(*Entry) error) error
}

// SourceOptions tune how sources are reached.
type SourceOptions struct {
	Timeout  time.Duration // per LDAP request; 0 → 60s
	PageSize uint32        // LDAP page size; 0 → 500
}

// OpenSource returns the source a configuration names: "ldif:PATH", or an
// ldap:// or ldaps:// URL. An LDAP source that would bind in clear over the
// network, or whose TLS settings would be ignored, is refused here: a
// configuration stored before that rule fails its cycles with the reason.
func OpenSource(c *store.Configuration, opts SourceOptions) (Source, error) {
	switch {
	case strings.HasPrefix(c.Source, "ldif:"):
		path := strings.TrimPrefix(c.Source, "ldif:")
		if path == "" {
			return nil, errors.New("source: ldif: needs a file path (ldif:/path/to/export.ldif)")
		}
		return &ldifSource{path: path}, nil
	case strings.HasPrefix(c.Source, "ldap://"), strings.HasPrefix(c.Source, "ldaps://"):
		if c.BaseDN == "" {
			return nil, errors.New("source: an LDAP source needs a base DN (--base-dn)")
		}
		cfg, err := ldapConfig(c, opts)
		if err != nil {
			return nil, err
		}
		return &ldapSource{cfg: cfg}, nil
	}
	return nil, fmt.Errorf("source: %q is neither ldif:PATH nor an ldap:// or ldaps:// URL", c.Source)
}

// ldapConfig is how the LDAP reader reaches c's source, checked.
func ldapConfig(c *store.Configuration, opts SourceOptions) (ldap.Config, error) {
	cfg := ldap.Config{URL: c.Source, BindDN: c.BindDN, BindPassword: c.BindPassword, BindMethod: c.BindMethod,
		BaseDN: c.BaseDN, StartTLS: c.StartTLS, TLSPin: c.TLSPin, Timeout: opts.Timeout, PageSize: opts.PageSize}
	if c.CAFile != "" || c.TLSServer != "" {
		cfg.TLSConfig = &tls.Config{ServerName: c.TLSServer, MinVersion: tls.VersionTLS12}
	}
	if err := ldap.Validate(cfg); err != nil {
		return cfg, err
	}
	if c.CAFile != "" {
		pool, err := caPool("source", c.CAFile)
		if err != nil {
			return cfg, err
		}
		cfg.TLSConfig.RootCAs = pool
	}
	return cfg, nil
}

// caPool reads the PEM file of the authorities to trust for what (source,
// target).
func caPool(what, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: CA file: %w", what, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: CA file %s holds no PEM certificate", what, path)
	}
	return pool, nil
}

// ValidateSource checks the form of a source string; its error is Invalid.
func ValidateSource(src string) error {
	if _, err := OpenSource(&store.Configuration{Source: src, BaseDN: "dc=x"}, SourceOptions{}); err != nil {
		return invalid("%v", err)
	}
	return nil
}

// validateSourceSettings checks everything OpenSource checks of c: the
// source, and for LDAP the bind and TLS settings (a CA file that reads).
func validateSourceSettings(c *store.Configuration) error {
	if !strings.HasPrefix(c.Source, "ldap://") && !strings.HasPrefix(c.Source, "ldaps://") {
		return ValidateSource(c.Source)
	}
	if _, err := ldapConfig(c, SourceOptions{}); err != nil {
		return invalid("%v", err)
	}
	return nil
}

// ParseBindMethod reads a bind method: simple or ntlm.
func ParseBindMethod(s string) (string, error) {
	switch m := strings.ToLower(strings.TrimSpace(s)); m {
	case ldap.BindSimple, ldap.BindNTLM:
		return m, nil
	}
	return "", fmt.Errorf("%q is not a bind method: use simple or ntlm (NTLM binds as DOMAIN\\user or user@domain)", s)
}

// BindMethod is the bind method of c: simple unless it says ntlm.
func BindMethod(c *store.Configuration) string {
	if c.BindMethod == "" {
		return ldap.BindSimple
	}
	return c.BindMethod
}

// ParsePin reads a certificate pin ("sha256:" and 64 hex digits, colons
// allowed, any case) and returns it as sha256:<lower-case hex>; the empty
// string is no pin.
func ParsePin(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	b, err := ldap.ParsePin(s)
	if err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), "ldap: "))
	}
	return "sha256:" + hex.EncodeToString(b), nil
}

// pinHint adds to a refused certificate how to trust it.
func pinHint(err error) error {
	var le *ldap.Error
	if errors.As(err, &le) && le.Fingerprint != "" {
		return fmt.Errorf("%w; to trust this very certificate, check its fingerprint on the server (openssl x509 -noout -fingerprint -sha256 -in cert.pem) and pin it: --tls-pin %s", err, le.Fingerprint)
	}
	return err
}

type ldifSource struct{ path string }

// scan opens the file and calls step with its reader, checking ctx as it
// goes, until step returns io.EOF (the end of the file: nil) or an error.
func (s *ldifSource) scan(ctx context.Context, step func(*ldif.Reader) error) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer f.Close()
	r := newLDIFReader(f)
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := step(r); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// each calls fn with every record; keepRaw fills their Raw bytes.
func (s *ldifSource) each(ctx context.Context, keepRaw bool, fn func(*ldif.Record) error) error {
	return s.scan(ctx, func(r *ldif.Reader) error {
		r.KeepRaw = keepRaw
		rec, err := r.Next()
		if err == io.EOF {
			return err
		}
		if err != nil {
			return fmt.Errorf("source %s: %w", s.path, err)
		}
		return fn(rec)
	})
}

func (s *ldifSource) Read(ctx context.Context, _ []string, fn func(*Entry) error) error {
	var e Entry
	n := 0
	err := s.each(ctx, true, func(rec *ldif.Record) error {
		n++
		e.DN = rec.DN
		e.Sum = sumOf(rec.Raw)
		e.Attrs = e.Attrs[:0]
		for _, a := range rec.Attrs {
			e.Attrs = append(e.Attrs, Attr{Name: a.Name, Values: a.Values})
		}
		return fn(&e)
	})
	if err == nil && n == 0 {
		// A file without a single record is not an LDIF export (RFC 2849
		// wants at least one; a real export holds at least its base entry):
		// it is an export that died before writing. Read as an empty
		// directory, it would delete everything.
		return fmt.Errorf("source %s: no entries: an empty or unfinished export?", s.path)
	}
	return err
}

var containerClasses = []string{"organizationalunit", "container", "organization", "domain", "dcobject", "builtindomain"}

func isContainer(classes []string) bool {
	for _, c := range classes {
		if slices.Contains(containerClasses, strings.ToLower(c)) {
			return true
		}
	}
	return false
}

func (s *ldifSource) Containers(ctx context.Context) ([]string, error) {
	var out []string
	err := s.each(ctx, false, func(rec *ldif.Record) error {
		if isContainer(rec.Get("objectClass")) {
			out = append(out, rec.DN)
		}
		return nil
	})
	return out, err
}

type ldapSource struct{ cfg ldap.Config }

// objectFilter selects the object classes syncguard syncs.
const objectFilter = "(|(objectClass=user)(objectClass=person)(objectClass=inetOrgPerson)(objectClass=posixAccount)" +
	"(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"

// objectAttrs are the attributes read of each object: all user attributes
// and entryUUID, the anchor of OpenLDAP entries (operational, so named).
var objectAttrs = []string{"*", "entryUUID"}

func (s *ldapSource) Read(ctx context.Context, bases []string, fn func(*Entry) error) error {
	var e Entry
	gone, err := s.eachBase(bases, func(cfg ldap.Config, seen *int) error {
		return ldap.Search(ctx, cfg, objectFilter, objectAttrs, func(le *ldap.Entry) error {
			*seen++
			e.DN = le.DN
			e.Sum = sumOf(le.Raw)
			e.Attrs = e.Attrs[:0]
			for _, a := range le.Attrs {
				e.Attrs = append(e.Attrs, Attr(a))
			}
			return fn(&e)
		})
	})
	if err == nil && len(gone) > 0 {
		return &ScopeGoneError{Bases: gone}
	}
	return err
}

// Locate reads every entry below the base DN with only its object
// classes, anchors and whether it is a critical system object.
func (s *ldapSource) Locate(ctx context.Context, fn func(*Entry) error) error {
	var e Entry
	err := ldap.Search(ctx, s.cfg, "(objectClass=*)", []string{"objectClass", "objectGUID", "entryUUID", "isCriticalSystemObject"},
		func(le *ldap.Entry) error {
			e.DN = le.DN
			e.Attrs = e.Attrs[:0]
			for _, a := range le.Attrs {
				e.Attrs = append(e.Attrs, Attr(a))
			}
			return fn(&e)
		})
	return pinHint(err)
}

// ScopeGoneError is the error of a read that found scope OUs missing at the
// source and read every other base to its end: the read is complete but
// for those OUs. An OU below the configuration's base DN that the server
// says does not exist (LDAP noSuchObject on the search base, before any
// entry) is one: deleted, moved, or hidden from the bind account (a
// directory answers alike for an entry the account may not see). The base
// DN itself missing is a failure like any other: a wrong base or server.
type ScopeGoneError struct {
	Bases []string // as the scope names them
}

func (e *ScopeGoneError) Error() string {
	return "source: the scope names OUs the source does not have: " + strings.Join(e.Bases, "; ")
}

// eachBase calls search with the source's settings for each base in turn
// (the base DN when there is none); search counts in seen the entries it
// saw. A scope OU the server says does not exist (see ScopeGoneError) is
// passed over and returned in gone.
func (s *ldapSource) eachBase(bases []string, search func(cfg ldap.Config, seen *int) error) (gone []string, err error) {
	if len(bases) == 0 {
		bases = []string{s.cfg.BaseDN}
	}
	for _, base := range bases {
		cfg := s.cfg
		cfg.BaseDN = base
		seen := 0
		err := search(cfg, &seen)
		var le *ldap.Error
		switch {
		case err == nil:
		case seen == 0 && errors.As(err, &le) && le.Op == "search" && le.Code == goldap.LDAPResultNoSuchObject && s.belowBase(base):
			gone = append(gone, base)
		default:
			return gone, pinHint(err)
		}
	}
	return gone, nil
}

// belowBase reports whether dn is strictly below the source's base DN.
func (s *ldapSource) belowBase(dn string) bool {
	norm, err := NormalizeDN(dn)
	base, berr := NormalizeDN(s.cfg.BaseDN)
	return err == nil && berr == nil && norm != base && InScope(norm, []string{base})
}

func (s *ldapSource) Containers(ctx context.Context) ([]string, error) {
	var out []string
	err := ldap.Search(ctx, s.cfg, "(|(objectClass=organizationalUnit)(objectClass=container)(objectClass=organization)(objectClass=domain))",
		[]string{"objectClass"}, func(e *ldap.Entry) error {
			out = append(out, e.DN)
			return nil
		})
	return out, pinHint(err)
}
