package adtest

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"
)

// sid is a binary objectSid S-1-5-21-1-2-3-rid.
func sid(rid uint32) string {
	b := []byte{1, 5, 0, 0, 0, 0, 0, 5}
	for _, sub := range []uint32{21, 1, 2, 3, rid} {
		b = binary.LittleEndian.AppendUint32(b, sub)
	}
	return string(b)
}

// TestServer checks with go-ldap's client what the server answers as AD
// does: binds and their failures, binary values, ranges, pages and limits.
func TestServer(t *testing.T) {
	var members []string
	for i := range 25 {
		members = append(members, fmt.Sprintf("CN=u%02d,CN=Users,DC=corp,DC=example", i))
	}
	entries := []Entry{{DN: "CN=Users,DC=corp,DC=example", Attrs: []Attr{{"objectClass", []string{"container"}}}}}
	for i := range 25 {
		entries = append(entries, Entry{DN: members[i], Attrs: []Attr{
			{"objectClass", []string{"top", "person", "organizationalPerson", "user"}},
			{"objectSid", []string{sid(uint32(1100 + i))}},
			{"primaryGroupID", []string{"513"}},
			{"userAccountControl", []string{"514"}},
		}})
	}
	entries = append(entries, Entry{DN: "CN=Domain Users,CN=Users,DC=corp,DC=example", Attrs: []Attr{
		{"objectClass", []string{"top", "group"}}, {"objectSid", []string{sid(513)}}, {"member", slices.Clone(members)},
	}})
	s := Start(t, Options{MaxValRange: 10, MaxPageSize: 20, Entries: entries,
		Accounts: []Account{{Name: "CN=svc,CN=Users,DC=corp,DC=example", Password: "pw"}, {Name: `CORP\off`, Password: "pw", Refuse: "533"}}})

	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	search := func(base string, scope int, filter string, attrs ...string) (*ldap.SearchResult, error) {
		return c.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	}
	if _, err := search(s.Suffix, ldap.ScopeWholeSubtree, "(objectClass=user)"); !ldap.IsErrorWithCode(err, ldap.LDAPResultOperationsError) {
		t.Errorf("search before a bind = %v, want operations error", err)
	}
	if err := c.Bind(`corp\OFF`, "pw"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) || !strings.Contains(err.Error(), "data 533") {
		t.Errorf("bind of a disabled account = %v", err)
	}
	if err := c.Bind("CN=svc,CN=Users,DC=corp,DC=example", "pw"); err != nil {
		t.Fatal(err)
	}

	// Binary values come back byte for byte; filters match.
	r, err := search(s.Suffix, ldap.ScopeWholeSubtree, "(&(objectClass=user)(primaryGroupID=513)(objectSid=*)(!(objectClass=group)))")
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || len(r.Entries) != 20 {
		t.Errorf("search of 25 users without paging = %d entries, %v; want 20 and size limit exceeded", len(r.Entries), err)
	}
	paged, err := c.SearchWithPaging(ldap.NewSearchRequest(s.Suffix, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=user)(primaryGroupID=513))", []string{"objectSid", "userAccountControl"}, nil), 7)
	if err != nil || len(paged.Entries) != 25 {
		t.Fatalf("paged search = %v entries, %v", len(paged.Entries), err)
	}
	if got := paged.Entries[3].GetRawAttributeValue("objectSid"); string(got) != sid(1103) {
		t.Errorf("objectSid = %x, want %x", got, sid(1103))
	}

	// Members come ten at a time, the client asks for the rest.
	group := "CN=Domain Users,CN=Users,DC=corp,DC=example"
	var got []string
	for _, ask := range []string{"member", "member;range=10-*", "member;range=20-*", "member;range=25-*"} {
		r, err := search(group, ldap.ScopeBaseObject, "(objectClass=*)", ask)
		if err != nil || len(r.Entries) != 1 {
			t.Fatalf("%s: %v", ask, err)
		}
		for _, a := range r.Entries[0].Attributes {
			got = append(got, a.Name)
			members = slices.DeleteFunc(members, func(m string) bool { return slices.Contains(a.Values, m) })
		}
	}
	if want := []string{"member;range=0-9", "member;range=10-19", "member;range=20-*"}; !slices.Equal(got, want) {
		t.Errorf("ranges = %q, want %q", got, want)
	}
	if len(members) != 0 {
		t.Errorf("members never sent: %q", members)
	}

	if _, err := search("OU=Gone,DC=corp,DC=example", ldap.ScopeWholeSubtree, "(objectClass=*)"); !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Errorf("search of a missing base = %v, want no such object", err)
	}
}
