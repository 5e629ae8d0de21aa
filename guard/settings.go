package guard

import (
	"cmp"
	"errors"
	"strings"

	"github.com/syncguard/syncguard/store"
)

// SourceSettings are a source's settings as a person types them in the
// portal.
type SourceSettings struct {
	URL, BaseDN, BindDN, BindPassword, BindMethod string
	StartTLS                                      bool
	CAFile, TLSPin, TLSServer                     string
}

// SettingsOf are the source settings of c.
func SettingsOf(c *store.Configuration) SourceSettings {
	return SourceSettings{URL: c.Source, BaseDN: c.BaseDN, BindDN: c.BindDN, BindPassword: c.BindPassword,
		BindMethod: BindMethod(c), StartTLS: c.StartTLS, CAFile: c.CAFile, TLSPin: c.TLSPin, TLSServer: c.TLSServer}
}

// ApplySource checks typed source settings and copies them onto c. It
// returns a message per wrong field, keyed "source", "base_dn", "bind_dn",
// "bind_method", "ca_file", "tls_pin" (nil when all are right). An LDIF
// source keeps none of the LDAP settings. The base DN may be left empty
// here: Test connection offers the server's.
func ApplySource(c *store.Configuration, in SourceSettings) map[string]string {
	errs := map[string]string{}
	c.Source = strings.TrimSpace(in.URL)
	c.BaseDN = strings.TrimSpace(in.BaseDN)
	c.BindDN, c.BindPassword = strings.TrimSpace(in.BindDN), in.BindPassword
	c.StartTLS, c.CAFile, c.TLSServer = in.StartTLS, strings.TrimSpace(in.CAFile), strings.TrimSpace(in.TLSServer)
	if c.BaseDN != "" {
		if _, err := NormalizeDN(c.BaseDN); err != nil {
			errs["base_dn"] = "This is not a DN: " + err.Error() + "."
		}
	}
	var err error
	if c.BindMethod, err = ParseBindMethod(cmp.Or(strings.TrimSpace(in.BindMethod), "simple")); err != nil {
		errs["bind_method"] = capital(err.Error()) + "."
	}
	if c.TLSPin, err = ParsePin(in.TLSPin); err != nil {
		errs["tls_pin"] = capital(err.Error()) + "."
	}
	switch {
	case c.Source == "":
		errs["source"] = "Enter where to read: ldap://host:389, ldaps://host:636 or ldif:/path/to/export.ldif."
		return errs
	case strings.HasPrefix(c.Source, "ldif:"):
		c.BindDN, c.BindPassword, c.BindMethod, c.StartTLS = "", "", "simple", false
		c.CAFile, c.TLSPin, c.TLSServer = "", "", ""
		delete(errs, "bind_method")
		delete(errs, "tls_pin")
	}
	if len(errs) > 0 {
		return errs
	}
	if c.BindDN == "" {
		c.BindPassword = ""
	}
	if err := sourceSettingsError(c); err != nil {
		key := "source"
		if c.CAFile != "" && strings.Contains(err.Error(), "CA file") {
			key = "ca_file"
		}
		errs[key] = capital(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "source: "), "ldap: ")) + "."
		return errs
	}
	return nil
}

// sourceSettingsError is what OpenSource would refuse of c, with any base
// DN (Test connection finds one when none is given).
func sourceSettingsError(c *store.Configuration) error {
	check := *c
	if check.BaseDN == "" {
		check.BaseDN = "dc=x"
	}
	var se *store.Error
	if err := validateSourceSettings(&check); errors.As(err, &se) {
		return errors.New(se.Message)
	} else if err != nil {
		return err
	}
	return nil
}

// capital makes the first letter of a message upper case.
func capital(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
