package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/ldif"
)

func TestMarkdown(t *testing.T) {
	rep := report{
		Machine: machine{CPU: "AMD EPYC 7B13", Cores: 2, Go: "go1.26.8", OS: "Debian GNU/Linux 12 (bookworm), linux 6.1.0", Arch: "amd64"},
		Date:    time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		Sections: []section{{Title: "LDIF", About: "100,000 users.", Rows: []row{
			{What: "First cycle", Samples: []sample{{12 * time.Second, 400 << 10}, {10 * time.Second, 300 << 10}, {11 * time.Second, 350 << 10}},
				Target: "≤ 20 s", Met: "yes"},
			{What: "Parse only", Samples: []sample{{800 * time.Millisecond, 0}, {900 * time.Millisecond, 0}, {700 * time.Millisecond, 0}}},
			{What: "Not measured"},
			{What: "Load", Value: "100 req/s"},
		}}},
	}
	got := rep.markdown()
	want := "Measured by `make bench` (cmd/syncbench) on 2026-11-24: AMD EPYC 7B13, 2 cores, Debian GNU/Linux 12 (bookworm), linux 6.1.0, go1.26.8 amd64.\n" +
		"\n**LDIF.** 100,000 users.\n\n" +
		"| Measurement | Wall time | Peak RSS | Target | Met |\n" +
		"|---|--:|--:|---|:-:|\n" +
		"| First cycle | 11.0 s (10.0 s–12.0 s) | 350 MiB | ≤ 20 s | yes |\n" +
		"| Parse only | 800 ms (700 ms–900 ms) | – | – |  |\n" +
		"| Not measured | – | – | – |  |\n" +
		"| Load | 100 req/s | – | – |  |\n"
	if got != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{thousands(0), "0"},
		{thousands(999), "999"},
		{thousands(1000), "1,000"},
		{thousands(25000), "25,000"},
		{thousands(100200), "100,200"},
		{thousands(1234567), "1,234,567"},
		{thousands(-1234), "-1,234"},
		{formatDuration(42 * time.Millisecond), "42 ms"},
		{formatDuration(1234 * time.Millisecond), "1.23 s"},
		{formatDuration(12340 * time.Millisecond), "12.3 s"},
		{formatKB(0), "–"},
		{formatKB(1536), "2 MiB"},
		{formatKB(350 << 10), "350 MiB"},
		{formatBytes(512), "512 bytes"},
		{formatBytes(3 << 10), "3 KiB"},
		{formatBytes(47<<20 + 700<<10), "48 MiB"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median of 3, 1, 2 = %v, want 2", got)
	}
	if got := median([]int64{4, 1, 3, 2}); got != 2 {
		t.Errorf("median of 4, 1, 3, 2 = %v, want 2 (mean of 2 and 3, rounded down)", got)
	}
	if got := median([]int64{7}); got != 7 {
		t.Errorf("median of 7 = %v", got)
	}
}

func TestMachine(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC   7B13 64-Core Processor\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13 64-Core Processor\n"
	if got, want := cpuModel([]byte(cpuinfo)), "AMD EPYC 7B13 64-Core Processor"; got != want {
		t.Errorf("cpuModel = %q, want %q", got, want)
	}
	arm := "processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd0c\n"
	if got, want := cpuModel([]byte(arm)), "0xd0c"; got != want {
		t.Errorf("cpuModel on arm64 = %q, want %q", got, want)
	}
	if got := cpuModel(nil); got != "" {
		t.Errorf("cpuModel of nothing = %q", got)
	}
	osr := "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"
	if got, want := osRelease([]byte(osr)), "Debian GNU/Linux 12 (bookworm)"; got != want {
		t.Errorf("osRelease = %q, want %q", got, want)
	}
	if got, want := osRelease([]byte("PRETTY_NAME=Alpine\n")), "Alpine"; got != want {
		t.Errorf("osRelease unquoted = %q, want %q", got, want)
	}
	m := describeMachine()
	if m.Cores < 1 || !strings.HasPrefix(m.Go, "go") || m.CPU == "" {
		t.Errorf("describeMachine = %+v", m)
	}
}

func TestReplaceSection(t *testing.T) {
	const table = "| a | b |\n|---|---|\n| 1 | 2 |\n"
	for _, tt := range []struct {
		name, doc, want string
		ok              bool
	}{
		{
			name: "empty section",
			doc:  "# syncguard\n\n## Performance\n\n<!-- bench:start -->\n<!-- bench:end -->\n\n## License\n",
			want: "# syncguard\n\n## Performance\n\n<!-- bench:start -->\n| a | b |\n|---|---|\n| 1 | 2 |\n<!-- bench:end -->\n\n## License\n",
			ok:   true,
		},
		{
			name: "old figures replaced",
			doc:  "intro\n<!-- bench:start -->\nold table\nold line\n<!-- bench:end -->\noutro",
			want: "intro\n<!-- bench:start -->\n| a | b |\n|---|---|\n| 1 | 2 |\n<!-- bench:end -->\noutro",
			ok:   true,
		},
		{
			name: "markers on one line",
			doc:  "x <!-- bench:start --><!-- bench:end --> y",
			want: "x <!-- bench:start -->\n| a | b |\n|---|---|\n| 1 | 2 |\n<!-- bench:end --> y",
			ok:   true,
		},
		{name: "no markers", doc: "# syncguard\n", want: "# syncguard\n"},
		{name: "no end marker", doc: "a\n<!-- bench:start -->\nb\n", want: "a\n<!-- bench:start -->\nb\n"},
		{name: "no start marker", doc: "a\n<!-- bench:end -->\n", want: "a\n<!-- bench:end -->\n"},
		{name: "markers reversed", doc: "<!-- bench:end -->\n<!-- bench:start -->\n", want: "<!-- bench:end -->\n<!-- bench:start -->\n"},
	} {
		got, ok := replaceSection(tt.doc, table)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: replaceSection = %q, %v\nwant %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
		// Replacing again gives the same document.
		if again, _ := replaceSection(got, table); again != got {
			t.Errorf("%s: not idempotent:\n%q\n%q", tt.name, got, again)
		}
	}
}

func TestUpdateReadme(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "README.md")
	doc := "# syncguard\n<!-- bench:start -->\nold\n<!-- bench:end -->\n"
	if err := os.WriteFile(path, []byte(doc), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := updateReadme(path, "new\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if got, want := string(b), "# syncguard\n<!-- bench:start -->\nnew\n<!-- bench:end -->\n"; got != want {
		t.Errorf("README = %q, want %q", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640 kept", fi.Mode().Perm())
	}

	// Without the markers, the file is left alone.
	plain := filepath.Join(dir, "PLAIN.md")
	if err := os.WriteFile(plain, []byte("# nothing here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(plain)
	if err := updateReadme(plain, "new\n"); !errors.Is(err, errNoMarkers) {
		t.Errorf("updateReadme without markers = %v, want errNoMarkers", err)
	}
	after, _ := os.Stat(plain)
	if b, _ := os.ReadFile(plain); string(b) != "# nothing here\n" || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("a file without markers was changed: %q", b)
	}
	if err := updateReadme(filepath.Join(dir, "missing.md"), "x"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("updateReadme of a missing file = %v, want os.ErrNotExist", err)
	}
}

func TestWithoutSubtree(t *testing.T) {
	in := "# comment\n\n" +
		"dn: dc=corp,dc=example\nobjectClass: top\n\n" +
		"dn: ou=Sales,dc=corp,dc=example\nou: Sales\n\n" +
		"dn: uid=a,ou=Sales,dc=corp,dc=example\nuid: a\n\n" +
		// A DN folded over two lines.
		"dn: uid=b,ou=Sa\n les,dc=corp,dc=example\nuid: b\n\n" +
		// A base64 DN: uid=c,ou=Sales,dc=corp,dc=example
		"dn:: dWlkPWMsb3U9U2FsZXMsZGM9Y29ycCxkYz1leGFtcGxl\nuid: c\n\n" +
		// Upper case, and CRLF line ends.
		"dn: UID=d,OU=SALES,DC=CORP,DC=EXAMPLE\r\nuid: d\r\n\r\n" +
		"dn: uid=e,ou=Salesforce,dc=corp,dc=example\nuid: e\n\n" +
		"dn: cn=All,ou=Groups,dc=corp,dc=example\nmember: uid=a,ou=Sales,dc=corp,dc=example\n"
	var out bytes.Buffer
	n, err := withoutSubtree(&out, strings.NewReader(in), "ou=Sales,dc=corp,dc=example")
	if err != nil {
		t.Fatal(err)
	}
	want := "# comment\n\n" +
		"dn: dc=corp,dc=example\nobjectClass: top\n\n" +
		"dn: uid=e,ou=Salesforce,dc=corp,dc=example\nuid: e\n\n" +
		"dn: cn=All,ou=Groups,dc=corp,dc=example\nmember: uid=a,ou=Sales,dc=corp,dc=example\n"
	if n != 5 || out.String() != want {
		t.Errorf("withoutSubtree dropped %d records, wrote:\n%s\nwant 5 dropped and:\n%s", n, out.String(), want)
	}
}

// TestGenerate checks the bench's data: the reduced LDIF is the full one
// without one OU's users, and both parse.
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	full, reduced := filepath.Join(dir, "full.ldif"), filepath.Join(dir, "reduced.ldif")
	opts := demo.Options{BaseDN: baseDN, OUs: ous, Users: 2000, Groups: groups(2000), Seed: seed, UUIDs: true}
	if err := generate(full, reduced, opts); err != nil {
		t.Fatal(err)
	}
	count := func(path string) (records, users int) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r := ldif.NewReader(f)
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			records++
			if len(rec.Get("uid")) > 0 {
				users++
			}
			if strings.HasSuffix(strings.ToLower(rec.DN), ",ou=sales,"+baseDN) && path == reduced {
				t.Fatalf("%s still holds %s", path, rec.DN)
			}
		}
	}
	fr, fu := count(full)
	rr, ru := count(reduced)
	if fu != 2000 || ru != 1500 || fr-rr != 501 {
		t.Errorf("full: %d records, %d users; reduced: %d records, %d users; want 2000 and 1500 users, 501 records fewer (the OU too)",
			fr, fu, rr, ru)
	}
	if got := groups(2000); got != 4 {
		t.Errorf("groups(2000) = %d, want 4", got)
	}
}

// TestRunSmall runs the whole bench on a small directory, once, and records
// the table in a README.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds syncguard and runs it; skipped with -short")
	}
	readme := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(readme, []byte("# x\n\n<!-- bench:start -->\n<!-- bench:end -->\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"-only", "ldif", "-users", "400", "-runs", "1", "-readme", readme}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"| First cycle: 401 objects created", "| No-change cycle (401 objects; ", "| No-change cycle planned in full",
		"| Quarantine of 401 ", "| Allow deletes of 401 staged", "| Parse the LDIF only", " MiB |"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
	b, _ := os.ReadFile(readme)
	if !strings.Contains(string(b), "<!-- bench:start -->\nMeasured by") || !strings.Contains(string(b), "|\n<!-- bench:end -->\n") {
		t.Errorf("README after the bench:\n%s", b)
	}
	// Bad usage.
	for _, args := range [][]string{{"-users", "5"}, {"-runs", "0"}, {"extra"}, {"-nope"}, {"-only", "ldif,nope"}} {
		if err := run(ctx, args, io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("run %v = %v, want a usage error", args, err)
		}
	}
}
