package ldap

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/target"
)

// The package doc shows the mapping tables; they must say what the code does.
func TestDocListsTheMapping(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for name, table := range map[string][]attrMap{"users": userAttrs, "groups": groupAttrs} {
		for _, m := range table {
			row := `(?m)^//\t` + regexp.QuoteMeta(m.target) + ` +` + regexp.QuoteMeta(strings.Join(m.sources, ", ")) + `( \(|$)`
			if !regexp.MustCompile(row).Match(doc) {
				t.Errorf("doc.go has no %s row %q ← %s", name, m.target, strings.Join(m.sources, ", "))
			}
		}
	}
}

func testWriter(t *testing.T) *Writer {
	t.Helper()
	w, err := New(Config{URL: "ldap://127.0.0.1", SourceBaseDN: sourceBase, TargetBaseDN: targetBase})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestEntryMapsSourceAttributes(t *testing.T) {
	w := testWriter(t)
	for _, tc := range []struct {
		name string
		obj  *target.Object
		dn   string
		want map[string][]string // the attributes with values
	}{
		{"openldap", user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann", "cn", "Ann Lee", "sn", "Lee", "mail", "ann@corp.example",
			"manager", "uid=boss,ou=Sales,"+sourceBase, "manager", "uid=x,dc=elsewhere", "postalCode", "", "objectClass", "posixAccount", "uidNumber", "1000"),
			"uid=ann,ou=Sales," + targetBase,
			map[string][]string{"uid": {"ann"}, "cn": {"Ann Lee"}, "sn": {"Lee"}, "mail": {"ann@corp.example"}, "manager": {"uid=boss,ou=Sales," + targetBase}}},
		{"active directory", user("CN=Ann Lee,OU=Sales,"+sourceBase, "CN", "Ann Lee", "sAMAccountName", "alee", "Department", "Sales",
			"company", "Corp", "streetAddress", "1 Main St", "displayName", "Ann", "displayName", "Annie", "thumbnailPhoto", "base64:/9j/",
			"userPrincipalName", "alee@corp.example", "managedBy", "CN=Boss,"+sourceBase),
			"CN=Ann Lee,OU=Sales," + targetBase,
			map[string][]string{"cn": {"Ann Lee"}, "sn": {"Ann Lee"}, "uid": {"alee"}, "departmentNumber": {"Sales"}, "o": {"Corp"},
				"street": {"1 Main St"}, "displayName": {"Ann"}, "jpegPhoto": {"\xff\xd8\xff"}}},
		{"no cn, RDN value kept", func() *target.Object {
			u := user("uid=bob,"+sourceBase, "uid", "robert")
			u.Name = "Robert"
			return u
		}(), "uid=bob," + targetBase,
			map[string][]string{"uid": {"bob", "robert"}, "cn": {"Robert"}, "sn": {"Robert"}}},
		{"no name at all", user("uid=bob," + sourceBase), "uid=bob," + targetBase,
			map[string][]string{"uid": {"bob"}, "cn": {"bob"}, "sn": {"bob"}}},
		{"RDN outside the mapping", user("employeeNumber=7+cn=Eve,"+sourceBase, "employeeNumber", "8"), "employeeNumber=7+cn=Eve," + targetBase,
			map[string][]string{"employeeNumber": {"7"}, "cn": {"Eve"}, "sn": {"Eve"}}},
		{"group", func() *target.Object {
			g := group("cn=Team,ou=Groups,"+sourceBase,
				target.Member{DN: "uid=ann,ou=Sales," + sourceBase},
				target.Member{DN: "UID=ANN,OU=Sales," + sourceBase}, // the same member twice
				target.Member{DN: "uid=bob," + sourceBase, Link: "uid=bob,ou=held," + targetBase})
			g.Attributes = map[string][]string{"cn": {"Team"}, "managedBy": {"uid=ann,ou=Sales," + sourceBase}, "mail": {"team@corp.example"}}
			return g
		}(), "cn=Team,ou=Groups," + targetBase,
			map[string][]string{"cn": {"Team"}, "owner": {"uid=ann,ou=Sales," + targetBase},
				"member": {"uid=ann,ou=Sales," + targetBase, "uid=bob,ou=held," + targetBase}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := w.entry(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if e.dnStr != tc.dn {
				t.Errorf("DN %q, want %q", e.dnStr, tc.dn)
			}
			got := map[string][]string{}
			for _, a := range e.attrs {
				if len(a.Vals) > 0 {
					got[a.Type] = a.Vals
				}
			}
			for k, v := range tc.want {
				if !slices.Equal(got[k], v) {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for k, v := range got {
				if _, ok := tc.want[k]; !ok {
					t.Errorf("unexpected %s = %q", k, v)
				}
			}
		})
	}
}

func TestEntryRefusesWhatItCannotPlace(t *testing.T) {
	w := testWriter(t)
	for _, obj := range []*target.Object{
		user("uid=ann,dc=other,dc=example"),
		user(sourceBase),
		user("uid=ann,ou=Sales,dc=corp,dc=example,"), // does not parse
		object("computer", "cn=pc,"+sourceBase),
	} {
		if e, err := w.entry(obj); err == nil {
			t.Errorf("entry(%s) = %s, want an error", obj.DN, e.dnStr)
		}
	}
}

func TestDNsKeepTheirValues(t *testing.T) {
	for _, v := range []string{"Lee, Ann", "a+b", `q"uote`, `back\slash`, "<x>", "semi;colon", "eq=ual", " lead", "trail ", "#hash", "Zoë Ärger", "tab\there", "日本"} {
		d := join(dn{rdn("cn", v)}, dn{rdn("dc", "example")})
		s := d.String()
		back, err := parseDN(s)
		if err != nil {
			t.Errorf("%q → %q does not parse: %v", v, s, err)
			continue
		}
		if got := back[0].Attributes[0].Value; got != v {
			t.Errorf("%q → %q → %q", v, s, got)
		}
	}
	if got := join(dn{rdn("cn", "Zoë")}, nil).String(); got != "cn=Zoë" {
		t.Errorf("UTF-8 is escaped: %q", got)
	}
}

func TestClassifyResultCodes(t *testing.T) {
	for _, tc := range []struct {
		code      uint16
		diag      string
		transient bool
		want      string
	}{
		{51, "server busy", true, "LDAP 51 busy: server busy"},
		{52, "", true, "LDAP 52 unavailable"},
		{3, "", true, "LDAP 3 time limit exceeded"},
		{80, "internal error", true, "LDAP 80 other: internal error"},
		{65, "object class 'inetOrgPerson' requires attribute 'sn'", false, "LDAP 65 object class violation: object class 'inetOrgPerson' requires attribute 'sn'"},
		{19, "", false, "LDAP 19 constraint violation"},
		{21, "mail: value #0 invalid per syntax", false, "LDAP 21 invalid attribute syntax: mail: value #0 invalid per syntax"},
		{17, "", false, "LDAP 17 undefined attribute type"},
		{34, "", false, "LDAP 34 invalid dn syntax"},
		{64, "", false, "LDAP 64 naming violation"},
		{50, "no write access", false, "LDAP 50 insufficient access rights: no write access"},
		{49, "", false, "LDAP 49 invalid credentials"},
		{68, "", false, "LDAP 68 entry already exists"},
		{ldapv3.ErrorNetwork, "ldap: connection closed", true, "LDAP connection lost: connection closed"},
	} {
		got := classify(ldapv3.NewError(tc.code, errors.New(tc.diag)))
		if got.Transient != tc.transient || got.Message != tc.want {
			t.Errorf("code %d: %q transient %v, want %q transient %v", tc.code, got.Message, got.Transient, tc.want, tc.transient)
		}
	}
}

func TestRerootString(t *testing.T) {
	w := testWriter(t)
	for _, tc := range []struct{ in, want string }{
		{"uid=ann,ou=Sales,dc=corp,dc=example", "uid=ann,ou=Sales,dc=cloud,dc=example"},
		{"UID=Ann,OU=Sales,DC=Corp,DC=Example", "UID=Ann,OU=Sales,dc=cloud,dc=example"},
		{`cn=Lee\, Ann,dc=corp,dc=example`, `cn=Lee\, Ann,dc=cloud,dc=example`},
		{"uid=ann, ou=Sales, dc=corp, dc=example", "uid=ann,ou=Sales,dc=cloud,dc=example"}, // parsed
		{`cn=a\\,dc=corp,dc=example`, `cn=a\\,dc=cloud,dc=example`},                        // an escaped backslash, then the comma
		{`cn=a\,dc=corp,dc=example`, ""},                                                   // the comma is escaped: not below the base
		{"dc=corp,dc=example", ""},
		{"uid=x,dc=other,dc=example", ""},
		{"uid=x,xdc=corp,dc=example", ""},
	} {
		got, err := w.rerootString(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("rerootString(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("rerootString(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
