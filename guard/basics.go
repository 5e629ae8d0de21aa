package guard

import (
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/syncguard/syncguard/store"
)

// MaxThreshold is the largest accidental deletion threshold accepted: above
// it the guard could never trip and the value is surely a typo.
const MaxThreshold = 10_000_000

// Default Basics and schedule of a new configuration.
const (
	DefaultThreshold   = 500
	DefaultInterval    = 2 * time.Minute
	MinInterval        = time.Second
	MaxInterval        = 7 * 24 * time.Hour
	DefaultRemindEvery = 24 * time.Hour
	// Reminders while sync is stopped go out at most every minute and at
	// least every 30 days (0 = never).
	MinRemindEvery = time.Minute
	MaxRemindEvery = 30 * 24 * time.Hour
)

// invalid is an error in what a person typed, worded for them.
func invalid(format string, args ...any) error {
	return store.Errorf(store.Invalid, format, args...)
}

// ParseThreshold reads an accidental deletion threshold: a whole number from
// 1 to MaxThreshold. Its error is a message for the person who typed it.
func ParseThreshold(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, invalid("Enter the number of deletions that stops sync, for example 500.")
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return 0, invalid("%s is too large: the threshold is at most %d.", s, MaxThreshold)
	case err != nil:
		return 0, invalid("%q is not a whole number: enter a number of objects, for example 500.", s)
	case n <= 0:
		return 0, invalid("The threshold must be at least 1.")
	case n > MaxThreshold:
		return 0, invalid("%s is too large: the threshold is at most %d.", s, MaxThreshold)
	}
	return int(n), nil
}

// ParseEmail reads a notification address: empty (no notification) or one
// plain address such as admin@example.com.
func ParseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", invalid("%q is not an email address: enter one address, such as admin@example.com.", s)
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(s, " <>,;") {
		return "", invalid("%q is not an email address: enter one address, such as admin@example.com.", s)
	}
	return s, nil
}

// ParseHold reads how long deletions are held before they become final:
// a duration such as 72h or 90m, a number of days such as 3d, or 0 (or
// empty, or "off") to delete at once; at most 90 days. Its error is a
// message for the person who typed it.
func ParseHold(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "0", "off":
		return 0, nil
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int64
		if n, err = strconv.ParseInt(days, 10, 64); err == nil && n <= int64(store.MaxHold/(24*time.Hour)) {
			d = time.Duration(n) * 24 * time.Hour
		} else if err == nil {
			d = store.MaxHold + 1
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	switch {
	case err != nil:
		return 0, invalid("%q is not a length of time: enter for example 72h, 3d, or 0 to delete at once.", s)
	case d < 0:
		return 0, invalid("The hold cannot be negative: enter 0 to delete at once.")
	case d > store.MaxHold:
		return 0, invalid("%s is too long: deletions are held at most 90 days (90d, or 2160h).", s)
	}
	return d, nil
}

// ParseLimit reads one of the limits besides the threshold (users, groups,
// memberships): a whole number from 0 (off) to MaxThreshold; empty is 0.
func ParseLimit(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange), err == nil && n > MaxThreshold:
		return 0, invalid("%s is too large: a limit is at most %d.", s, MaxThreshold)
	case err != nil:
		return 0, invalid("%q is not a whole number: enter a number of objects, or 0 for no limit.", s)
	case n < 0:
		return 0, invalid("A limit cannot be negative: enter 0 for no limit.")
	}
	return int(n), nil
}

// ParsePercent reads the percent limit: a whole number from 1 to 100, or
// 0 (off); empty is 0. A trailing % is allowed.
func ParsePercent(s string) (int, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "%")
	if s == "" || s == "0" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 100 {
		return 0, invalid("%q is not a percentage: enter a whole number from 1 to 100, or 0 for no limit.", s)
	}
	return n, nil
}

// ParseRemindEvery reads how often a reminder goes out while sync is
// stopped: a duration such as 24h, or 0 for never.
func ParseRemindEvery(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalid("%q is not a duration: use for example 24h or 12h, or 0 for no reminders.", s)
	}
	if d < MinRemindEvery || d > MaxRemindEvery {
		return 0, invalid("Reminders go out every %s at most and every %s at least (or 0: never).", MinRemindEvery,
			"720h (30 days)")
	}
	return d, nil
}

// BasicsInput is the Basics form as typed: the limits and the reminder
// as text, so that a bad value is shown again as it was.
type BasicsInput struct {
	Email, Threshold                    string
	Prevent                             bool
	Users, Groups, Memberships, Percent string
	RemindEvery                         string
	Hold                                string // how long deletions are held (SPEC section 10)
}

// Parse validates the Basics form. It returns the Basics and, when a
// field is wrong, a message per field ("email", "threshold", "users",
// "groups", "memberships", "percent", "remind", "hold").
func (in BasicsInput) Parse() (store.Basics, map[string]string) {
	errs := map[string]string{}
	b := store.Basics{Prevent: in.Prevent}
	field := func(name string, err error) {
		if err != nil {
			errs[name] = err.Error()
		}
	}
	var err error
	b.Email, err = ParseEmail(in.Email)
	field("email", err)
	b.Threshold, err = ParseThreshold(in.Threshold)
	field("threshold", err)
	b.ThresholdUsers, err = ParseLimit(in.Users)
	field("users", err)
	b.ThresholdGroups, err = ParseLimit(in.Groups)
	field("groups", err)
	b.ThresholdMemberships, err = ParseLimit(in.Memberships)
	field("memberships", err)
	b.ThresholdPercent, err = ParsePercent(in.Percent)
	field("percent", err)
	b.RemindEvery, err = ParseRemindEvery(in.RemindEvery)
	field("remind", err)
	b.Hold, err = ParseHold(in.Hold)
	field("hold", err)
	if len(errs) == 0 {
		errs = nil
	}
	return b, errs
}

// ParseBasics validates the Basics form: in.Parse.
func ParseBasics(in BasicsInput) (store.Basics, map[string]string) { return in.Parse() }

// ParseInterval reads a schedule interval such as "2m" or "90s".
func ParseInterval(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, invalid("%q is not a duration: use for example 2m, 90s or 1h.", s)
	}
	if d < MinInterval || d > MaxInterval {
		return 0, invalid("the interval must be between %s and %s.", MinInterval, MaxInterval)
	}
	return d, nil
}

// ValidateConfiguration checks a configuration's source and scope before it
// is saved.
func ValidateConfiguration(c *store.Configuration) error {
	if strings.TrimSpace(c.Name) == "" {
		return invalid("a configuration needs a name")
	}
	if err := checkName(c.Name); err != nil {
		return err
	}
	if err := validateSourceSettings(c); err != nil {
		return err
	}
	if !strings.HasPrefix(c.Source, "ldif:") && c.BaseDN == "" {
		return invalid("an LDAP source needs a base DN (--base-dn)")
	}
	if c.BaseDN == "" && len(c.Scope) == 0 {
		return invalid("set a base DN (--base-dn) or at least one in-scope OU (--scope)")
	}
	var base string
	if c.BaseDN != "" {
		var err error
		if base, err = NormalizeDN(c.BaseDN); err != nil {
			return invalid("base DN: %v", err)
		}
	}
	scope, err := NormalizeScope(c.Scope)
	if err != nil {
		return invalid("%v", err)
	}
	for i, s := range scope {
		if base != "" && !InScope(s, []string{base}) {
			return invalid("scope %q is not under the base DN %q", c.Scope[i], c.BaseDN)
		}
	}
	if c.Basics.Threshold <= 0 || c.Basics.Threshold > MaxThreshold {
		return invalid("the threshold must be a whole number from 1 to %d", MaxThreshold)
	}
	if err := validateLimits(c.Basics); err != nil {
		return err
	}
	if _, err := ParseEmail(c.Basics.Email); err != nil {
		return err // already worded for people
	}
	if c.Basics.Hold < 0 || c.Basics.Hold > store.MaxHold {
		return invalid("deletions are held from 0 (deleted at once) to 90 days (2160h)")
	}
	if c.Interval < MinInterval || c.Interval > MaxInterval {
		return invalid("the interval must be between %s and %s", MinInterval, MaxInterval)
	}
	return nil
}

// checkName refuses a configuration name that would not print as one line
// of text: a control character (a line break, a tab, an escape sequence)
// or bytes that are not UTF-8.
func checkName(name string) error {
	if !utf8.ValidString(name) {
		return invalid("a configuration name must be UTF-8 text")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return invalid("a configuration name cannot hold a control character (such as a line break, a tab or an escape): %q", name)
		}
	}
	return nil
}

// validateLimits checks the limits besides the threshold and the
// reminders of b.
func validateLimits(b store.Basics) error {
	for _, n := range []int{b.ThresholdUsers, b.ThresholdGroups, b.ThresholdMemberships} {
		if n < 0 || n > MaxThreshold {
			return invalid("a limit must be a whole number from 0 (off) to %d", MaxThreshold)
		}
	}
	if b.ThresholdPercent < 0 || b.ThresholdPercent > 100 {
		return invalid("the percent limit must be a whole number from 1 to 100, or 0 (off)")
	}
	if b.RemindEvery != 0 && (b.RemindEvery < MinRemindEvery || b.RemindEvery > MaxRemindEvery) {
		return invalid("reminders go out every %s at most and every 720h at least (or 0: never)", MinRemindEvery)
	}
	return nil
}
