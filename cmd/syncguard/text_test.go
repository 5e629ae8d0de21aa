package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/store"
)

// ldifValue writes an attribute base64-encoded, so any byte can be in it.
func ldifValue(attr, v string) string {
	return attr + ":: " + base64.StdEncoding.EncodeToString([]byte(v)) + "\n"
}

// A display name that clears the screen and prints fake lines.
const terminalAttack = "\x1b[2J\x1b[H\x1b]0;pwned\x07syncguard: all clear\r\nFAKE LINE: 0 deletions staged\x9b31m"

// hostileLDIF is a small directory whose user "evil" carries terminal
// control sequences in its display name and cn, and in its DN.
func hostileLDIF(t *testing.T, h *harness) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("dn: " + testBase + "\nobjectClass: domain\ndc: corp\n\n")
	b.WriteString("dn: ou=Sales," + testBase + "\nobjectClass: organizationalUnit\nou: Sales\n\n")
	for i, u := range []struct{ uid, name string }{{"ann", "Ann Example"}, {"evil", terminalAttack}} {
		b.WriteString(ldifValue("dn", "uid="+u.uid+",ou=Sales,"+testBase))
		b.WriteString("objectClass: inetOrgPerson\n" + ldifValue("uid", u.uid) + ldifValue("cn", u.name) +
			ldifValue("sn", u.name) + ldifValue("displayName", u.name))
		b.WriteString(fmt.Sprintf("entryUUID: 00000000-0000-4000-8000-%012d\n\n", i+1))
	}
	path := h.path("hostile.ldif")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkPrintable fails on any control character but a line feed in out,
// and on a line of out that starts with what hostile text tried to print
// as a line of its own.
func checkPrintable(t *testing.T, what, out string) {
	t.Helper()
	for i, r := range out {
		if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
			t.Errorf("%s: control character %q at byte %d:\n%q", what, r, i, out)
			return
		}
	}
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "FAKE LINE") {
			t.Errorf("%s: directory text printed a line of its own: %q", what, line)
		}
	}
}

// Directory text is printed with its control characters escaped, by every
// command that prints it, in tables and in plain text and in errors.
func TestDirectoryTextEscapedInTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ldif := hostileLDIF(t, h)
	h.ok("config", "add", "corp", "--source", "ldif:"+ldif, "--base-dn", testBase, "--threshold", "1")
	for _, args := range [][]string{
		{"sync", "corp"}, {"objects", "corp"}, {"logs", "corp"}, {"status", "corp"},
		{"config", "show", "corp"}, {"config", "list"}, {"outbox"},
	} {
		r := h.ok(args...)
		checkPrintable(t, strings.Join(args, " "), r.stdout+r.stderr)
	}
	// The escaped text is still there to read.
	if r := h.ok("objects", "corp"); !strings.Contains(r.stdout, `\x1b[2J`) || !strings.Contains(r.stdout, "syncguard: all clear") {
		t.Errorf("objects does not show the escaped display name:\n%s", r.stdout)
	}
	// The hostile user leaves: its name is in the staged deletion's log entry.
	b, err := os.ReadFile(ldif)
	if err != nil {
		t.Fatal(err)
	}
	cut, _, _ := strings.Cut(string(b), ldifValue("dn", "uid=evil,ou=Sales,"+testBase))
	if err := os.WriteFile(ldif, []byte(cut), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.want(exitQuarantined, "sync", "corp")
	checkPrintable(t, "sync (quarantined)", r.stdout+r.stderr)
	for _, args := range [][]string{{"logs", "corp"}, {"status", "corp"}, {"outbox"}} {
		r := h.ok(args...)
		checkPrintable(t, strings.Join(args, " ")+" (quarantined)", r.stdout+r.stderr)
	}
	// An error that quotes directory text: a record cut short.
	if err := os.WriteFile(ldif, []byte(cut+ldifValue("dn", "uid=\x1b[2Jcut,ou=Sales,"+testBase)+"objectClass: inetOrgPerson\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = h.run("restart", "corp", "--yes")
	if r.code == 0 {
		t.Fatalf("a cycle over a cut LDIF succeeded: %s", r)
	}
	checkPrintable(t, "restart over a cut LDIF", r.stdout+r.stderr)
}

// A configuration name with a control character is refused; one stored by
// an older syncguard is printed escaped, on one line.
func TestConfigurationNameControlCharacters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ldif := hostileLDIF(t, h)
	h.ok("config", "add", "corp", "--source", "ldif:"+ldif, "--base-dn", testBase)
	before := dumpDB(t, h.db)
	for _, name := range []string{"bad\nname", "bad\rname", "\x1b[2Jcorp", "tab\tname", "nul\x00name", "c1\u009bname", "del\x7f"} {
		r := h.run("config", "add", name, "--source", "ldif:"+ldif, "--base-dn", testBase)
		if r.code != exitUsage || !strings.Contains(r.stderr, "control character") {
			t.Errorf("config add %q: %s\nwant exit 2 and a message about control characters", name, r)
		}
		checkPrintable(t, fmt.Sprintf("config add %q", name), r.stdout+r.stderr)
	}
	if after := dumpDB(t, h.db); after != before {
		t.Errorf("a refused name changed the database:\n%s", firstDiff(before, after))
	}

	st, err := store.Open(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	old := &store.Configuration{Name: "old\r\nFAKE LINE", Source: "ldif:" + ldif, BaseDN: testBase, Interval: time.Minute,
		Basics: store.Basics{Prevent: true, Threshold: 5}}
	if err := st.CreateConfiguration(context.Background(), old, "an older syncguard"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	r := h.ok("config", "list")
	checkPrintable(t, "config list", r.stdout)
	if lines := strings.Count(strings.TrimSpace(r.stdout), "\n") + 1; lines != 3 {
		t.Errorf("config list: %d lines, want a header and one line per configuration:\n%s", lines, r.stdout)
	}
}
