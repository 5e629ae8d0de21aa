package guard

import (
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"unicode"

	goldap "github.com/go-ldap/ldap/v3"
)

// The seed corpora live in testdata/fuzz/<Name>/; `make fuzz` runs each
// target for a while (FUZZTIME), and go test runs the seeds every time.

// FuzzNormalizeDN: NormalizeDN never panics; what it returns is a fixed
// point (normalizing it again changes nothing), in scope of itself, the
// parent of a child DN made from it, and never in scope of that child.
func FuzzNormalizeDN(f *testing.F) {
	for _, s := range []string{"uid=a,ou=Sales,dc=corp,dc=example", "CN=Smith\\, John,OU=Users,DC=x", "cn=a+sn=b,dc=x",
		"cn=#04024869,dc=x", "cn=\\20lead\\20,dc=x", "cn=a\\0d\\0a,dc=x", "OU = Sales , DC = Corp", "cn=Zoë,dc=x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dn string) {
		n, err := NormalizeDN(dn)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bad DN ") {
				t.Fatalf("NormalizeDN(%q) error %q, want it to name the DN", dn, err)
			}
			return
		}
		n2, err := NormalizeDN(n)
		if err != nil || n2 != n {
			t.Fatalf("NormalizeDN(%q) = %q, but normalizing that gives %q, %v", dn, n, n2, err)
		}
		if n == "" {
			return
		}
		if !InScope(n, []string{n}) {
			t.Fatalf("InScope(%q, itself) = false", n)
		}
		child, err := NormalizeDN("cn=child," + n)
		if err != nil || child != "cn=child,"+n {
			t.Fatalf("child of %q normalizes to %q, %v", n, child, err)
		}
		if !InScope(child, []string{n}) || InScope(n, []string{child}) {
			t.Fatalf("InScope: child %q of %q: %v, parent in child: %v", child, n, InScope(child, []string{n}), InScope(n, []string{child}))
		}
		if p := ParentDN(child); p != n {
			t.Fatalf("ParentDN(%q) = %q, want %q", child, p, n)
		}
	})
}

// FuzzInScope: for any two DNs that parse, InScope on their normalized
// forms agrees with an RDN-by-RDN comparison (go-ldap's DN.AncestorOf): a
// DN is in scope exactly when the scope's RDNs end it. Escaped commas,
// look-alike suffixes ("xou=sales" is not "ou=sales") and multi-valued RDNs
// in any order are where a string comparison would go wrong.
func FuzzInScope(f *testing.F) {
	f.Add("uid=a,ou=Sales,dc=corp,dc=example", "ou=Sales,dc=corp,dc=example")
	f.Add("uid=a,ou=xSales,dc=corp,dc=example", "ou=Sales,dc=corp,dc=example")
	f.Add("uid=a,xou=Sales,dc=corp,dc=example", "ou=Sales,dc=corp,dc=example")
	f.Add("uid=a\\,ou=Sales,dc=corp,dc=example", "ou=Sales,dc=corp,dc=example")
	f.Add("cn=a,ou=b\\\\,dc=x", "dc=x")
	f.Add("cn=a,sn=b+cn=c,dc=x", "CN=C+SN=B,DC=X")
	f.Add("dc=corp,dc=example", "ou=Sales,dc=corp,dc=example")
	f.Fuzz(func(t *testing.T, dn, scope string) {
		nd, err1 := NormalizeDN(dn)
		ns, err2 := NormalizeDN(scope)
		if err1 != nil || err2 != nil || ns == "" {
			return
		}
		pd, err1 := goldap.ParseDN(nd)
		ps, err2 := goldap.ParseDN(ns)
		if err1 != nil || err2 != nil {
			t.Fatalf("normalized DNs %q, %q do not parse: %v, %v", nd, ns, err1, err2)
		}
		want := ps.Equal(pd) || ps.AncestorOf(pd)
		if got := InScope(nd, []string{ns}); got != want {
			t.Fatalf("InScope(%q, [%q]) = %v, want %v", nd, ns, got, want)
		}
	})
}

// FuzzParseBasics: the Basics form never panics; what it accepts is a
// threshold from 1 to MaxThreshold and an email that is empty or one plain
// address (no name, no second address, no line break that could reach a
// mail header); every rejection comes with a message for its field.
func FuzzParseBasics(f *testing.F) {
	f.Add("admin@corp.example", "500", true)
	f.Add("", "1", false)
	f.Add("Admin <admin@corp.example>", "0", true)
	f.Add("a@b\r\nBcc: x@y", "1,000", true)
	f.Add("a@b, c@d", "10000001", true)
	f.Add(" admin@corp.example ", " 42 ", false)
	f.Add("x", "-1", true)
	f.Add("x@y", "9223372036854775808", true)
	f.Add("x@y", "５", true)
	f.Fuzz(func(t *testing.T, email, threshold string, prevent bool) {
		b, errs := ParseBasics(BasicsInput{Email: email, Threshold: threshold, Prevent: prevent})
		for field, msg := range errs {
			if field != "email" && field != "threshold" || strings.TrimSpace(msg) == "" {
				t.Fatalf("ParseBasics(%q, %q): message %q for field %q", email, threshold, msg, field)
			}
		}
		if _, bad := errs["threshold"]; !bad {
			if b.Threshold < 1 || b.Threshold > MaxThreshold {
				t.Fatalf("ParseBasics accepted threshold %q as %d", threshold, b.Threshold)
			}
		} else if n, err := strconv.Atoi(strings.TrimSpace(threshold)); err == nil && n >= 1 && n <= MaxThreshold {
			t.Fatalf("ParseBasics refused the threshold %q: %s", threshold, errs["threshold"])
		}
		if _, bad := errs["email"]; !bad && b.Email != "" {
			a, err := mail.ParseAddress(b.Email)
			if err != nil || a.Address != b.Email || a.Name != "" {
				t.Fatalf("ParseBasics accepted the email %q as %q, which is not one plain address (%v)", email, b.Email, err)
			}
			if strings.ContainsFunc(b.Email, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == ',' }) {
				t.Fatalf("ParseBasics accepted the email %q with a space, control character or comma", b.Email)
			}
		}
		if b.Prevent != prevent {
			t.Fatalf("Prevent = %v, want %v", b.Prevent, prevent)
		}
	})
}
