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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/syncguard/syncguard/guard/demo"
)

// The generated directory.
const (
	baseDN     = "dc=corp,dc=example"
	removedOU  = "Sales"
	configName = "bench"
	seed       = 1
	threshold  = 500 // the default threshold
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
	users, bigUsers, runs, bigRuns int
	logEntries, clients            int
	scimCreates                    int
	portalDuration                 time.Duration
	only                           map[string]bool
	keep                           bool
	readme                         string
}

// scenarios, in the order they run.
var scenarios = []string{"ldif", "ldif1m", "ldap", "ldaptarget", "scim", "log5m", "portal"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	var only string
	fs := flag.NewFlagSet("syncbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.users, "users", 100_000, "users of the ldif, ldap and portal scenarios (a multiple of 4: they are spread over 4 OUs)")
	fs.IntVar(&o.bigUsers, "big-users", 1_000_000, "users of the ldif1m scenario (a multiple of 4)")
	fs.IntVar(&o.runs, "runs", 3, "times each measurement is repeated; the median is reported")
	fs.IntVar(&o.bigRuns, "big-runs", 2, "times the ldif1m measurements are repeated")
	fs.IntVar(&o.logEntries, "log-entries", 5_000_000, "provisioning log entries of the log5m scenario")
	fs.IntVar(&o.clients, "clients", 50, "concurrent clients of the portal scenario")
	fs.IntVar(&o.scimCreates, "scim-creates", 10_000, "users the scim scenario exports (a multiple of 4)")
	fs.DurationVar(&o.portalDuration, "portal-duration", 60*time.Second, "how long the portal scenario runs")
	fs.StringVar(&only, "only", strings.Join(scenarios, ","), "comma-separated `scenarios` to run: "+strings.Join(scenarios, ", "))
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, LDIF files, databases)")
	fs.StringVar(&o.readme, "readme", "", "record the table in this Markdown `file`, between <!-- bench:start --> and <!-- bench:end -->")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: syncbench [-only "+strings.Join(scenarios, ",")+"] [-users N] [-runs N] [-keep] [-readme README.md]")
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
	if o.users < len(ous) || o.users%len(ous) != 0 || o.bigUsers < len(ous) || o.bigUsers%len(ous) != 0 ||
		o.runs < 1 || o.bigRuns < 1 || o.clients < 1 || o.logEntries < 20 || o.scimCreates < len(ous) || o.scimCreates%len(ous) != 0 {
		fmt.Fprintf(stderr, "syncbench: -users and -big-users must be positive multiples of %d, -runs, -big-runs and -clients at least 1\n", len(ous))
		return errUsage
	}
	o.only = map[string]bool{}
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(scenarios, name) {
			fmt.Fprintf(stderr, "syncbench: unknown scenario %q (choose among %s)\n", name, strings.Join(scenarios, ", "))
			return errUsage
		}
		o.only[name] = true
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
	b := &bench{bin: bin, dir: dir, keep: o.keep, logf: logf}
	rep := report{Machine: describeMachine(), Date: time.Now()}
	type scenario struct {
		name string
		run  func() (section, error)
	}
	for _, sc := range []scenario{
		{"ldif", func() (section, error) { return b.ldif(ctx, o.users, o.runs, true) }},
		{"ldif1m", func() (section, error) { return b.ldif(ctx, o.bigUsers, o.bigRuns, false) }},
		{"ldap", func() (section, error) { return b.ldap(ctx, o.users, o.runs) }},
		{"ldaptarget", func() (section, error) { return b.ldapTarget(ctx, o.users, o.runs) }},
		{"scim", func() (section, error) { return b.scimExport(ctx, o.scimCreates, o.runs) }},
		{"log5m", func() (section, error) { return b.logs(ctx, o.logEntries) }},
		{"portal", func() (section, error) { return b.portal(ctx, o.users, o.clients, o.portalDuration) }},
	} {
		if !o.only[sc.name] {
			continue
		}
		logf("scenario %s", sc.name)
		sec, err := sc.run()
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		rep.Sections = append(rep.Sections, sec)
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
