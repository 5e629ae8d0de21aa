package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/demo"
	_ "github.com/syncguard/syncguard/store" // registers the sqlite driver used by dumpDB
)

// The test directory: testUsers users spread over testOUs, testGroups groups.
const (
	testBase   = "dc=corp,dc=example"
	testUsers  = 3000
	testGroups = 20
	testTotal  = testUsers + testGroups
	// removedOU holds testUsers/len(testOUs) users; removing it from the
	// LDIF makes 750 deletions, over the default threshold of 500.
	removedOU    = "Sales"
	removedUsers = testUsers / 4
)

var testOUs = []string{"Sales", "Engineering", "Finance", "Support"}

// result is what one run of the command line produced.
type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// harness runs the command line in-process, as main does, on a database of
// its own in a temporary directory.
type harness struct {
	t   *testing.T
	dir string
	db  string
	// env is the environment run sees; SYNCGUARD_DB is always set so that no
	// test ever touches ./syncguard.db.
	env map[string]string
	// transcript collects every output, for checks that something never
	// appears in any of them.
	transcript strings.Builder
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, db: filepath.Join(dir, "syncguard.db")}
	h.env = map[string]string{"SYNCGUARD_DB": h.db}
	return h
}

// path returns a file name in the harness's directory.
func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

// runIn runs syncguard with args and stdin, and returns its exit code and
// outputs.
func (h *harness) runIn(stdin string, args ...string) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	env := maps.Clone(h.env)
	start := time.Now()
	err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	code := exitCode(err, &stderr)
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	fmt.Fprintf(&h.transcript, "$ syncguard %s\n%s\n", strings.Join(args, " "), r)
	return r
}

// run runs syncguard with args and an empty stdin.
func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.runIn("", args...)
}

// want runs syncguard and fails the test unless it exits with code.
func (h *harness) want(code int, args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != code {
		h.t.Fatalf("syncguard %s: %s\nwant exit %d", strings.Join(args, " "), r, code)
	}
	return r
}

// ok runs syncguard and fails the test unless it exits 0.
func (h *harness) ok(args ...string) result {
	h.t.Helper()
	return h.want(0, args...)
}

// json runs syncguard, which must exit 0, and decodes its output into v.
func (h *harness) json(v any, args ...string) {
	h.t.Helper()
	r := h.ok(args...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		h.t.Fatalf("syncguard %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

// status returns status --json of a configuration.
func (h *harness) status(name string) statusOut {
	h.t.Helper()
	var s statusOut
	h.json(&s, "status", name, "--json")
	return s
}

// objects returns objects --json of a configuration.
func (h *harness) objects(name string) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	h.json(&out, "objects", name, "--json")
	return out
}

// logs returns logs --json of a configuration with extra flags.
func (h *harness) logs(name string, flags ...string) []logOut {
	h.t.Helper()
	var out []logOut
	h.json(&out, append([]string{"logs", name, "--json"}, flags...)...)
	return out
}

// addCorp adds the configuration "corp" on the LDIF file ldif, with extra flags.
func (h *harness) addCorp(ldif string, flags ...string) {
	h.t.Helper()
	h.ok(append([]string{"config", "add", "corp", "--source", "ldif:" + ldif, "--base-dn", testBase}, flags...)...)
}

// The JSON of status, its last cycle and logs, read back through the
// command's own types: the tests check their keys on the raw JSON
// (requireKeys), so a renamed key still fails.
type (
	statusOut = statusJSON
	cycleOut  = cycleJSON
	logOut    = logJSON
)

type jsonObject = map[string]any

// requireKeys fails the test unless obj has every key.
func requireKeys(t *testing.T, what string, obj jsonObject, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s: no key %q in %v", what, k, slices.Sorted(maps.Keys(obj)))
		}
	}
}

// writeLDIF generates the test directory into a file of dir and returns its path.
func writeLDIF(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "corp.ldif")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := demo.Options{BaseDN: testBase, OUs: testOUs, Users: testUsers, Groups: testGroups, Seed: 7, UUIDs: true}
	if err := demo.Generate(f, opts); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeLDIFWithout copies the LDIF at src without the entries at or below
// ou=<ou>,testBase (as if the OU had been deleted or moved out of the
// export), and returns the new file's path.
func writeLDIFWithout(t *testing.T, src, ou string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	suffix := strings.ToLower("ou=" + ou + "," + testBase)
	var out strings.Builder
	for rec := range strings.SplitSeq(string(b), "\n\n") {
		// Unfold the record to read its DN.
		unfolded := strings.ReplaceAll(rec, "\n ", "")
		dn := ""
		for line := range strings.SplitSeq(unfolded, "\n") {
			if v, ok := strings.CutPrefix(line, "dn: "); ok {
				dn = strings.ToLower(v)
				break
			}
		}
		if dn == suffix || strings.HasSuffix(dn, ","+suffix) {
			continue
		}
		out.WriteString(rec)
		out.WriteString("\n\n")
	}
	path := strings.TrimSuffix(src, ".ldif") + "-without-" + strings.ToLower(ou) + ".ldif"
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// dumpDB returns the whole content of the database at path as text, to
// check that a command changed nothing.
func dumpDB(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	var b strings.Builder
	for _, table := range tables {
		fmt.Fprintf(&b, "== %s\n", table)
		rows, err := db.Query(`SELECT * FROM "` + table + `" ORDER BY rowid`)
		if err != nil {
			// WITHOUT ROWID tables: whatever order the primary key gives.
			if rows, err = db.Query(`SELECT * FROM "` + table + `"`); err != nil {
				t.Fatal(err)
			}
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}

func TestHelp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, cmd := range commands() {
		for _, flag := range []string{"--help", "-h"} {
			args := append(strings.Fields(cmd.name), flag)
			r := h.run(args...)
			if r.code != 0 {
				t.Errorf("syncguard %s: %s\nwant exit 0", strings.Join(args, " "), r)
				continue
			}
			if want := "Usage: syncguard " + cmd.name; !strings.HasPrefix(r.stdout, want) {
				t.Errorf("syncguard %s: stdout = %q, want it to start with %q", strings.Join(args, " "), r.stdout, want)
			}
			if n := strings.Count(r.stdout, "Usage:"); n != 1 {
				t.Errorf("syncguard %s: the usage is printed %d times", strings.Join(args, " "), n)
			}
			if !strings.Contains(r.stdout, "-db") {
				t.Errorf("syncguard %s: usage does not list the global flags:\n%s", strings.Join(args, " "), r.stdout)
			}
			if r.stderr != "" {
				t.Errorf("syncguard %s: stderr = %q, want nothing", strings.Join(args, " "), r.stderr)
			}
		}
	}
	// The command's own flags are listed.
	for args, want := range map[string]string{
		"config add --help": "-threshold",
		"logs --help":       "StagedDelete",
		"user add --help":   "-role",
	} {
		if r := h.run(strings.Fields(args)...); !strings.Contains(r.stdout, want) {
			t.Errorf("syncguard %s: output lacks %q:\n%s", args, want, r.stdout)
		}
	}
	// The program's usage lists every command.
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		r := h.run(args...)
		if r.code != 0 {
			t.Errorf("syncguard %s: %s\nwant exit 0", strings.Join(args, " "), r)
		}
		for _, cmd := range commands() {
			if !strings.Contains(r.stdout, cmd.name) {
				t.Errorf("syncguard %s: usage does not list %q", strings.Join(args, " "), cmd.name)
			}
		}
	}
	// Without a command: usage, and the exit code of bad usage.
	if r := h.run(); r.code != exitUsage || !strings.Contains(r.stdout+r.stderr, "Usage: syncguard") {
		t.Errorf("syncguard: %s\nwant exit 2 with the usage", r)
	}
	// Asking for help never creates the database.
	if _, err := os.Stat(h.db); !os.IsNotExist(err) {
		t.Errorf("help created the database %s (stat: %v)", h.db, err)
	}
}

func TestBadUsage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ldif := writeLDIF(t, h.dir)
	h.addCorp(ldif, "--email", "admin@corp.example")
	h.want(0, "sync", "corp")
	before := dumpDB(t, h.db)

	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"config without subcommand", []string{"config"}, "config needs a subcommand: add, set, show, list"},
		{"user without subcommand", []string{"user"}, "user needs a subcommand: add"},
		{"unknown config subcommand", []string{"config", "rename", "corp"}, "config needs a subcommand"},
		{"config delete without --yes", []string{"config", "delete", "corp"}, "add --yes to confirm"},
		{"unknown flag", []string{"status", "corp", "--frob"}, "flag provided but not defined: -frob"},
		{"unknown global flag", []string{"--frob", "status", "corp"}, "flag provided but not defined: -frob"},

		{"sync without NAME", []string{"sync"}, "sync: needs exactly one configuration NAME"},
		{"sync with two NAMEs", []string{"sync", "corp", "other"}, "sync: needs exactly one configuration NAME"},
		{"status without NAME", []string{"status", "--json"}, "status: needs exactly one configuration NAME"},
		{"logs without NAME", []string{"logs"}, "logs: needs exactly one configuration NAME"},
		{"objects without NAME", []string{"objects", "--json"}, "objects: needs exactly one configuration NAME"},
		{"allow-deletes without NAME", []string{"allow-deletes", "--yes"}, "allow-deletes: needs exactly one configuration NAME"},
		{"restart without NAME", []string{"restart", "--yes"}, "restart: needs exactly one configuration NAME"},
		{"config show without NAME", []string{"config", "show"}, "config show: needs exactly one configuration NAME"},
		{"config set without NAME", []string{"config", "set", "--threshold", "10"}, "config set: needs exactly one configuration NAME"},
		{"config add without NAME", []string{"config", "add", "--source", "ldif:" + ldif, "--base-dn", testBase}, "config add: needs exactly one configuration NAME"},
		{"config list with NAME", []string{"config", "list", "corp"}, "config list: takes no arguments"},
		{"outbox with NAME", []string{"outbox", "corp"}, "outbox: takes no arguments"},
		{"user add without NAME", []string{"user", "add", "--role", "admin"}, "user add: needs exactly one user NAME"},

		{"config add without source", []string{"config", "add", "other", "--base-dn", testBase}, "--source is required"},
		{"config add bad source", []string{"config", "add", "other", "--source", "ftp://x", "--base-dn", testBase}, "neither ldif:PATH nor an ldap://"},
		{"config add ldap without base DN", []string{"config", "add", "other", "--source", "ldap://127.0.0.1:389"}, "needs a base DN"},
		{"config add scope outside base", []string{"config", "add", "other", "--source", "ldif:" + ldif, "--base-dn", testBase, "--scope", "ou=X,dc=other"}, "is not under the base DN"},
		{"threshold abc", []string{"config", "add", "other", "--source", "ldif:" + ldif, "--base-dn", testBase, "--threshold", "abc"}, `--threshold: "abc" is not a whole number`},
		{"threshold 0", []string{"config", "add", "other", "--source", "ldif:" + ldif, "--base-dn", testBase, "--threshold", "0"}, "--threshold: The threshold must be at least 1."},
		{"threshold -5", []string{"config", "add", "other", "--source", "ldif:" + ldif, "--base-dn", testBase, "--threshold", "-5"}, "--threshold: The threshold must be at least 1."},
		{"threshold 1e9", []string{"config", "add", "other", "--source", "ldif:" + ldif, "--base-dn", testBase, "--threshold", "1e9"}, `--threshold: "1e9" is not a whole number`},
		{"threshold too large", []string{"config", "add", "other", "--source", "ldif:" + ldif, "--base-dn", testBase, "--threshold", "1000000000"}, "--threshold: 1000000000 is too large"},
		{"set threshold abc", []string{"config", "set", "corp", "--threshold", "abc"}, `--threshold: "abc" is not a whole number`},
		{"set threshold 0", []string{"config", "set", "corp", "--threshold", "0"}, "--threshold: The threshold must be at least 1."},
		{"set threshold -5", []string{"config", "set", "corp", "--threshold=-5"}, "--threshold: The threshold must be at least 1."},
		{"set threshold 1e9", []string{"config", "set", "corp", "--threshold", "1e9"}, `--threshold: "1e9" is not a whole number`},
		{"email not an address", []string{"config", "add", "other", "--source", "ldif:" + ldif, "--base-dn", testBase, "--email", "not-an-address"}, `--email: "not-an-address" is not an email address`},
		{"set email not an address", []string{"config", "set", "corp", "--email", "not-an-address"}, `--email: "not-an-address" is not an email address`},
		{"set email with a name", []string{"config", "set", "corp", "--email", "Admin <admin@corp.example>"}, "is not an email address"},
		{"set email and a good threshold", []string{"config", "set", "corp", "--threshold", "10", "--email", "nope"}, "--email"},
		{"set interval 0", []string{"config", "set", "corp", "--interval", "0s"}, "--interval: must be between"},
		{"set interval abc", []string{"config", "set", "corp", "--interval", "abc"}, "invalid value \"abc\" for flag -interval"},
		{"set prevent maybe", []string{"config", "set", "corp", "--prevent=maybe"}, "invalid boolean value \"maybe\" for -prevent"},
		{"smtp-tls bogus before the command", []string{"--smtp-tls", "bogus", "sync", "corp"}, `invalid TLS mode "bogus"`},
		{"smtp-tls bogus after the command", []string{"sync", "corp", "--smtp-tls", "bogus"}, `invalid TLS mode "bogus"`},
		{"smtp-port abc", []string{"sync", "corp", "--smtp-port", "abc"}, "not a port number"},
		{"smtp-port 0", []string{"--smtp-port", "0", "sync", "corp"}, "not a port number"},
		{"logs action Bogus", []string{"logs", "corp", "--action", "Bogus"}, `--action: "Bogus" is not one of Create, Update, Delete, StagedDelete`},
		{"logs status Nope", []string{"logs", "corp", "--status", "Nope"}, `--status: "Nope" is not one of Success, Failure, Skipped, Staged`},
		{"logs cycle abc", []string{"logs", "corp", "--cycle", "abc"}, `invalid value "abc" for flag -cycle`},
		{"logs cycle -1", []string{"logs", "corp", "--cycle", "-1"}, "--cycle: must be a cycle number"},
		{"logs limit 0", []string{"logs", "corp", "--limit", "0"}, "--limit: must be from 1 to 100000"},
		{"user add bad role", []string{"user", "add", "alice", "--role", "root"}, "--role must be admin or viewer"},
		{"user add no role", []string{"user", "add", "alice"}, "--role must be admin or viewer"},
	}
	for _, tt := range tests {
		r := h.run(tt.args...)
		if r.code != exitUsage {
			t.Errorf("%s: syncguard %s: %s\nwant exit 2", tt.name, strings.Join(tt.args, " "), r)
			continue
		}
		if !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: stderr = %q, want it to contain %q", tt.name, r.stderr, tt.want)
		}
		if !strings.HasPrefix(r.stderr, "syncguard: ") || !strings.Contains(r.stderr, "Run 'syncguard help' for usage.") {
			t.Errorf("%s: stderr = %q, want syncguard: <message> and a pointer to the help", tt.name, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%s: stdout = %q, want nothing", tt.name, r.stdout)
		}
	}
	if after := dumpDB(t, h.db); after != before {
		t.Errorf("bad usage changed the database:\n%s", firstDiff(before, after))
	}
	// Nothing was added, and corp kept its settings.
	var list []jsonObject
	h.json(&list, "config", "list", "--json")
	if len(list) != 1 || list[0]["name"] != "corp" || list[0]["threshold"] != float64(500) || list[0]["email"] != "admin@corp.example" {
		t.Errorf("config list after bad usage = %v, want only corp with threshold 500", list)
	}
}

// firstDiff shows the first line where two texts differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return "(no difference)"
}

func TestUnknownConfiguration(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, args := range [][]string{
		{"sync", "nope"}, {"status", "nope"}, {"logs", "nope"}, {"objects", "nope"},
		{"config", "show", "nope"}, {"config", "set", "nope", "--threshold", "9"},
		{"allow-deletes", "nope", "--yes"}, {"restart", "nope", "--yes"},
	} {
		r := h.want(exitError, args...)
		if want := `no configuration named "nope"`; !strings.Contains(r.stderr, want) {
			t.Errorf("syncguard %s: stderr = %q, want %q", strings.Join(args, " "), r.stderr, want)
		}
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ldif := writeLDIF(t, h.dir)
	envDB, flagDB := h.path("env.db"), h.path("flag.db")
	h.env["SYNCGUARD_DB"] = envDB

	names := func(db string) []string {
		t.Helper()
		var list []jsonObject
		h.json(&list, "--db", db, "config", "list", "--json")
		var out []string
		for _, c := range list {
			out = append(out, c["name"].(string))
		}
		return out
	}

	// SYNCGUARD_DB picks the database.
	h.ok("config", "add", "from-env", "--source", "ldif:"+ldif, "--base-dn", testBase)
	// --db overrides it, before the command or after it.
	h.ok("--db", flagDB, "config", "add", "flag-before", "--source", "ldif:"+ldif, "--base-dn", testBase)
	h.ok("config", "add", "flag-after", "--source", "ldif:"+ldif, "--base-dn", testBase, "--db", flagDB)
	h.ok("config", "add", "--db="+flagDB, "flag-between", "--source", "ldif:"+ldif, "--base-dn", testBase)

	if got, want := names(envDB), []string{"from-env"}; !slices.Equal(got, want) {
		t.Errorf("configurations in the SYNCGUARD_DB database = %v, want %v", got, want)
	}
	if got, want := names(flagDB), []string{"flag-after", "flag-before", "flag-between"}; !slices.Equal(got, want) {
		t.Errorf("configurations in the --db database = %v, want %v", got, want)
	}
	if _, err := os.Stat("syncguard.db"); err == nil {
		t.Errorf("a test wrote ./syncguard.db")
	}
	// Global flags after the command work for every command, and win over
	// flags given before it.
	h.ok("--db", envDB, "sync", "flag-after", "--db", flagDB)
	var s statusOut
	h.json(&s, "status", "--db", h.path("nowhere.db"), "flag-after", "--json", "--db", flagDB)
	if s.Status != "healthy" || s.Objects != testTotal {
		t.Errorf("status of flag-after = %q with %d objects, want healthy with %d", s.Status, s.Objects, testTotal)
	}
}
