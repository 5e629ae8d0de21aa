package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// systemdAnalyze finds systemd-analyze, or skips the test saying what to
// install (and fails under CI).
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is missing: apt-get install systemd (make deps does)")
		}
		t.Skip("systemd-analyze is missing: apt-get install systemd (make deps does) to check the unit file")
	}
	return p
}

// unitRoot makes a root folder for systemd-analyze --root: the system's
// own units, the unit under test in /etc/systemd/system, and syncguard at
// the path its ExecStart names. It returns the root and the unit's path.
func unitRoot(t *testing.T, unit []byte) (string, string) {
	t.Helper()
	root := t.TempDir()
	system := "/usr/lib/systemd/system"
	if _, err := os.Stat(system); err != nil {
		system = "/lib/systemd/system"
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", system, filepath.Join(root, "usr/lib/systemd/system")).CombinedOutput(); err != nil {
		t.Fatalf("copy the system's units: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=(\S+)`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("the unit has no ExecStart=")
	}
	bin := filepath.Join(root, string(m[1]))
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, syncguardBinary(t), bin)
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "etc/systemd/system/syncguard.service")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	return root, path
}

// The unit file passes systemd-analyze verify (with syncguard where its
// ExecStart says), without a word of warning; its hardening keeps the
// exposure systemd-analyze security rates low. A unit with a mistake does
// not pass, so the check can fail.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	analyze := systemdAnalyze(t)
	unit, err := os.ReadFile(filepath.Join("deploy", "syncguard.service"))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(unit []byte) (string, error) {
		root, path := unitRoot(t, unit)
		out, err := exec.Command(analyze, "verify", "--root="+root, path).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(unit); err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	bad := strings.Replace(string(unit), "ProtectSystem=strict", "ProtectSytem=strict", 1)
	if out, err := verify([]byte(bad)); err == nil && out == "" {
		t.Error("systemd-analyze verify passed a unit with a misspelt key")
	}

	root, path := unitRoot(t, unit)
	out, err := exec.Command(analyze, "security", "--offline=true", "--root="+root, path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for syncguard.service: ([0-9.]+) (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security said:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: exposure %.1f %s", score, m[2])
	if score > 2.0 {
		t.Errorf("exposure %.1f: the hardening of the unit was weakened\n%s", score, out)
	}
}

// Every variable the EnvironmentFile example sets (or shows, commented
// out) is one syncguard reads, and every file the unit passes with
// LoadCredential= is one syncguard looks for.
func TestDeployFilesNameWhatSyncguardReads(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	read := map[string]bool{}
	getenv := func(k string) string {
		mu.Lock()
		read[k] = true
		mu.Unlock()
		return ""
	}
	// serve --help reads every variable of the global flags and of serve.
	if err := run(context.Background(), []string{"serve", "--help"}, getenv, strings.NewReader(""), io.Discard, io.Discard); err != nil {
		var e *exitErr
		if !errors.As(err, &e) || e.code != exitOK {
			t.Fatal(err)
		}
	}
	f, err := os.Open(filepath.Join("deploy", "syncguard.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	n := 0
	for lines.Scan() {
		name, _, ok := strings.Cut(strings.TrimLeft(lines.Text(), "#"), "=")
		if !ok || !strings.HasPrefix(name, "SYNCGUARD_") {
			continue
		}
		n++
		if !read[name] {
			t.Errorf("syncguard.env sets %s, which syncguard does not read", name)
		}
	}
	if n < 8 {
		t.Errorf("syncguard.env names %d variables", n)
	}
	unit, err := os.ReadFile(filepath.Join("deploy", "syncguard.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^#?LoadCredential=([^:]+):`).FindAllSubmatch(unit, -1) {
		switch string(m[1]) {
		case credSecretKey, credSMTPPassword, credMetricsToken:
		default:
			t.Errorf("the unit passes the credential %q, which syncguard does not look for", m[1])
		}
	}
	if !strings.Contains(string(unit), "EnvironmentFile=/etc/syncguard/syncguard.env") {
		t.Error("the unit does not read /etc/syncguard/syncguard.env")
	}
}
