package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// targetFlags are the target flags of config add and config set (SPEC
// section 8). Secrets come from files, never from the command line.
type targetFlags struct {
	url, baseDN, bindDN, bindPasswordFile, caFile, tokenFile string
	startTLS                                                 bool
}

func (f *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "target", store.TargetNone, "where to export: none (the target directory copy only), ldap://HOST[:PORT], "+
		"ldaps://HOST[:PORT], scim+https://HOST/PATH or scim+http://LOOPBACK/PATH (`URL`)")
	fs.StringVar(&f.baseDN, "target-base-dn", "", "LDAP target: the base `DN` objects go below (their place below --base-dn is kept)")
	fs.StringVar(&f.bindDN, "target-bind-dn", "", "LDAP target: `DN` to bind as")
	fs.StringVar(&f.bindPasswordFile, "target-bind-password-file", "", "LDAP target: `file` holding the bind password")
	fs.BoolVar(&f.startTLS, "target-starttls", false, "LDAP target: upgrade ldap:// with StartTLS")
	fs.StringVar(&f.caFile, "target-ca-file", "", "PEM `file` of the CA that signed the target's certificate")
	fs.StringVar(&f.tokenFile, "target-token-file", "", "SCIM target: `file` holding the bearer token")
}

// apply copies the target flags that were set onto t, and says whether
// any was. A new kind of target starts from its URL alone: the settings
// of the old one do not carry over.
func (f *targetFlags) apply(fs *flag.FlagSet, t *store.Target) (bool, error) {
	set, any := map[string]bool{}, false
	fs.Visit(func(fl *flag.Flag) {
		set[fl.Name] = true
		any = any || strings.HasPrefix(fl.Name, "target")
	})
	if set["target"] {
		url := strings.TrimSpace(f.url)
		if guard.TargetKind(url) != guard.TargetKind(t.URL) {
			*t = store.Target{ConfigID: t.ConfigID}
		}
		t.URL = url
	}
	secret := func(path, what string) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	var err error
	for name := range set {
		switch name {
		case "target-base-dn":
			t.BaseDN = strings.TrimSpace(f.baseDN)
		case "target-bind-dn":
			t.BindDN = strings.TrimSpace(f.bindDN)
		case "target-bind-password-file":
			t.BindPassword, err = secret(f.bindPasswordFile, "target bind password file")
		case "target-starttls":
			t.StartTLS = f.startTLS
		case "target-ca-file":
			t.CAFile = f.caFile
		case "target-token-file":
			t.Token, err = secret(f.tokenFile, "target token file")
		}
		if err != nil {
			return true, err
		}
	}
	return any, nil
}

// cmdTargetTest connects to a configuration's target, authenticates and
// reads one page.
func cmdTargetTest(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "target test")
	st, cfg, err := c.parseConfiguration(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.Target(ctx, cfg.ID)
	if err != nil {
		return err
	}
	msg, err := guard.TestTarget(ctx, t, cfg)
	if err != nil {
		return fmt.Errorf("target of %s: %w", cfg.Name, err)
	}
	fmt.Fprintln(c.Stdout, printable(msg))
	return nil
}

// targetJSON is the "target" of status --json (SPEC section 8).
type targetJSON struct {
	Kind           string  `json:"kind"`
	URL            string  `json:"url"`
	PendingExports int     `json:"pending_exports"`
	FailedExports  int     `json:"failed_exports"`
	LastExportAt   *string `json:"last_export_at"`
	LastError      string  `json:"last_error"`
	// UnreachableSince is when the target started failing transiently.
	UnreachableSince *string `json:"unreachable_since"`
}

func toTargetJSON(t guard.TargetOverview) targetJSON {
	return targetJSON{Kind: t.Kind, URL: orDefault(t.URL, store.TargetNone), PendingExports: t.State.Pending,
		FailedExports: t.State.Failed, LastExportAt: jsonTime(t.State.LastExport), LastError: t.State.LastError,
		UnreachableSince: jsonTime(t.State.Unreachable)}
}

// printTarget is the target's line of status.
func printTarget(c *Config, t guard.TargetOverview) {
	if t.Kind == guard.TargetNone {
		fmt.Fprintln(c.Stdout, "  target: none (the target directory copy only)")
		return
	}
	fmt.Fprintf(c.Stdout, "  target: %s, %d exports pending, %d refused, last export %s\n", printable(t.URL), t.State.Pending,
		t.State.Failed, formatTime(t.State.LastExport))
	if t.State.LastError != "" {
		fmt.Fprintf(c.Stdout, "  target's last error: %s\n", printable(t.State.LastError))
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// exportWait is how long sync, allow-deletes and restart keep trying a
// target that takes nothing before they leave the rest to serve (env
// SYNCGUARD_EXPORT_WAIT, a duration).
func (c *Config) exportWait() time.Duration {
	if d, err := time.ParseDuration(c.Getenv("SYNCGUARD_EXPORT_WAIT")); err == nil && d >= 0 {
		return d
	}
	return 30 * time.Second
}

// export sends what a command queued for the configuration's target
// before it exits, and says what is left.
func export(ctx context.Context, c *Config, st *store.Store, cfg *store.Configuration) {
	x := &guard.Exporter{Store: st, Backoff: guard.QuickBackoff, Grace: c.ShutdownTimeout}
	defer x.Close()
	d, err := x.Drain(ctx, cfg.ID, c.exportWait())
	if err != nil {
		fmt.Fprintf(c.Stderr, "syncguard: export to the target: %s\n", printable(err.Error()))
		return
	}
	if d.Sent+d.Failed > 0 {
		fmt.Fprintf(c.Stdout, "exported %d to the target", d.Sent)
		if d.Failed > 0 {
			fmt.Fprintf(c.Stdout, "; %d refused (see syncguard logs %s --status Failure)", d.Failed, printable(cfg.Name))
		}
		fmt.Fprintln(c.Stdout)
	}
	if d.Pending > 0 {
		why := ""
		if d.Unreachable {
			why = " (target unreachable: " + printable(d.LastError) + ")"
		}
		what := "exports"
		if d.Pending == 1 {
			what = "export"
		}
		fmt.Fprintf(c.Stdout, "%d %s left pending%s: serve sends them, or the next sync\n", d.Pending, what, why)
	}
}

// showTarget writes the target's lines of config show; a secret is only
// said to be set.
func showTarget(w io.Writer, t *store.Target) {
	if t.None() {
		fmt.Fprintln(w, "Target\tnone (the target directory copy only)")
		return
	}
	fmt.Fprintf(w, "Target\t%s\n", printable(t.URL))
	for _, row := range [][2]string{{"Target base DN", t.BaseDN}, {"Target bind DN", t.BindDN}, {"Target CA file", t.CAFile}} {
		if row[1] != "" {
			fmt.Fprintf(w, "%s\t%s\n", row[0], printable(row[1]))
		}
	}
	if t.StartTLS {
		fmt.Fprintln(w, "Target StartTLS\ton")
	}
	if t.BindPassword != "" {
		fmt.Fprintln(w, "Target bind password\tset")
	}
	if t.Token != "" {
		fmt.Fprintln(w, "Target token\tset")
	}
}
