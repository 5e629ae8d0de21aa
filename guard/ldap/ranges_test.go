package ldap

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/ldap/adtest"
)

const adBase = "DC=corp,DC=example"

// adGroup is a group with n members (CN=m000…), and as many values of a
// second multi-valued attribute, each with its objectGUID.
func adGroup(name string, n int) adtest.Entry {
	var members, notes []string
	for i := range n {
		members = append(members, fmt.Sprintf("CN=m%03d,OU=Staff,%s", i, adBase))
		notes = append(notes, fmt.Sprintf("note %d of %s", i, name))
	}
	e := adtest.Entry{DN: "CN=" + name + ",OU=Groups," + adBase, Attrs: []adtest.Attr{
		{Name: "objectClass", Values: []string{"top", "group"}},
		{Name: "cn", Values: []string{name}},
		{Name: "objectGUID", Values: []string{string(guid(len(name), n))}},
	}}
	if n > 0 {
		e.Attrs = append(e.Attrs, adtest.Attr{Name: "member", Values: members}, adtest.Attr{Name: "otherFacsimileTelephoneNumber", Values: notes})
	}
	return e
}

func adUser(i int) adtest.Entry {
	return adtest.Entry{DN: fmt.Sprintf("CN=m%03d,OU=Staff,%s", i, adBase), Attrs: []adtest.Attr{
		{Name: "objectClass", Values: []string{"top", "person", "organizationalPerson", "user"}},
		{Name: "sAMAccountName", Values: []string{fmt.Sprintf("m%03d", i)}},
		{Name: "objectGUID", Values: []string{string(guid(i, 0))}},
	}}
}

// guid is a binary objectGUID with NULs and bytes above 0x7f.
func guid(a, b int) []byte {
	g := []byte{0, 0xff, 0x80, byte(a), byte(b), 0, 0x7f, 0xc3, 0x28, 1, 2, 3, 4, 5, 6, byte(a + b)}
	return g
}

const svcDN = "CN=svc-sync,OU=Service," + adBase

// startAD serves the OUs, users m000…m039 and the groups; group members
// come ten per range.
func startAD(t *testing.T, groups ...adtest.Entry) *adtest.Server {
	t.Helper()
	entries := []adtest.Entry{
		{DN: "OU=Staff," + adBase, Attrs: []adtest.Attr{{Name: "objectClass", Values: []string{"organizationalUnit"}}}},
		{DN: "OU=Groups," + adBase, Attrs: []adtest.Attr{{Name: "objectClass", Values: []string{"organizationalUnit"}}}},
	}
	for i := range 40 {
		entries = append(entries, adUser(i))
	}
	return adtest.Start(t, adtest.Options{Suffix: adBase, MaxValRange: 10, Entries: append(entries, groups...),
		Accounts: []adtest.Account{{Name: svcDN, Password: "s3cret-pw"}}})
}

func adCfg(s *adtest.Server) Config {
	return Config{URL: s.URL, BaseDN: adBase, BindDN: svcDN, BindPassword: "s3cret-pw", Timeout: 10 * time.Second, PageSize: 7}
}

const adObjects = "(|(objectClass=user)(objectClass=group))"

// TestSearchRanges: groups with more members than the server sends per
// entry come to fn whole, under the plain attribute name, in the server's
// order, read range by range on one second connection while the paged
// search goes on; Raw covers every range, so that a change in the last
// range changes it; SearchRaw gives the same bytes.
func TestSearchRanges(t *testing.T) {
	s := startAD(t, adGroup("Big", 35), adGroup("Ten", 10), adGroup("Eleven", 11), adGroup("Empty", 0))
	cfg := adCfg(s)

	read := func() []rawEntry { return collect(t, cfg, adObjects, []string{"*"}) }
	first := read()
	if got, want := len(first), 44; got != want {
		t.Fatalf("Search saw %d entries, want %d", got, want)
	}
	for _, name := range []string{"Big", "Ten", "Eleven", "Empty"} {
		want := adGroup(name, map[string]int{"Big": 35, "Ten": 10, "Eleven": 11, "Empty": 0}[name])
		i := slices.IndexFunc(first, func(r rawEntry) bool { return r.dn == want.DN })
		if i < 0 {
			t.Fatalf("no %s", want.DN)
		}
		var names []string
		for _, a := range first[i].attrs {
			names = append(names, a.Name)
		}
		var wantNames []string
		for _, a := range want.Attrs {
			wantNames = append(wantNames, a.Name)
		}
		if !slices.Equal(names, wantNames) {
			t.Errorf("%s: attributes %q, want %q", name, names, wantNames)
		}
		for j, a := range first[i].attrs {
			if j < len(want.Attrs) && !slices.Equal(a.Values, want.Attrs[j].Values) {
				t.Errorf("%s: %s = %d values %q…, want %d", name, a.Name, len(a.Values), a.Values[:min(3, len(a.Values))], len(want.Attrs[j].Values))
			}
		}
	}

	// The paged search ran on one connection; the ranges on one other,
	// each a base search of the group from the first value not yet read.
	reqs := s.Requests()
	main := reqs[0].Conn
	var ranges []string
	others := map[int]bool{}
	for _, r := range reqs {
		if r.Conn == main {
			if !r.Paged || r.Base != adBase {
				t.Errorf("on the search's connection: %+v", r)
			}
			continue
		}
		others[r.Conn] = true
		if r.Scope != 0 || r.Paged {
			t.Errorf("range request %+v: want a base search without paging", r)
		}
		ranges = append(ranges, strings.SplitN(r.Base, ",", 2)[0]+" "+strings.Join(r.Attrs, " "))
	}
	wantRanges := []string{
		"CN=Big member;range=10-*", "CN=Big member;range=20-*", "CN=Big member;range=30-*",
		"CN=Big otherFacsimileTelephoneNumber;range=10-*", "CN=Big otherFacsimileTelephoneNumber;range=20-*", "CN=Big otherFacsimileTelephoneNumber;range=30-*",
		"CN=Eleven member;range=10-*", "CN=Eleven otherFacsimileTelephoneNumber;range=10-*",
	}
	if !slices.Equal(ranges, wantRanges) {
		t.Errorf("range requests:\n%q\nwant\n%q", ranges, wantRanges)
	}
	if len(others) != 1 {
		t.Errorf("ranges read on %d connections besides the search's, want 1", len(others))
	}

	// SearchRaw hands out the same bytes; an unchanged directory gives the
	// same bytes again; a change in the last range shows in Raw.
	var raws [][]byte
	if err := SearchRaw(t.Context(), cfg, adObjects, []string{"*"}, func(raw []byte) error {
		raws = append(raws, bytes.Clone(raw))
		return nil
	}); err != nil {
		t.Fatalf("SearchRaw: %v", err)
	}
	big := slices.IndexFunc(first, func(r rawEntry) bool { return strings.HasPrefix(r.dn, "CN=Big,") })
	for i := range first {
		if i >= len(raws) || !bytes.Equal(raws[i], first[i].raw) {
			t.Errorf("entry %d (%s): SearchRaw and Search differ", i, first[i].dn)
		}
	}
	// Raw of CN=Big: its entry and six more, the further ranges of its
	// two attributes, as the server encoded them.
	parts := 0
	for rest := first[big].raw; len(rest) > 0; parts++ {
		tag, _, next, _, err := element(rest)
		if err != nil || tag != opSearchEntry {
			t.Fatalf("Raw of CN=Big, part %d: tag %#x, %v", parts+1, tag, err)
		}
		rest = next
	}
	if parts != 7 {
		t.Errorf("Raw of CN=Big holds %d SearchResultEntries, want 7", parts)
	}
	second := read()
	for i := range first {
		if !bytes.Equal(second[i].raw, first[i].raw) {
			t.Errorf("%s unchanged, but its Raw changed", first[i].dn)
		}
	}
	changed := adGroup("Big", 35)
	changed.Attrs[3].Values[33] = "CN=m039,OU=Staff," + adBase
	s.Set(changed)
	third := read()
	if bytes.Equal(third[big].raw, first[big].raw) {
		t.Error("member 34 of CN=Big changed, but Raw did not")
	}
	if got := third[big].attrs[3].Values[33]; got != "CN=m039,OU=Staff,"+adBase {
		t.Errorf("member 34 of CN=Big = %q after the change", got)
	}
}

// TestSearchWithoutRangesOpensOneConnection: a directory that sends every
// value at once costs one connection, as before ranges were read.
func TestSearchWithoutRangesOpensOneConnection(t *testing.T) {
	s := startAD(t, adGroup("Ten", 10))
	if n := len(collect(t, adCfg(s), adObjects, []string{"*"})); n != 41 {
		t.Fatalf("Search saw %d entries, want 41", n)
	}
	for _, r := range s.Requests() {
		if r.Conn != s.Requests()[0].Conn {
			t.Errorf("a second connection without ranged values: %+v", s.Requests())
		}
	}
}

// TestSearchRangeFailures: a range that cannot be read fails the search,
// and fn never sees the group whose members it lacks.
func TestSearchRangeFailures(t *testing.T) {
	t.Run("busy", func(t *testing.T) {
		s := startAD(t, adGroup("Big", 35))
		s.SetFault(func(r adtest.Request) (int, string) {
			if slices.Contains(r.Attrs, "member;range=20-*") {
				return 51, "too busy"
			}
			return 0, ""
		})
		checkRangeFailure(t, adCfg(s), "reading the values of member of CN=Big,OU=Groups,DC=corp,DC=example from 20 on: busy: too busy")
	})
	for _, tc := range []struct {
		name   string
		change func(s *adtest.Server) // while the page with CN=Big is on its way
		want   string
		code   uint16
	}{
		{"values shrank while read", func(s *adtest.Server) { s.Set(adGroup("Big", 5)) },
			"reading the values of member of CN=Big,OU=Groups,DC=corp,DC=example from 10 on: the server sent no values of member from 10 on", 0},
		{"group deleted while read", func(s *adtest.Server) { s.Delete("CN=Big,OU=Groups," + adBase) },
			"reading the values of member of CN=Big,OU=Groups,DC=corp,DC=example from 10 on: no such object", 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startAD(t, adGroup("Big", 35))
			cfg := adCfg(s)
			cfg.PageSize = 100
			n := 0
			err := Search(t.Context(), cfg, adObjects, []string{"*"}, func(e *Entry) error {
				if n++; n == 1 {
					tc.change(s)
				}
				if strings.HasPrefix(e.DN, "CN=Big,") {
					t.Errorf("fn saw CN=Big with %d members", len(e.Get("member")))
				}
				return nil
			})
			wantErr(t, err, tc.want)
			if got := code(err); got != tc.code {
				t.Errorf("code = %d, want %d", got, tc.code)
			}
		})
	}
}

func checkRangeFailure(t *testing.T, cfg Config, want string) {
	t.Helper()
	for _, raw := range []bool{false, true} {
		var err error
		if raw {
			err = SearchRaw(t.Context(), cfg, adObjects, []string{"*"}, func([]byte) error { return nil })
		} else {
			err = Search(t.Context(), cfg, adObjects, []string{"*"}, func(e *Entry) error {
				if strings.HasPrefix(e.DN, "CN=Big,") {
					t.Errorf("fn saw CN=Big with %d members", len(e.Get("member")))
				}
				return nil
			})
		}
		var e *Error
		if !errors.As(err, &e) || e.Op != "search" {
			t.Fatalf("raw %v: Search = %#v, want a search *Error", raw, err)
		}
		wantErr(t, err, "ldap: search DC=corp,DC=example (page ")
		wantErr(t, err, want)
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		desc, name string
		low, high  int
		ok, has    bool // parsed; hasRange
	}{
		{"member;range=0-1499", "member", 0, 1499, true, true},
		{"member;range=1500-*", "member", 1500, -1, true, true},
		{"member;RANGE=10-19", "member", 10, 19, true, true},
		{"member;binary;range=0-9", "member;binary", 0, 9, true, true},
		{"member;range=0-9;x-opt", "member;x-opt", 0, 9, true, true},
		{"member", "", 0, 0, false, false},
		{"member;x-range=0-9", "", 0, 0, false, false},
		{"member;range=", "", 0, 0, false, false},
		{"member;range=a-9", "", 0, 0, false, true},
		{"member;range=9-2", "", 0, 0, false, true},
		{"member;range=-1-2", "", 0, 0, false, true},
	} {
		name, low, high, ok := parseRange(tc.desc)
		if name != tc.name || low != tc.low || high != tc.high || ok != tc.ok {
			t.Errorf("parseRange(%q) = %q, %d, %d, %v; want %q, %d, %d, %v", tc.desc, name, low, high, ok, tc.name, tc.low, tc.high, tc.ok)
		}
		if got := hasRange([]byte(tc.desc)); got != tc.has {
			t.Errorf("hasRange([]byte(%q)) = %v, want %v", tc.desc, got, tc.has)
		}
	}
}
