package guard

import (
	"strings"

	"github.com/syncguard/syncguard/store"
)

// TargetSettings are a target's settings as a person types them in the
// portal (Edit Target, New configuration's Target step): the kind chosen,
// then the fields of that kind; the fields of the other kinds are ignored.
type TargetSettings struct {
	Kind                              string // TargetNone, TargetLDAP or TargetSCIM
	URL, BaseDN, BindDN, BindPassword string
	StartTLS                          bool
	CAFile, Token                     string
}

// TargetSettingsOf are the settings of t without its secrets.
func TargetSettingsOf(t *store.Target) TargetSettings {
	return TargetSettings{Kind: TargetKind(t.URL), URL: strings.TrimPrefix(t.URL, store.TargetNone), BaseDN: t.BaseDN,
		BindDN: t.BindDN, StartTLS: t.StartTLS, CAFile: t.CAFile}
}

// ApplyTarget checks typed target settings and returns the target they
// make for cfg (an LDAP target keeps each object's place below cfg's base
// DN). An empty bind password or token keeps kept's, when kept (the
// target saved, or nil) is of the same kind. A SCIM service's https://
// or http:// address takes the scim+ in front. It returns a message per
// wrong field, keyed "target_kind", "target_url", "target_base_dn",
// "target_bind_password", "target_ca_file" and "target_token" (nil when
// all are right). It does not connect: TestTarget does.
func ApplyTarget(in TargetSettings, kept *store.Target, cfg *store.Configuration) (*store.Target, map[string]string) {
	t := &store.Target{ConfigID: cfg.ID, URL: store.TargetNone}
	errs := map[string]string{}
	url := strings.TrimSpace(in.URL)
	keep := kept != nil && TargetKind(kept.URL) == in.Kind
	switch in.Kind {
	case TargetNone:
		return t, nil
	case TargetLDAP:
		t.URL, t.BaseDN, t.BindDN = url, strings.TrimSpace(in.BaseDN), strings.TrimSpace(in.BindDN)
		t.BindPassword, t.StartTLS = in.BindPassword, in.StartTLS
		if t.BindPassword == "" && keep {
			t.BindPassword = kept.BindPassword
		}
		checkLDAPTarget(t, cfg, errs)
	case TargetSCIM:
		if strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://") {
			url = "scim+" + url
		}
		t.URL, t.Token = url, strings.TrimSpace(in.Token)
		if t.Token == "" && keep {
			t.Token = kept.Token
		}
		switch {
		case url == "":
			errs["target_url"] = "Enter the service's base URL, such as https://scim.example.com/scim/v2."
		case TargetKind(url) != TargetSCIM:
			errs["target_url"] = "This is not the address of a SCIM service: give its https:// base URL."
		}
		if t.Token == "" {
			errs["target_token"] = "Enter the bearer token the service issued for syncguard."
		}
	default:
		errs["target_kind"] = "Choose None, LDAP directory or SCIM 2.0 service."
		return t, errs
	}
	t.CAFile = strings.TrimSpace(in.CAFile)
	if len(errs) > 0 {
		return t, errs
	}
	if err := CheckTarget(t, cfg); err != nil {
		msg := targetProblem(err)
		switch {
		case strings.Contains(msg, "CA file"):
			errs["target_ca_file"] = msg
		case strings.Contains(msg, "bearer token"):
			errs["target_token"] = msg
		default:
			errs["target_url"] = msg
		}
		return t, errs
	}
	return t, nil
}

// checkLDAPTarget checks what an LDAP target needs before a writer is
// made of it, in a person's words.
func checkLDAPTarget(t *store.Target, cfg *store.Configuration, errs map[string]string) {
	switch {
	case t.URL == "":
		errs["target_url"] = "Enter the directory's address: ldaps://host:636, or ldap://host:389 with StartTLS."
	case TargetKind(t.URL) != TargetLDAP:
		errs["target_url"] = "This is not the address of an LDAP directory: it starts with ldap:// or ldaps://."
	}
	if t.BaseDN == "" {
		errs["target_base_dn"] = "Enter where objects go in the target, such as dc=cloud,dc=example."
	} else if _, err := NormalizeDN(t.BaseDN); err != nil {
		errs["target_base_dn"] = "This is not a DN: " + err.Error() + "."
	}
	if t.BindDN == "" {
		t.BindPassword = ""
	} else if t.BindPassword == "" {
		errs["target_bind_password"] = "Enter the password of " + t.BindDN + "."
	}
	if strings.TrimSpace(cfg.BaseDN) == "" {
		errs["target_kind"] = "An LDAP target keeps each object's place below the source's base DN, and the source has none: " +
			"set one in Source first."
	}
}

// targetProblem is what CheckTarget refused, as a sentence without the
// writer's prefix.
func targetProblem(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "ldap target"); ok {
		_, msg, _ = strings.Cut(rest, ": ")
	}
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, "scim: "), "target: ")
	return capital(strings.TrimSuffix(msg, ".")) + "."
}
