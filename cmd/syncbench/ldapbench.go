package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
)

// objectFilter is the filter syncguard searches with (guard/source.go).
const objectFilter = "(|(objectClass=user)(objectClass=person)(objectClass=inetOrgPerson)(objectClass=posixAccount)" +
	"(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"

// benchTB lets syncbench start a slapd with slapdtest, which takes a
// testing.TB: its failures become a panic that ldap recovers as an error.
type benchTB struct {
	testing.TB
	dir      string
	cleanups []func()
}

type tbFailure struct{ msg string }

func (t *benchTB) Helper()                   {}
func (t *benchTB) TempDir() string           { return t.dir }
func (t *benchTB) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *benchTB) Logf(string, ...any)       {}
func (t *benchTB) Fatalf(f string, a ...any) { panic(tbFailure{fmt.Sprintf(f, a...)}) }
func (t *benchTB) Fatal(a ...any)            { panic(tbFailure{fmt.Sprint(a...)}) }
func (t *benchTB) Skipf(f string, a ...any)  { panic(tbFailure{fmt.Sprintf(f, a...)}) }
func (t *benchTB) Skip(a ...any)             { panic(tbFailure{fmt.Sprint(a...)}) }
func (t *benchTB) Errorf(f string, a ...any) { panic(tbFailure{fmt.Sprintf(f, a...)}) }
func (t *benchTB) Name() string              { return "syncbench" }

func (t *benchTB) close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// startSlapd starts a private slapd of suffix loaded with the LDIF at
// path ("": only the suffix entry).
func startSlapd(dir, suffix, path string) (srv *slapdtest.Server, tb *benchTB, err error) {
	tb = &benchTB{dir: dir}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(tbFailure)
			if !ok {
				panic(r)
			}
			tb.close()
			srv, err = nil, errors.New(f.msg)
		}
	}()
	return slapdtest.Start(tb, slapdtest.Options{Suffix: suffix, LDIFPath: path}), tb, nil
}

// ldap measures cycles of users users read from a private slapd against
// the time ldapsearch takes to dump the same scope, measured alternately.
func (b *bench) ldap(ctx context.Context, users, runs int) (section, error) {
	full, _, opts, err := b.ldifFiles(users)
	if err != nil {
		return section{}, err
	}
	ldapsearch, err := exec.LookPath("ldapsearch")
	if err != nil {
		return section{}, fmt.Errorf("ldapsearch is missing (apt-get install ldap-utils): %w", err)
	}
	sdir := filepath.Join(b.dir, "slapd")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return section{}, err
	}
	b.logf("loading %d users into slapd with slapadd", users)
	srv, tb, err := startSlapd(sdir, baseDN, full)
	if err != nil {
		return section{}, err
	}
	defer func() { tb.close(); os.RemoveAll(sdir) }()
	pwFile := filepath.Join(b.dir, "bind-password")
	if err := os.WriteFile(pwFile, []byte(srv.RootPW), 0o600); err != nil {
		return section{}, err
	}
	dump := func() (sample, error) {
		cmd := exec.CommandContext(ctx, ldapsearch, "-x", "-H", srv.URL, "-D", srv.RootDN, "-w", srv.RootPW, "-b", baseDN,
			"-s", "sub", "-E", "pr=500/noprompt", "-LLL", objectFilter, "*", "entryUUID")
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return sample{}, err
		}
		defer devnull.Close()
		cmd.Stdout = devnull
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		rss, err := runMeasured(cmd)
		if err != nil {
			return sample{}, fmt.Errorf("ldapsearch: %v: %s", err, stderr.String())
		}
		return sample{wall: time.Since(start), rssKB: rss}, nil
	}
	var first, noChange, dumps []sample
	for i := range runs {
		b.logf("run %d of %d", i+1, runs)
		db := filepath.Join(b.dir, fmt.Sprintf("ldap-run%d.db", i+1))
		if _, _, err := b.syncguard(ctx, db, 0, "config", "add", configName, "--source", srv.URL, "--base-dn", baseDN,
			"--bind-dn", srv.RootDN, "--bind-password-file", pwFile, "--threshold", fmt.Sprint(threshold)); err != nil {
			b.removeDB(db)
			return section{}, err
		}
		for _, step := range []struct {
			what  string
			into  *[]sample
			check string
		}{{"first cycle", &first, "Succeeded"}, {"no-change cycle", &noChange, "created 0, updated 0, deleted 0"}} {
			d, err := dump()
			if err != nil {
				b.removeDB(db)
				return section{}, err
			}
			dumps = append(dumps, d)
			b.logf("  %-16s %s", "ldapsearch dump", formatDuration(d.wall))
			got, out, err := b.syncguard(ctx, db, 0, "sync", configName)
			if err != nil {
				b.removeDB(db)
				return section{}, fmt.Errorf("%s: %w", step.what, err)
			}
			if !strings.Contains(out, step.check) {
				b.removeDB(db)
				return section{}, fmt.Errorf("%s: output lacks %q:\n%s", step.what, step.check, out)
			}
			*step.into = append(*step.into, got)
			b.logf("  %-16s %s  peak RSS %s", step.what, formatDuration(got.wall), formatKB(got.rssKB))
		}
		b.removeDB(db)
	}
	du, _ := medianWall(dumps)
	fc, _ := medianWall(first)
	nc, _ := medianWall(noChange)
	r := func(d time.Duration) float64 { return d.Seconds() / max(du.Seconds(), 1e-9) }
	return section{
		Title: fmt.Sprintf("LDAP, %s users", thousands(users)),
		About: fmt.Sprintf("The same %s users and %s groups loaded with slapadd into a private slapd (mdb, loopback); syncguard "+
			"binds as the root DN and pages by 500 (`sync`, a child process); the floor is `ldapsearch -x -E pr=500/noprompt -LLL` "+
			"with the same base, scope, filter and attributes into /dev/null, run before each cycle; median of %d.",
			thousands(opts.Users), thousands(opts.Groups), runs),
		Rows: []row{
			{What: "ldapsearch dump of the scope (the floor)", Samples: dumps},
			{What: fmt.Sprintf("First cycle: %s objects created", thousands(opts.Users+opts.Groups)), Samples: first,
				Target: fmt.Sprintf("≤ 2.5× dump: %.2f×", r(fc)), Met: yesNo(r(fc) <= 2.5 && medianRSS(first) <= 250<<10)},
			{What: "No-change cycle", Samples: noChange,
				Target: fmt.Sprintf("≤ 1.25× dump, RSS ≤ 250 MB: %.2f×", r(nc)), Met: yesNo(r(nc) <= 1.25 && medianRSS(noChange) <= 250<<10)},
		},
	}, nil
}
