package main

import (
	"bufio"
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

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/ldif"
	"github.com/syncguard/syncguard/store"
)

// sample is one measurement: wall time and, for a child process, its peak
// resident set size in KiB (0 when unknown).
type sample struct {
	wall  time.Duration
	rssKB int64
}

// bench runs the syncguard binary on generated data.
type bench struct {
	bin, dir string
	keep     bool // keep the databases
	logf     func(format string, a ...any)
}

// ldifFiles generates the LDIF of users users and the one holding only
// the base entry and the OUs, once per size.
func (b *bench) ldifFiles(users int) (full, empty string, opts demo.Options, err error) {
	opts = demo.Options{BaseDN: baseDN, OUs: ous, Users: users, Groups: groups(users), Seed: seed, UUIDs: true}
	full = filepath.Join(b.dir, fmt.Sprintf("users-%d.ldif", users))
	empty = filepath.Join(b.dir, fmt.Sprintf("users-%d-emptied.ldif", users))
	if _, err := os.Stat(empty); err == nil {
		return full, empty, opts, nil
	}
	b.logf("generating %d users and %d groups", opts.Users, opts.Groups)
	f, err := os.Create(full)
	if err != nil {
		return "", "", opts, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := demo.Generate(w, opts); err != nil {
		f.Close()
		return "", "", opts, err
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return "", "", opts, err
	}
	in, err := os.Open(full)
	if err != nil {
		return "", "", opts, err
	}
	defer in.Close()
	out, err := os.Create(empty)
	if err != nil {
		return "", "", opts, err
	}
	if _, err := onlyContainers(out, in); err != nil {
		out.Close()
		return "", "", opts, err
	}
	return full, empty, opts, out.Close()
}

// removeDB removes a database and its WAL files, unless -keep.
func (b *bench) removeDB(db string) {
	if b.keep {
		return
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(db + suffix)
	}
}

// ldif measures cycles of an LDIF of users users: first, no-change,
// parse-only, quarantine of everything and (with allow) Allow deletes.
func (b *bench) ldif(ctx context.Context, users, runs int, allow bool) (section, error) {
	full, empty, opts, err := b.ldifFiles(users)
	if err != nil {
		return section{}, err
	}
	st, err := os.Stat(full)
	if err != nil {
		return section{}, err
	}
	objects := opts.Users + opts.Groups
	// The same file under another name: a source setting the digest of
	// the last cycle was not made with, so the cycle plans in full and
	// finds nothing to do — what any cycle whose source changed costs.
	renamed := strings.TrimSuffix(full, ".ldif") + "-renamed.ldif"
	os.Remove(renamed)
	if err := os.Symlink(filepath.Base(full), renamed); err != nil {
		return section{}, err
	}
	var first, noChange, fullPlan, dryRun, parse, quarantine, allowed, allowedOU []sample
	for i := range runs {
		b.logf("run %d of %d", i+1, runs)
		db := filepath.Join(b.dir, fmt.Sprintf("ldif-%d-run%d.db", users, i+1))
		steps := []struct {
			what  string
			args  []string
			code  int       // expected exit code
			into  *[]sample // nil: not measured
			check string    // expected in stdout
		}{
			{"config add", []string{"config", "add", configName, "--source", "ldif:" + full, "--base-dn", baseDN,
				"--threshold", strconv.Itoa(min(threshold, objects))}, 0, nil, "added"},
			{"first cycle", []string{"sync", configName}, 0, &first, "Succeeded"},
			{"no-change cycle", []string{"sync", configName}, 0, &noChange, "created 0, updated 0, deleted 0"},
			{"config set", []string{"config", "set", configName, "--source", "ldif:" + renamed}, 0, nil, "updated"},
			{"full-plan cycle", []string{"sync", configName}, 0, &fullPlan, "created 0, updated 0, deleted 0"},
			{"dry run", []string{"sync", configName, "--dry-run"}, 0, &dryRun, "nothing was applied or recorded"},
			{"config set", []string{"config", "set", configName, "--source", "ldif:" + empty}, 0, nil, "updated"},
			{"quarantine", []string{"sync", configName}, 3, &quarantine, "Delete threshold exceeded"},
		}
		for _, s := range steps {
			got, out, err := b.syncguard(ctx, db, s.code, s.args...)
			if err != nil {
				b.removeDB(db)
				return section{}, fmt.Errorf("%s: %w", s.what, err)
			}
			if !strings.Contains(out, s.check) {
				b.removeDB(db)
				return section{}, fmt.Errorf("%s: output lacks %q:\n%s", s.what, s.check, out)
			}
			if s.into != nil {
				*s.into = append(*s.into, got)
				b.logf("  %-16s %s  peak RSS %s", s.what, formatDuration(got.wall), formatKB(got.rssKB))
			}
		}
		if allow {
			got, err := b.allowOneOU(ctx, full, i, users/len(ous))
			if err != nil {
				return section{}, err
			}
			allowedOU = append(allowedOU, got)
			b.logf("  %-16s %s  peak RSS %s", "allow one OU", formatDuration(got.wall), formatKB(got.rssKB))
		}
		if allow {
			got, n, err := allowDeletes(ctx, db)
			if err != nil {
				b.removeDB(db)
				return section{}, fmt.Errorf("allow deletes: %w", err)
			}
			if n != objects {
				b.removeDB(db)
				return section{}, fmt.Errorf("allow deletes: %d deleted, want %d", n, objects)
			}
			allowed = append(allowed, got)
			b.logf("  %-16s %s", "allow deletes", formatDuration(got.wall))
		}
		b.removeDB(db)
		p, n, err := parseOnly(full)
		if err != nil {
			return section{}, err
		}
		parse = append(parse, p)
		b.logf("  %-16s %s  (%d records)", "parse only", formatDuration(p.wall), n)
	}
	fc, _ := medianWall(first)
	nc, _ := medianWall(noChange)
	fp, _ := medianWall(fullPlan)
	pa, _ := medianWall(parse)
	qu, _ := medianWall(quarantine)
	ratio := func(a, b time.Duration) float64 { return a.Seconds() / max(b.Seconds(), 1e-9) }
	sec := section{
		Title: fmt.Sprintf("LDIF, %s users", thousands(users)),
		About: fmt.Sprintf("Generated by guard/demo: %s users in %d OUs and %s groups (entryUUIDs on), an LDIF of %s; "+
			"syncguard runs as a child process (`sync`) on a fresh SQLite database; median of %d, range in brackets.",
			thousands(opts.Users), len(ous), thousands(opts.Groups), formatBytes(st.Size()), runs),
	}
	big := users >= 1_000_000
	firstRow := row{What: fmt.Sprintf("First cycle: %s objects created", thousands(objects)), Samples: first}
	noChangeRow := row{What: fmt.Sprintf("No-change cycle (%s objects; the records match the last cycle's digest)", thousands(objects)),
		Samples: noChange, Target: fmt.Sprintf("%.2f× parse-only", ratio(nc, pa))}
	fullPlanRow := row{What: "No-change cycle planned in full (the same file under another name: the digest does not apply)",
		Samples: fullPlan, Target: fmt.Sprintf("%.2f× parse-only", ratio(fp, pa))}
	quarantineRow := row{What: fmt.Sprintf("Quarantine of %s (the source holds only its OUs: every object staged)", thousands(objects)),
		Samples: quarantine, Target: fmt.Sprintf("%.2f× no-change (%.2f× planned in full)", ratio(qu, nc), ratio(qu, fp))}
	dr, _ := medianWall(dryRun)
	dryRunRow := row{What: "Dry run (`sync --dry-run` of the same file: read and plan in full, record nothing)", Samples: dryRun,
		Target: fmt.Sprintf("≤ 1.2× planned in full: %.2f×", ratio(dr, fp)), Met: yesNo(ratio(dr, fp) <= 1.2)}
	if big {
		firstRow.Target = fmt.Sprintf("≤ 20 s, RSS ≤ 1 GiB")
		firstRow.Met = yesNo(fc <= 20*time.Second && medianRSS(first) <= 1<<20)
		noChangeRow.Target = "≤ 8 s and ≤ 1.5× parse-only: " + noChangeRow.Target
		noChangeRow.Met = yesNo(nc <= 8*time.Second && ratio(nc, pa) <= 1.5 && medianRSS(noChange) <= 1<<20)
		quarantineRow.Target = "≤ 2× planned in full, RSS ≤ 1 GiB: " + quarantineRow.Target
		quarantineRow.Met = yesNo(ratio(qu, fp) <= 2 && medianRSS(quarantine) <= 1<<20)
	}
	sec.Rows = append(sec.Rows, firstRow, noChangeRow, fullPlanRow, dryRunRow, quarantineRow)
	if allow {
		sec.Rows = append(sec.Rows, row{What: fmt.Sprintf("Allow deletes of %s staged (one OU gone; `allow-deletes --yes`, a child process, "+
			"which also runs the next cycle at once)", thousands(users/len(ous))), Samples: allowedOU})
		al, _ := medianWall(allowed)
		sec.Rows = append(sec.Rows, row{What: fmt.Sprintf("Allow deletes of %s staged (the store call itself, in-process)", thousands(objects)),
			Samples: allowed, Target: "≤ 3 s (at 100,000)", Met: map[bool]string{true: yesNo(al <= 3*time.Second)}[users == 100_000]})
	}
	sec.Rows = append(sec.Rows, row{What: "Parse the LDIF only (in-process with guard/ldif, no database: a floor)", Samples: parse})
	return sec, nil
}

// allowDeletes opens the database in-process and times Allow deletes of
// its configuration's quarantine: the store call the portal and the CLI
// make, without the cycle the CLI runs next.
func allowDeletes(ctx context.Context, db string) (sample, int, error) {
	st, err := store.Open(ctx, db)
	if err != nil {
		return sample{}, 0, err
	}
	defer st.Close()
	cfg, err := st.ConfigurationByName(ctx, configName)
	if err != nil {
		return sample{}, 0, err
	}
	eng := &guard.Engine{Store: st}
	start := time.Now()
	res, err := eng.AllowDeletes(ctx, cfg.ID, cfg.QuarantineID, "syncbench")
	return sample{wall: time.Since(start)}, res.Count, err
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
	rss, err := runMeasured(cmd)
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return sample{}, "", err
	}
	if code := cmd.ProcessState.ExitCode(); code != wantCode {
		return sample{}, "", fmt.Errorf("syncguard %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode,
			stdout.String(), stderr.String())
	}
	return sample{wall: wall, rssKB: rss}, stdout.String(), nil
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

// allowOneOU stages the deletion of one OU's users (the source loses
// ou=removedOU) on a fresh database and times `allow-deletes --yes` as a
// child process, with its peak memory.
func (b *bench) allowOneOU(ctx context.Context, full string, run, inOU int) (sample, error) {
	reduced := strings.TrimSuffix(full, ".ldif") + "-without-" + removedOU + ".ldif"
	if _, err := os.Stat(reduced); err != nil {
		in, err := os.Open(full)
		if err != nil {
			return sample{}, err
		}
		out, err := os.Create(reduced)
		if err != nil {
			in.Close()
			return sample{}, err
		}
		_, err = withoutSubtree(out, in, "ou="+removedOU+","+baseDN)
		in.Close()
		if err := errors.Join(err, out.Close()); err != nil {
			return sample{}, err
		}
	}
	db := filepath.Join(b.dir, fmt.Sprintf("allow-ou-run%d.db", run+1))
	defer b.removeDB(db)
	steps := []struct {
		args []string
		code int
	}{
		{[]string{"config", "add", configName, "--source", "ldif:" + full, "--base-dn", baseDN,
			"--threshold", strconv.Itoa(max(1, min(500, inOU)))}, 0},
		{[]string{"sync", configName}, 0},
		{[]string{"config", "set", configName, "--source", "ldif:" + reduced}, 0},
		{[]string{"sync", configName}, 3},
	}
	for _, s := range steps {
		if _, out, err := b.syncguard(ctx, db, s.code, s.args...); err != nil {
			return sample{}, fmt.Errorf("allow one OU: %s: %w\n%s", strings.Join(s.args, " "), err, out)
		}
	}
	got, out, err := b.syncguard(ctx, db, 0, "allow-deletes", configName, "--yes")
	if err != nil {
		return sample{}, fmt.Errorf("allow-deletes: %w\n%s", err, out)
	}
	if !strings.Contains(out, "accepted") {
		return sample{}, fmt.Errorf("allow-deletes: output lacks \"accepted\":\n%s", out)
	}
	return got, nil
}
