package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/syncguard/syncguard/guard/ldif"
)

// sample is one measurement: wall time and, for a child process, its peak
// resident set size in KiB (0 when unknown).
type sample struct {
	wall  time.Duration
	rssKB int64
}

// measurements collects the samples of every run.
type measurements struct {
	first, noChange, quarantine, allow, parse []sample
}

// bench runs the syncguard binary on the generated files.
type bench struct {
	bin, dir, full, reduced string
	// threshold makes the removed OU's deletions trip the guard.
	threshold int
	keep      bool // keep the databases
	logf      func(format string, a ...any)
}

// once does one run of every measurement on a fresh database.
func (b *bench) once(ctx context.Context, i int, m *measurements) error {
	db := filepath.Join(b.dir, fmt.Sprintf("run%d.db", i+1))
	defer func() {
		if b.keep {
			return
		}
		// A 100,000-user database with its log is a few hundred MB.
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(db + suffix)
		}
	}()
	steps := []struct {
		what  string
		args  []string
		code  int       // expected exit code
		into  *[]sample // nil: not measured
		check string    // expected in stdout
	}{
		{"config add", []string{"config", "add", configName, "--source", "ldif:" + b.full, "--base-dn", baseDN,
			"--threshold", strconv.Itoa(b.threshold)}, 0, nil, "added"},
		{"first cycle", []string{"sync", configName}, 0, &m.first, "Succeeded"},
		{"no-change cycle", []string{"sync", configName}, 0, &m.noChange, "created 0, updated 0, deleted 0"},
		{"config set", []string{"config", "set", configName, "--source", "ldif:" + b.reduced}, 0, nil, "updated"},
		{"quarantine", []string{"sync", configName}, 3, &m.quarantine, "Delete threshold exceeded"},
		{"allow deletes", []string{"allow-deletes", configName, "--yes"}, 0, &m.allow, "accepted"},
	}
	for _, s := range steps {
		got, out, err := b.syncguard(ctx, db, s.code, s.args...)
		if err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		if !strings.Contains(out, s.check) {
			return fmt.Errorf("%s: output lacks %q:\n%s", s.what, s.check, out)
		}
		if s.into != nil {
			*s.into = append(*s.into, got)
			b.logf("  %-16s %s  peak RSS %s", s.what, formatDuration(got.wall), formatKB(got.rssKB))
		}
	}
	p, n, err := parseOnly(b.full)
	if err != nil {
		return err
	}
	m.parse = append(m.parse, p)
	b.logf("  %-16s %s  (%d records)", "parse only", formatDuration(p.wall), n)
	return nil
}

// syncguard runs the binary on db, checks its exit code and returns the
// measurement and its standard output.
func (b *bench) syncguard(ctx context.Context, db string, wantCode int, args ...string) (sample, string, error) {
	cmd := exec.CommandContext(ctx, b.bin, append([]string{"--db", db}, args...)...)
	// Nothing of the caller's SYNCGUARD_ settings (SMTP, public URL) applies.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SYNCGUARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return sample{}, "", err
	}
	if code := cmd.ProcessState.ExitCode(); code != wantCode {
		return sample{}, "", fmt.Errorf("syncguard %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode,
			stdout.String(), stderr.String())
	}
	return sample{wall: wall, rssKB: peakRSS(cmd.ProcessState)}, stdout.String(), nil
}

// parseOnly reads the LDIF file with guard/ldif and nothing else, and
// returns the time it took and the number of records.
func parseOnly(path string) (sample, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return sample{}, 0, err
	}
	defer f.Close()
	start := time.Now()
	r := ldif.NewReader(f)
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return sample{}, n, err
		}
		n++
	}
	return sample{wall: time.Since(start)}, n, nil
}
