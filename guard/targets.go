package guard

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syncguard/syncguard/guard/target"
	tldap "github.com/syncguard/syncguard/guard/target/ldap"
	"github.com/syncguard/syncguard/guard/target/scim"
	"github.com/syncguard/syncguard/store"
)

// Target kinds, as `status --json` and the portal name them.
const (
	TargetNone = "none"
	TargetLDAP = "ldap"
	TargetSCIM = "scim"
)

// TargetKind returns the kind of a target URL: none, ldap or scim; ""
// for a URL of no kind syncguard knows.
func TargetKind(url string) string {
	switch {
	case url == "" || url == store.TargetNone:
		return TargetNone
	case strings.HasPrefix(url, "ldap://"), strings.HasPrefix(url, "ldaps://"):
		return TargetLDAP
	case strings.HasPrefix(url, "scim+https://"), strings.HasPrefix(url, "scim+http://"):
		return TargetSCIM
	}
	return ""
}

// CheckTarget checks the target settings of cfg as `config add|set` take
// them: settings of another kind of target are refused rather than
// ignored, and a writer can be made of the rest (the CA file reads, no
// password crosses the network in clear). It does not connect. Its
// error is Invalid, in an admin's words.
func CheckTarget(t *store.Target, cfg *store.Configuration) error {
	var misplaced []string
	switch TargetKind(t.URL) {
	case TargetNone:
		if t.BaseDN != "" || t.BindDN != "" || t.BindPassword != "" || t.StartTLS || t.CAFile != "" || t.Token != "" {
			return invalid("target settings without a target: give --target URL")
		}
		return nil
	case TargetLDAP:
		if t.Token != "" {
			misplaced = append(misplaced, "--target-token-file")
		}
	case TargetSCIM:
		for flag, set := range map[string]bool{"--target-base-dn": t.BaseDN != "", "--target-bind-dn": t.BindDN != "",
			"--target-bind-password-file": t.BindPassword != "", "--target-starttls": t.StartTLS} {
			if set {
				misplaced = append(misplaced, flag)
			}
		}
	default:
		return invalid("target %q: want none, ldap://HOST[:PORT], ldaps://HOST[:PORT], scim+https://HOST/PATH "+
			"or scim+http://LOOPBACK/PATH", t.URL)
	}
	if len(misplaced) > 0 {
		return invalid("%s: not for a %s target", strings.Join(misplaced, ", "), TargetKind(t.URL))
	}
	w, err := OpenTarget(t, cfg)
	if err != nil {
		return invalid("%v", err)
	}
	return w.Close()
}

// OpenTarget makes the writer of cfg's target t. An LDAP target keeps each
// object's place below the source base DN (cfg.BaseDN) under its own base.
func OpenTarget(t *store.Target, cfg *store.Configuration) (target.Writer, error) {
	switch TargetKind(t.URL) {
	case TargetLDAP:
		if t.BaseDN == "" {
			return nil, errors.New("an LDAP target needs its base DN (--target-base-dn)")
		}
		if cfg.BaseDN == "" {
			return nil, errors.New("an LDAP target needs the source's base DN (--base-dn): objects keep their place below it")
		}
		c := tldap.Config{URL: t.URL, BindDN: t.BindDN, BindPassword: t.BindPassword, StartTLS: t.StartTLS,
			SourceBaseDN: cfg.BaseDN, TargetBaseDN: t.BaseDN}
		if t.CAFile != "" {
			pool, err := caPool("target", t.CAFile)
			if err != nil {
				return nil, err
			}
			c.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		return tldap.New(c)
	case TargetSCIM:
		return scim.New(scim.Config{URL: t.URL, Token: t.Token, CAFile: t.CAFile})
	}
	return nil, fmt.Errorf("target %q: no writer for it", t.URL)
}

// TestTarget connects to cfg's target, authenticates and reads one page
// (`target test`, the portal's Test connection). It returns what the
// target said, or why it could not in an admin's words.
func TestTarget(ctx context.Context, t *store.Target, cfg *store.Configuration) (string, error) {
	if TargetKind(t.URL) == TargetNone {
		return "", errors.New("no target: the configuration keeps its target directory copy only (set one with --target)")
	}
	w, err := OpenTarget(t, cfg)
	if err != nil {
		return "", err
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return w.Test(ctx)
}
