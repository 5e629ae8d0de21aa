package guard

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/syncguard/syncguard/store"
)

// MinPasswordLength is the shortest password accepted for a portal user.
const MinPasswordLength = 12

// HashPassword checks a new password's length and hashes it with bcrypt.
func HashPassword(password string) (string, error) {
	if len([]rune(password)) < MinPasswordLength {
		return "", invalid("the password must have at least %d characters", MinPasswordLength)
	}
	if len(password) > 72 {
		return "", invalid("the password must have at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches the bcrypt hash.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// ParseUserName checks a portal user's name: not empty, no white space, no
// control characters (a name prints as one word in lists and the audit).
func ParseUserName(s string) (string, error) {
	name := strings.TrimSpace(s)
	switch {
	case name == "":
		return "", invalid("enter a user name")
	case !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "", invalid("a user name has no spaces and no control characters")
	case len(name) > 100:
		return "", invalid("a user name has at most 100 characters")
	}
	return name, nil
}

// ParseRole checks a role: admin or viewer.
func ParseRole(s string) (string, error) {
	switch s {
	case store.RoleAdmin, store.RoleViewer:
		return s, nil
	}
	return "", invalid("the role is admin (may change things) or viewer (may only look), not %q", s)
}
