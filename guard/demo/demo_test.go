package demo

import (
	"bytes"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/ldif"
)

var update = flag.Bool("update", false, "rewrite demo.ldif from Generate(DemoOptions)")

// TestDemoLDIF checks that the embedded demo.ldif is exactly what Generate
// makes of DemoOptions. With -update it rewrites the file instead.
func TestDemoLDIF(t *testing.T) {
	var buf bytes.Buffer
	if err := Generate(&buf, DemoOptions); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("demo.ldif", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("demo.ldif rewritten; rebuild to embed it")
		return
	}
	if !bytes.Equal(LDIF, buf.Bytes()) {
		t.Fatal("demo.ldif is stale; regenerate with: go test ./guard/demo -run TestDemoLDIF -update")
	}
}

type counts struct {
	entries, users, groups, ous int
	perOU                       map[string]int
	uuids                       map[string]bool
	dns                         map[string]bool
	uids                        map[string]bool
	members                     []string
}

// parse reads LDIF with guard/ldif and checks what holds for every output
// of Generate.
func parse(t *testing.T, data []byte) counts {
	t.Helper()
	c := counts{perOU: map[string]int{}, uuids: map[string]bool{}, dns: map[string]bool{}, uids: map[string]bool{}}
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	r := ldif.NewReader(bytes.NewReader(data))
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c.entries++
		key := strings.ToLower(rec.DN)
		if c.dns[key] {
			t.Errorf("duplicate DN %q", rec.DN)
		}
		c.dns[key] = true
		for _, u := range rec.Get("entryUUID") {
			if !uuidRE.MatchString(u) {
				t.Errorf("%s: bad entryUUID %q", rec.DN, u)
			}
			if c.uuids[u] {
				t.Errorf("%s: duplicate entryUUID %q", rec.DN, u)
			}
			c.uuids[u] = true
		}
		ocs := strings.Join(rec.Get("objectClass"), " ")
		switch {
		case strings.Contains(ocs, "inetOrgPerson"):
			c.users++
			c.perOU[rec.Get("departmentNumber")[0]]++
			uid := rec.Get("uid")[0]
			if c.uids[uid] {
				t.Errorf("duplicate uid %q", uid)
			}
			c.uids[uid] = true
			for _, a := range []string{"cn", "sn", "givenName", "displayName", "mail", "title", "employeeNumber", "telephoneNumber"} {
				if v := rec.Get(a); len(v) != 1 || v[0] == "" {
					t.Errorf("%s: %s = %q", rec.DN, a, v)
				}
			}
			if !strings.HasSuffix(rec.Get("mail")[0], "@corp.example") {
				t.Errorf("%s: mail %q", rec.DN, rec.Get("mail"))
			}
		case strings.Contains(ocs, "groupOfNames"):
			c.groups++
			if len(rec.Get("member")) == 0 {
				t.Errorf("%s: no members", rec.DN)
			}
			c.members = append(c.members, rec.Get("member")...)
		case strings.Contains(ocs, "organizationalUnit"):
			c.ous++
		}
	}
	for _, m := range c.members {
		if !c.dns[strings.ToLower(m)] {
			t.Errorf("member %q is not an entry", m)
		}
	}
	return c
}

func TestDemoLDIFContents(t *testing.T) {
	c := parse(t, LDIF)
	if got, want := c.users, DemoOptions.Users; got != want {
		t.Errorf("users = %d, want %d", got, want)
	}
	if got, want := c.groups, DemoOptions.Groups; got != want {
		t.Errorf("groups = %d, want %d", got, want)
	}
	if got, want := c.ous, len(DemoOptions.OUs)+1; got != want {
		t.Errorf("OUs = %d, want %d", got, want)
	}
	if got, want := c.entries, 1+len(DemoOptions.OUs)+1+DemoOptions.Users+DemoOptions.Groups; got != want {
		t.Errorf("entries = %d, want %d", got, want)
	}
	if got, want := len(c.uuids), c.entries; got != want {
		t.Errorf("entries with entryUUID = %d, want %d", got, want)
	}
	for _, ou := range DemoOptions.OUs {
		if got, want := c.perOU[ou], DemoOptions.Users/len(DemoOptions.OUs); got != want {
			t.Errorf("users in %s = %d, want %d", ou, got, want)
		}
	}
	if !bytes.Contains(LDIF, []byte("\ndn: uid=")) || !bytes.Contains(LDIF, []byte(",ou=Sales,"+BaseDN+"\n")) {
		t.Error("demo.ldif has no users under ou=Sales")
	}
}

func TestGenerateOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"zero", Options{}},
		{"no uuids", Options{Users: 50, Groups: 3, MembersPerGroup: 5, Seed: 7}},
		{"more groups than names", Options{Users: 40, Groups: 40, MembersPerGroup: 100, UUIDs: true}},
		{"custom base and OUs", Options{BaseDN: "o=Acme Inc\\, Ltd", OUs: []string{"R&D", "Sales, EMEA", " Ops", "Zoë"}, Users: 20, Groups: 2, UUIDs: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := Generate(&a, tt.opts); err != nil {
				t.Fatal(err)
			}
			if err := Generate(&b, tt.opts); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Error("output differs between two runs with the same options")
			}
			c := parse(t, a.Bytes())
			if got, want := c.users, tt.opts.Users; got != want {
				t.Errorf("users = %d, want %d", got, want)
			}
			if got, want := c.groups, tt.opts.Groups; got != want {
				t.Errorf("groups = %d, want %d", got, want)
			}
			if tt.opts.UUIDs != (len(c.uuids) > 0) {
				t.Errorf("entryUUIDs = %d with UUIDs %v", len(c.uuids), tt.opts.UUIDs)
			}
		})
	}
}

func TestGenerateSeed(t *testing.T) {
	var a, b bytes.Buffer
	Generate(&a, Options{Users: 10, Seed: 1, UUIDs: true})
	Generate(&b, Options{Users: 10, Seed: 2, UUIDs: true})
	if bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("seeds 1 and 2 give the same output")
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, opts := range []Options{
		{Users: -1},
		{Groups: 1},
		{BaseDN: "cn=x"},
		{BaseDN: "nonsense"},
		{OUs: []string{"Groups"}},
		{OUs: []string{"A", "a"}},
	} {
		if err := Generate(io.Discard, opts); err == nil || !strings.HasPrefix(err.Error(), "demo: ") {
			t.Errorf("Generate(%+v) = %v, want a demo: error", opts, err)
		}
	}
}

// requireSlapadd returns the path of slapadd, or skips the test (fails it in CI).
func requireSlapadd(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("slapadd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/slapadd", "/usr/local/sbin/slapadd"} {
			if _, err := os.Stat(p); err == nil {
				path = p
			}
		}
	}
	if _, err := os.Stat("/etc/ldap/schema/inetorgperson.schema"); path == "" || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("slapadd and the OpenLDAP schemas are required in CI; install with: apt-get install slapd ldap-utils")
		}
		t.Skip("slapadd not found (required when CI=true); install with: apt-get install slapd ldap-utils")
	}
	return path
}

// TestSlapadd loads generated LDIF into a scratch OpenLDAP database with the
// core, cosine, inetorgperson and nis schemas: the schema and the entryUUIDs
// must be acceptable to OpenLDAP itself.
func TestSlapadd(t *testing.T) {
	slapadd := requireSlapadd(t)
	for _, tt := range []struct {
		name string
		data func() []byte
	}{
		{"demo.ldif", func() []byte { return LDIF }},
		{"custom", func() []byte {
			var b bytes.Buffer
			Generate(&b, Options{BaseDN: "o=Acme Inc", OUs: []string{"R&D", "Sales, EMEA", " Ops", "Zoë"}, Users: 20, Groups: 2, UUIDs: true})
			return b.Bytes()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			suffix := BaseDN
			if tt.name == "custom" {
				suffix = "o=Acme Inc"
			}
			conf := strings.Join([]string{
				"include /etc/ldap/schema/core.schema",
				"include /etc/ldap/schema/cosine.schema",
				"include /etc/ldap/schema/inetorgperson.schema",
				"include /etc/ldap/schema/nis.schema",
				"modulepath /usr/lib/ldap",
				"moduleload back_mdb",
				"pidfile " + filepath.Join(dir, "slapd.pid"),
				"database mdb",
				"maxsize 104857600",
				`suffix "` + suffix + `"`,
				`rootdn "cn=admin,` + suffix + `"`,
				"rootpw secret",
				"directory " + dir,
				"",
			}, "\n")
			confPath := filepath.Join(dir, "slapd.conf")
			ldifPath := filepath.Join(dir, "data.ldif")
			if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ldifPath, tt.data(), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(slapadd, "-f", confPath, "-l", ldifPath).CombinedOutput()
			if err != nil {
				t.Fatalf("slapadd: %v\n%s", err, out)
			}
		})
	}
}

func BenchmarkGenerate(b *testing.B) {
	opts := Options{Users: 100000, Groups: 100, MembersPerGroup: 500, Seed: 1, UUIDs: true}
	var n countWriter
	for b.Loop() {
		n = 0
		if err := Generate(&n, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(opts.Users), "ns/user")
}

type countWriter int

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }
