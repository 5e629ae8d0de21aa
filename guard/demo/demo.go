// Package demo holds the demo directory shipped in the binary (an LDIF file
// in the shape of a slapcat export) and the synthetic generator that made it,
// which also produces large directories for tests and benchmarks.
//
// The output loads into OpenLDAP with slapadd using the core, cosine,
// inetorgperson and nis schemas.
package demo

import (
	"bufio"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// BaseDN is the base of the demo directory.
const BaseDN = "dc=corp,dc=example"

// LDIF is the demo directory: the output of Generate(w, DemoOptions).
// Regenerate it with: go test ./guard/demo -run TestDemoLDIF -update
//
//go:embed demo.ldif
var LDIF []byte

// DefaultOUs are the OUs Generate uses when Options.OUs is empty.
var DefaultOUs = []string{"Sales", "Engineering", "Finance", "Marketing", "Support"}

// DefaultMembersPerGroup is used when Options.MembersPerGroup is 0.
const DefaultMembersPerGroup = 10

// Options control Generate. The zero value gives the base entry, the
// default OUs and ou=Groups, with no users and no groups.
type Options struct {
	// BaseDN is the suffix; its first RDN must be dc=, o= or ou=. Default BaseDN.
	BaseDN string
	// OUs are the names of the OUs of users, directly under BaseDN, e.g.
	// "Sales". Default DefaultOUs. "Groups" is reserved.
	OUs []string
	// Users is the number of users, spread round-robin over the OUs.
	Users int
	// Groups is the number of groupOfNames entries under ou=Groups,BaseDN.
	// Groups need at least one user.
	Groups int
	// MembersPerGroup is the number of distinct users in each group, at
	// most Users. Default DefaultMembersPerGroup.
	MembersPerGroup int
	// Seed makes the output deterministic: the same options give the same
	// bytes, on every platform and Go version.
	Seed int64
	// UUIDs adds an entryUUID to every entry (as slapcat exports have), so
	// that anchors are stable UUIDs, derived from Seed and the entry.
	UUIDs bool
}

// DemoOptions are the options demo.ldif was generated with.
var DemoOptions = Options{
	BaseDN:          BaseDN,
	OUs:             DefaultOUs,
	Users:           300,
	Groups:          10,
	MembersPerGroup: 12,
	Seed:            1,
	UUIDs:           true,
}

var firstNames = []string{
	"Maria", "James", "Aisha", "Chen", "Olivia", "Liam", "Sofia", "Noah", "Priya", "Lucas",
	"Emma", "Mateo", "Fatima", "Ethan", "Yuki", "Daniel", "Hannah", "Omar", "Isabella", "Jonas",
	"Grace", "Mohammed", "Elena", "Samuel", "Amara", "Leo", "Chloe", "Ravi", "Anna", "Diego",
	"Nora", "Kenji", "Laura", "Tomas", "Zara", "Felix", "Ingrid", "Marco", "Leila", "Patrick",
	"Sara", "Victor", "Mei", "Adam", "Julia", "Kwame", "Rosa", "Henrik",
}

var lastNames = []string{
	"Lopez", "Smith", "Khan", "Wang", "Johnson", "Muller", "Rossi", "Garcia", "Patel", "Silva",
	"Brown", "Kim", "Nguyen", "Martin", "Tanaka", "Cohen", "Schmidt", "Okafor", "Dubois", "Larsen",
	"Novak", "Hernandez", "Ivanova", "Murphy", "Costa", "Jensen", "Ali", "Fischer", "Moreau", "Sato",
	"Kowalski", "Andersson", "Reyes", "Walker", "Haddad", "Berg", "Clarke", "Romano", "Singh", "Meyer",
	"Torres", "Lindqvist", "Mensah", "Fernandes", "Yilmaz", "Baker", "Horvat", "Olsen",
}

var titlesByOU = map[string][]string{
	"Sales":       {"Account Executive", "Sales Development Representative", "Regional Sales Manager", "Sales Engineer", "Key Account Manager"},
	"Engineering": {"Software Engineer", "Senior Software Engineer", "Site Reliability Engineer", "Engineering Manager", "QA Engineer", "Staff Engineer"},
	"Finance":     {"Accountant", "Financial Analyst", "Controller", "Payroll Specialist", "Accounts Payable Clerk"},
	"Marketing":   {"Marketing Manager", "Content Strategist", "Product Marketing Manager", "Brand Designer", "SEO Specialist"},
	"Support":     {"Support Engineer", "Customer Success Manager", "Support Team Lead", "Technical Writer", "Support Specialist"},
}

var genericTitles = []string{"Analyst", "Specialist", "Coordinator", "Manager", "Associate", "Team Lead"}

var groupNames = []string{
	"All Staff", "VPN Users", "Wiki Editors", "Build Admins", "Finance Approvers", "On-Call",
	"Marketing Leads", "Support Tier 2", "Office Berlin", "Office Boston", "Release Managers",
	"Security Champions", "Travel Bookers", "Hiring Committee", "Data Access", "Sales EMEA",
}

// Generate writes the directory described by opts to w as LDIF, streaming:
// the base entry (dcObject/organization), the OUs (organizationalUnit),
// ou=Groups, the users (inetOrgPerson) and the groups (groupOfNames).
// Memory use does not grow with opts.Users. It returns an error for bad
// options or when writing to w fails.
func Generate(w io.Writer, opts Options) error {
	g, err := newGenerator(w, opts)
	if err != nil {
		return err
	}
	g.run()
	if g.err != nil {
		return fmt.Errorf("demo: write: %w", g.err)
	}
	if err := g.w.Flush(); err != nil {
		return fmt.Errorf("demo: write: %w", err)
	}
	return nil
}

type generator struct {
	w    *bufio.Writer
	err  error
	opts Options
	base string   // base DN
	ous  []string // OU names
	ouDN []string // escaped DN of each OU
	buf  []byte   // scratch
}

func newGenerator(w io.Writer, opts Options) (*generator, error) {
	if opts.BaseDN == "" {
		opts.BaseDN = BaseDN
	}
	if len(opts.OUs) == 0 {
		opts.OUs = DefaultOUs
	}
	if opts.MembersPerGroup == 0 {
		opts.MembersPerGroup = DefaultMembersPerGroup
	}
	switch {
	case opts.Users < 0, opts.Groups < 0, opts.MembersPerGroup < 0:
		return nil, errors.New("demo: negative count in options")
	case opts.Groups > 0 && opts.Users == 0:
		return nil, errors.New("demo: groups need at least one user (groupOfNames requires a member)")
	}
	if _, _, err := firstRDN(opts.BaseDN); err != nil {
		return nil, err
	}
	g := &generator{w: bufio.NewWriterSize(w, 256<<10), opts: opts, base: opts.BaseDN, ous: opts.OUs}
	seen := map[string]bool{"groups": true}
	for _, ou := range opts.OUs {
		if ou == "" || seen[strings.ToLower(ou)] {
			return nil, fmt.Errorf("demo: OU name %q is empty, reserved or repeated", ou)
		}
		seen[strings.ToLower(ou)] = true
		g.ouDN = append(g.ouDN, "ou="+escapeDN(ou)+","+g.base)
	}
	return g, nil
}

// firstRDN splits the first RDN of dn into its attribute type (lower case)
// and unescaped value.
func firstRDN(dn string) (attr, value string, err error) {
	eq := strings.IndexByte(dn, '=')
	if eq <= 0 {
		return "", "", fmt.Errorf("demo: base DN %q is not a DN", dn)
	}
	attr = strings.ToLower(strings.TrimSpace(dn[:eq]))
	var v strings.Builder
	for i := eq + 1; i < len(dn); i++ {
		c := dn[i]
		if c == '\\' && i+1 < len(dn) {
			i++
			v.WriteByte(dn[i])
			continue
		}
		if c == ',' || c == '+' {
			break
		}
		v.WriteByte(c)
	}
	switch attr {
	case "dc", "o", "ou":
		return attr, v.String(), nil
	}
	return "", "", fmt.Errorf("demo: base DN %q must start with dc=, o= or ou=", dn)
}

// Entropy streams, so that each kind of choice is independent.
const (
	streamUser = iota + 1
	streamGroup
	streamUUID
	streamMember
)

// mix is splitmix64 over (seed, stream, i): a fixed, portable hash, so the
// output never depends on math/rand's algorithms.
func mix(seed int64, stream, i uint64) uint64 {
	z := uint64(seed) + stream*0x9e3779b97f4a7c15 + (i+1)*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (g *generator) run() {
	attr, value, _ := firstRDN(g.base)
	var n uint64 // entry number, for UUIDs
	// No "version: 1" line: slapadd refuses it, and slapcat never writes it.
	g.comment("syncguard demo directory, generated by guard/demo.Generate")
	g.blank()

	g.dn(g.base)
	switch attr {
	case "dc":
		g.objectClasses("top", "dcObject", "organization")
		g.line("dc", value)
		g.line("o", "Corp Example")
	case "o":
		g.objectClasses("top", "organization")
		g.line("o", value)
	case "ou":
		g.objectClasses("top", "organizationalUnit")
		g.line("ou", value)
	}
	g.uuid(&n)
	g.blank()

	for i, ou := range g.ous {
		g.dn(g.ouDN[i])
		g.objectClasses("top", "organizationalUnit")
		g.line("ou", ou)
		g.line("description", ou+" department")
		g.uuid(&n)
		g.blank()
	}
	groupsDN := "ou=Groups," + g.base
	g.dn(groupsDN)
	g.objectClasses("top", "organizationalUnit")
	g.line("ou", "Groups")
	g.line("description", "Groups")
	g.uuid(&n)
	g.blank()

	for i := 0; i < g.opts.Users && g.err == nil; i++ {
		u := g.user(i)
		g.dn(u.dn)
		g.objectClasses("top", "person", "organizationalPerson", "inetOrgPerson")
		g.line("uid", u.uid)
		g.line("cn", u.first+" "+u.last)
		g.line("sn", u.last)
		g.line("givenName", u.first)
		g.line("displayName", u.first+" "+u.last)
		g.line("mail", u.mail)
		g.line("title", u.title)
		g.line("departmentNumber", u.ou)
		g.line("employeeNumber", strconv.Itoa(100000+i))
		g.line("telephoneNumber", u.phone)
		g.uuid(&n)
		g.blank()
	}

	members := min(g.opts.MembersPerGroup, g.opts.Users)
	var picked []int
	for i := 0; i < g.opts.Groups && g.err == nil; i++ {
		name := groupNames[i%len(groupNames)]
		if i >= len(groupNames) {
			name += " " + strconv.Itoa(i/len(groupNames)+1)
		}
		g.dn("cn=" + escapeDN(name) + "," + groupsDN)
		g.objectClasses("top", "groupOfNames")
		g.line("cn", name)
		g.line("description", "Members of "+name)
		picked = pick(picked[:0], g.opts.Seed, uint64(i), members, g.opts.Users)
		for _, m := range picked {
			g.line("member", g.user(m).dn)
		}
		g.uuid(&n)
		g.blank()
	}
}

type user struct {
	first, last, uid, ou, dn, mail, title, phone string
}

// user returns user i; it depends only on the options and i, so groups can
// name members without keeping users in memory.
func (g *generator) user(i int) user {
	h := mix(g.opts.Seed, streamUser, uint64(i))
	u := user{
		first: firstNames[h%uint64(len(firstNames))],
		last:  lastNames[(h>>16)%uint64(len(lastNames))],
	}
	k := i % len(g.ous)
	u.ou = g.ous[k]
	u.uid = strings.ToLower(u.first[:1]+u.last) + strconv.Itoa(1000+i)
	u.dn = "uid=" + u.uid + "," + g.ouDN[k]
	u.mail = strings.ToLower(u.first) + "." + strings.ToLower(u.last) + "." + strconv.Itoa(1000+i) + "@corp.example"
	titles := titlesByOU[u.ou]
	if titles == nil {
		titles = genericTitles
	}
	u.title = titles[(h>>32)%uint64(len(titles))]
	u.phone = fmt.Sprintf("+1 555 %03d %04d", (h>>40)%1000, i%10000)
	return u
}

// pick appends k distinct user indexes in [0, n) for group, in increasing
// order (Floyd's algorithm).
func pick(dst []int, seed int64, group uint64, k, n int) []int {
	if k >= n {
		for j := range n {
			dst = append(dst, j)
		}
		return dst
	}
	set := make(map[int]bool, k)
	for j := n - k; j < n; j++ {
		t := int(mix(seed, streamMember, group<<32|uint64(j)) % uint64(j+1))
		if set[t] {
			t = j
		}
		set[t] = true
		dst = append(dst, t)
	}
	slices.Sort(dst)
	return dst
}

func (g *generator) uuid(n *uint64) {
	if !g.opts.UUIDs {
		*n++
		return
	}
	a := mix(g.opts.Seed, streamUUID, 2**n)
	b := mix(g.opts.Seed, streamUUID, 2**n+1)
	*n++
	var raw [16]byte
	for i := range 8 {
		raw[i] = byte(a >> (56 - 8*i))
		raw[8+i] = byte(b >> (56 - 8*i))
	}
	raw[6] = raw[6]&0x0f | 0x40 // version 4
	raw[8] = raw[8]&0x3f | 0x80 // RFC 4122 variant
	const hex = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hex[c>>4], hex[c&15]
		j += 2
	}
	g.line("entryUUID", string(s[:]))
}

func (g *generator) dn(dn string) { g.line("dn", dn) }

func (g *generator) objectClasses(ocs ...string) {
	for _, oc := range ocs {
		g.line("objectClass", oc)
	}
}

func (g *generator) comment(s string) {
	g.write("# " + s + "\n")
}

func (g *generator) blank() { g.write("\n") }

func (g *generator) write(s string) {
	if g.err == nil {
		_, g.err = g.w.WriteString(s)
	}
}

// line writes "name: value", or "name:: base64" when value is not an LDIF
// SAFE-STRING, folded at 76 columns like slapcat output.
func (g *generator) line(name, value string) {
	b := append(g.buf[:0], name...)
	if safe(value) {
		b = append(b, ": "...)
		b = append(b, value...)
	} else {
		b = append(b, ":: "...)
		b = base64.StdEncoding.AppendEncode(b, []byte(value))
	}
	g.buf = b
	if g.err != nil {
		return
	}
	for len(b) > 76 {
		g.w.Write(b[:76])
		g.w.WriteString("\n ")
		b = b[76:]
	}
	g.w.Write(b)
	_, g.err = g.w.WriteString("\n")
}

// safe reports whether v can be written as a plain LDIF value (RFC 2849
// SAFE-STRING, and no trailing space).
func safe(v string) bool {
	if v == "" {
		return true
	}
	if c := v[0]; c == ' ' || c == ':' || c == '<' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\n' || c == '\r' || c >= 0x80 {
			return false
		}
	}
	return true
}

// escapeDN escapes an attribute value for use in a DN (RFC 4514).
func escapeDN(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=',
			c == '#' && i == 0,
			c == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// OUs returns the LDIF of nested organizational units below base, one path
// per argument: "Regions/EMEA/Paris" makes ou=Regions, ou=EMEA below it and
// ou=Paris below that (each once, parents first). Appended to what Generate
// writes, it gives the scope picker a deep or a wide tree to browse.
func OUs(base string, paths ...string) []byte {
	var b strings.Builder
	seen := map[string]bool{}
	for _, p := range paths {
		dn := base
		for _, name := range strings.Split(p, "/") {
			dn = "ou=" + escapeDN(name) + "," + dn
			if seen[dn] {
				continue
			}
			seen[dn] = true
			fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: %s\n\n", dn, name)
		}
	}
	return []byte(b.String())
}

// Tree is a directory with a deep and a wide tree of OUs, for tests of the
// scope picker: 40 users in ou=Sales and ou=Engineering (20 each), two
// groups, a branch three OUs deep (Regions/EMEA/Paris, Regions/EMEA/Berlin,
// Regions/APAC) and 600 OUs in one level (Branches/Branch 000 to 599): more
// than a server's usual size limit of 500.
func Tree() []byte {
	var b strings.Builder
	if err := Generate(&b, Options{OUs: []string{"Sales", "Engineering"}, Users: 40, Groups: 2, MembersPerGroup: 4,
		Seed: 7, UUIDs: true}); err != nil {
		panic(err) // fixed, valid options
	}
	paths := []string{"Regions/EMEA/Paris", "Regions/EMEA/Berlin", "Regions/APAC"}
	for i := range 600 {
		paths = append(paths, fmt.Sprintf("Branches/Branch %03d", i))
	}
	b.Write(OUs(BaseDN, paths...))
	return []byte(b.String())
}
