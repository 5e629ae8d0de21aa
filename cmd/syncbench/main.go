// Command syncbench measures the syncguard binary on a generated directory
// and records the figures in the README: `make bench` runs
//
//	go run ./cmd/syncbench -readme README.md
//
// It builds syncguard once, generates an LDIF of -users users in four OUs
// (and some groups) with guard/demo, and times syncguard as a child process,
// -runs times each (the median is reported, with the range): the first cycle
// on a fresh database, a cycle with no change, the quarantine of one OU's
// users gone from the source, allow-deletes of those staged deletions, and,
// as a floor, parsing the LDIF in-process with guard/ldif. Wall time is
// measured around each child; peak RSS is the child's rusage maxrss.
//
// With -readme PATH, the table replaces what is between the markers
// <!-- bench:start --> and <!-- bench:end --> in that file; without the
// markers the file is left alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/demo"
)

// The generated directory.
const (
	baseDN     = "dc=corp,dc=example"
	removedOU  = "Sales"
	configName = "bench"
	seed       = 1
)

var ous = []string{"Sales", "Engineering", "Finance", "Support"}

// errUsage marks a usage error (exit 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "syncbench:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	users, runs int
	keep        bool
	readme      string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("syncbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.users, "users", 100_000, "number of users in the generated directory (a multiple of 4: they are spread over 4 OUs)")
	fs.IntVar(&o.runs, "runs", 3, "times each measurement is repeated; the median is reported")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, LDIF files, databases)")
	fs.StringVar(&o.readme, "readme", "", "record the table in this Markdown `file`, between <!-- bench:start --> and <!-- bench:end -->")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: syncbench [-users N] [-runs N] [-keep] [-readme README.md]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "syncbench: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	if o.users < len(ous) || o.users%len(ous) != 0 || o.runs < 1 {
		fmt.Fprintf(stderr, "syncbench: -users must be a positive multiple of %d and -runs at least 1\n", len(ous))
		return errUsage
	}

	dir, err := os.MkdirTemp("", "syncbench-")
	if err != nil {
		return err
	}
	if o.keep {
		defer fmt.Fprintf(stderr, "kept %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	if load := loadAverage(); load > float64(runtime.NumCPU())/2 {
		logf("the machine is busy (load average %.1f on %d cores): the figures will be noisy", load, runtime.NumCPU())
	}

	logf("building syncguard")
	bin := filepath.Join(dir, "syncguard")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/syncguard/syncguard/cmd/syncguard").CombinedOutput(); err != nil {
		return fmt.Errorf("build syncguard (run syncbench from inside the module): %v\n%s", err, out)
	}

	gen := demo.Options{BaseDN: baseDN, OUs: ous, Users: o.users, Groups: groups(o.users), Seed: seed, UUIDs: true}
	full := filepath.Join(dir, "full.ldif")
	reduced := filepath.Join(dir, "without-"+removedOU+".ldif")
	logf("generating %d users and %d groups", gen.Users, gen.Groups)
	if err := generate(full, reduced, gen); err != nil {
		return err
	}
	st, err := os.Stat(full)
	if err != nil {
		return err
	}

	removed := o.users / len(ous)
	objects := o.users + gen.Groups
	// The default threshold, unless a small -users removes fewer objects.
	b := bench{bin: bin, dir: dir, full: full, reduced: reduced, threshold: min(guard.DefaultThreshold, removed),
		keep: o.keep, logf: logf}
	var m measurements
	for i := range o.runs {
		logf("run %d of %d", i+1, o.runs)
		if err := b.once(ctx, i, &m); err != nil {
			return err
		}
	}
	rep := report{
		Machine: describeMachine(),
		Date:    time.Now(),
		Users:   o.users, Groups: gen.Groups, OUs: len(ous), LDIFBytes: st.Size(), Runs: o.runs,
		Rows: []row{
			{fmt.Sprintf("First cycle: %s objects created from LDIF (fresh database)", thousands(objects)), m.first},
			{fmt.Sprintf("No-change cycle (%s objects)", thousands(objects)), m.noChange},
			{fmt.Sprintf("Quarantine of %s (one OU gone from the source: the cycle stages the deletions)", thousands(removed)), m.quarantine},
			{fmt.Sprintf("Allow deletes of %s staged (`allow-deletes --yes`, which also runs the next cycle at once)", thousands(removed)), m.allow},
			{"Parse the LDIF only (in-process with guard/ldif, no database: a floor)", m.parse},
		},
	}
	table := rep.markdown()
	fmt.Fprint(stdout, table)

	if o.readme == "" {
		return nil
	}
	switch err := updateReadme(o.readme, table); {
	case errors.Is(err, os.ErrNotExist):
		logf("%s does not exist: the table was not recorded", o.readme)
	case errors.Is(err, errNoMarkers):
		logf("%s has no %s … %s markers: left alone, the table was not recorded", o.readme, startMarker, endMarker)
	case err != nil:
		return err
	default:
		logf("recorded the table in %s", o.readme)
	}
	return nil
}

// groups is the number of groups generated for n users: one per 500 users,
// at least one.
func groups(users int) int { return max(1, users/500) }

// generate writes the full directory and the one without removedOU.
func generate(full, reduced string, opts demo.Options) error {
	f, err := os.Create(full)
	if err != nil {
		return err
	}
	if err := demo.Generate(f, opts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	in, err := os.Open(full)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(reduced)
	if err != nil {
		return err
	}
	if _, err := withoutSubtree(out, in, "ou="+removedOU+","+baseDN); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
