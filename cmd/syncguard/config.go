package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// configFlags are the flags of config add and config set.
type configFlags struct {
	source, baseDN, bindDN, bindPasswordFile, email, caFile string
	bindMethod, tlsPin, tlsServerName                       string
	threshold, hold                                         string
	users, groups, memberships, percent, remind             string
	prevent, startTLS                                       bool
	interval                                                time.Duration
	scope                                                   []string
	target                                                  targetFlags
}

func (f *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.source, "source", "", "where to read: ldif:`PATH`, ldap://HOST:PORT or ldaps://HOST:PORT")
	fs.StringVar(&f.baseDN, "base-dn", "", "base `DN` of the source (the scope when no --scope is given)")
	fs.StringVar(&f.bindDN, "bind-dn", "", "`DN` to bind as (LDAP; with --bind-method ntlm: DOMAIN\\user or user@domain)")
	fs.StringVar(&f.bindPasswordFile, "bind-password-file", "", "`file` holding the bind password (LDAP)")
	fs.BoolVar(&f.startTLS, "starttls", false, "upgrade an ldap:// connection with StartTLS")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM `file` of the CA that signed the LDAP server's certificate")
	fs.StringVar(&f.bindMethod, "bind-method", "simple", "`method` to bind with: simple, or ntlm (Active Directory)")
	fs.StringVar(&f.tlsPin, "tls-pin", "", "trust exactly the LDAP server certificate with this fingerprint: sha256:`HEX` (as openssl x509 -noout -fingerprint -sha256 prints it)")
	fs.StringVar(&f.tlsServerName, "tls-server-name", "", "`name` to check in the LDAP server's certificate instead of the URL's host")
	fs.Func("scope", "an in-scope OU `DN`; repeat for several (config set replaces the whole list)", func(s string) error {
		f.scope = append(f.scope, s)
		return nil
	})
	fs.StringVar(&f.threshold, "threshold", fmt.Sprint(guard.DefaultThreshold), "accidental deletion threshold: deletions that stop sync (`N`)")
	fs.StringVar(&f.users, "threshold-users", "0", "stop sync when a cycle would delete this many users or more (`N`; 0 = off)")
	fs.StringVar(&f.groups, "threshold-groups", "0", "stop sync when a cycle would delete this many groups or more (`N`; 0 = off)")
	fs.StringVar(&f.memberships, "threshold-memberships", "0", "stop sync when a cycle would remove this many member links "+
		"from groups that stay (`N`; 0 = off); the quarantine then holds the removals too")
	fs.StringVar(&f.percent, "threshold-percent", "0", "stop sync when a cycle would delete this percentage of the target "+
		"directory or more (`P`, 1-100; 0 = off)")
	fs.StringVar(&f.remind, "remind-every", guard.DefaultRemindEvery.String(), "while sync is stopped, send a reminder mail "+
		"this often (`duration`; 0 = never)")
	fs.StringVar(&f.email, "email", "", "notification email `address`")
	fs.BoolVar(&f.prevent, "prevent", true, "prevent accidental deletions (--prevent=false turns the guard off)")
	fs.StringVar(&f.hold, "hold", "0", "hold each deletion this `long` before it becomes final — disabled in the target, restorable "+
		"(syncguard deleted, syncguard restore) — e.g. 72h or 3d; 0 deletes at once; at most 90d")
	fs.DurationVar(&f.interval, "interval", guard.DefaultInterval, "time between scheduled cycles (`duration`)")
	f.target.register(fs)
}

// applyTarget copies the target flags that were set onto t and checks the
// target that results, for cfg as it will be (without connecting). It says
// whether any target flag was set.
func (f *configFlags) applyTarget(fs *flag.FlagSet, cfg *store.Configuration, t *store.Target) (bool, error) {
	changed, err := f.target.apply(fs, t)
	if err != nil {
		return changed, err
	}
	rebased := false
	fs.Visit(func(fl *flag.Flag) { rebased = rebased || fl.Name == "base-dn" })
	if changed || (rebased && !t.None()) {
		if err := guard.CheckTarget(t, cfg); err != nil {
			return changed, usageError("%s", store.ErrorMessage(err))
		}
	}
	return changed, nil
}

// apply copies the flags that were set onto c.
func (f *configFlags) apply(fs *flag.FlagSet, c *store.Configuration) error {
	var err error
	fs.Visit(func(fl *flag.Flag) {
		if err != nil {
			return
		}
		switch fl.Name {
		case "source":
			c.Source = f.source
		case "base-dn":
			c.BaseDN = f.baseDN
		case "bind-dn":
			c.BindDN = f.bindDN
		case "bind-password-file":
			var b []byte
			if b, err = os.ReadFile(f.bindPasswordFile); err != nil {
				err = fmt.Errorf("bind password file: %w", err)
				return
			}
			c.BindPassword = strings.TrimRight(string(b), "\r\n")
		case "starttls":
			c.StartTLS = f.startTLS
		case "ca-file":
			c.CAFile = f.caFile
		case "bind-method":
			if c.BindMethod, err = guard.ParseBindMethod(f.bindMethod); err != nil {
				err = usageError("--bind-method: %v", err)
			}
		case "tls-pin":
			if c.TLSPin, err = guard.ParsePin(f.tlsPin); err != nil {
				err = usageError("--tls-pin: %v", err)
			}
		case "tls-server-name":
			c.TLSServer = strings.TrimSpace(f.tlsServerName)
		case "scope":
			c.Scope = f.scope
		case "threshold":
			if c.Basics.Threshold, err = guard.ParseThreshold(f.threshold); err != nil {
				err = usageError("--threshold: %v", err)
			}
		case "threshold-users", "threshold-groups", "threshold-memberships":
			into := map[string]*int{"threshold-users": &c.Basics.ThresholdUsers, "threshold-groups": &c.Basics.ThresholdGroups,
				"threshold-memberships": &c.Basics.ThresholdMemberships}[fl.Name]
			if *into, err = guard.ParseLimit(fl.Value.String()); err != nil {
				err = usageError("--%s: %v", fl.Name, err)
			}
		case "threshold-percent":
			if c.Basics.ThresholdPercent, err = guard.ParsePercent(f.percent); err != nil {
				err = usageError("--threshold-percent: %v", err)
			}
		case "remind-every":
			if c.Basics.RemindEvery, err = guard.ParseRemindEvery(f.remind); err != nil {
				err = usageError("--remind-every: %v", err)
			}
		case "email":
			if c.Basics.Email, err = guard.ParseEmail(f.email); err != nil {
				err = usageError("--email: %v", err)
			}
		case "prevent":
			c.Basics.Prevent = f.prevent
		case "hold":
			if c.Basics.Hold, err = guard.ParseHold(f.hold); err != nil {
				err = usageError("--hold: %v", err)
			}
		case "interval":
			if f.interval < guard.MinInterval || f.interval > guard.MaxInterval {
				err = usageError("--interval: must be between %s and %s", guard.MinInterval, guard.MaxInterval)
			}
			c.Interval = f.interval
		}
	})
	if err != nil {
		return err
	}
	if err := guard.ValidateConfiguration(c); err != nil {
		return usageError("%v", err)
	}
	return nil
}

func cmdConfigAdd(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "config add")
	var f configFlags
	f.register(fs)
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if f.source == "" {
		return usageError("config add: --source is required")
	}
	cfg := &store.Configuration{Name: pos[0], Interval: guard.DefaultInterval, BindMethod: "simple",
		Basics: store.Basics{Prevent: true, Threshold: guard.DefaultThreshold, RemindEvery: guard.DefaultRemindEvery}}
	if err := f.apply(fs, cfg); err != nil {
		return err
	}
	t := &store.Target{URL: store.TargetNone}
	if _, err := f.applyTarget(fs, cfg, t); err != nil {
		return err
	}
	st, err := c.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CreateConfigurationWithTarget(ctx, cfg, t, "cli"); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("a configuration named %q already exists (use config set to change it)", cfg.Name)
		}
		return err
	}
	fmt.Fprintf(c.Stdout, "added configuration %q (id %d)\n", cfg.Name, cfg.ID)
	return nil
}

func cmdConfigSet(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "config set")
	var f configFlags
	f.register(fs)
	dryRun := fs.Bool("dry-run", false, "read and plan with the changes, save nothing, and say what the next cycle would do")
	asJSON := fs.Bool("json", false, "with --dry-run: print JSON")
	st, cfg, err := c.parseConfiguration(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	if *dryRun {
		edited := *cfg
		edited.Scope = slices.Clone(cfg.Scope)
		if err := f.apply(fs, &edited); err != nil {
			return err
		}
		return dryRunCycle(ctx, c, st, &edited, guard.ScopeEdit(cfg, &edited, "cli"), *asJSON)
	}
	t, err := st.Target(ctx, cfg.ID)
	if err != nil {
		return err
	}
	// The flags apply to the configuration as it is when it is saved, so
	// a change made meanwhile (a Basics save in the portal) is kept.
	var retarget bool
	if _, err := st.EditConfiguration(ctx, cfg.ID, "cli", func(cur *store.Configuration) error {
		if err := f.apply(fs, cur); err != nil {
			return err
		}
		retarget, err = f.applyTarget(fs, cur, t)
		return err
	}); err != nil {
		return err
	}
	if retarget {
		if err := st.SetTarget(ctx, t, "cli"); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.Stdout, "updated configuration %q\n", cfg.Name)
	return nil
}

// openConfiguration opens the store and finds the configuration called
// name; the caller closes the store.
func (c *Config) openConfiguration(ctx context.Context, name string) (*store.Store, *store.Configuration, error) {
	st, err := c.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := configuration(ctx, st, name)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, cfg, nil
}

// parseConfiguration parses the arguments of a command on one configuration
// (its name and the flags of fs), opens the store and finds the
// configuration; the caller closes the store.
func (c *Config) parseConfiguration(ctx context.Context, fs *flag.FlagSet, args []string) (*store.Store, *store.Configuration, error) {
	pos, err := parse(fs, args, 1)
	if err != nil {
		return nil, nil, err
	}
	return c.openConfiguration(ctx, pos[0])
}

// configuration finds a configuration by name with a message people understand.
func configuration(ctx context.Context, st *store.Store, name string) (*store.Configuration, error) {
	cfg, err := st.ConfigurationByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no configuration named %q (see syncguard config list)", name)
	}
	return cfg, err
}

// configJSON is the stable shape of config show --json; it never holds the bind password.
type configJSON struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	Source        string   `json:"source"`
	BaseDN        string   `json:"base_dn"`
	BindDN        string   `json:"bind_dn"`
	BindMethod    string   `json:"bind_method"`
	TLSPin        string   `json:"tls_pin"`
	TLSServerName string   `json:"tls_server_name"`
	Scope         []string `json:"scope"`
	Threshold     int      `json:"threshold"`
	Prevent       bool     `json:"prevent"`
	Email         string   `json:"email"`
	Interval      string   `json:"interval"`
	Status        string   `json:"status"`
	// The limits besides the threshold (0 = off) and the reminders.
	ThresholdUsers       int    `json:"threshold_users"`
	ThresholdGroups      int    `json:"threshold_groups"`
	ThresholdMemberships int    `json:"threshold_memberships"`
	ThresholdPercent     int    `json:"threshold_percent"`
	RemindEvery          string `json:"remind_every"`
	// Hold is how long deletions are held before they become final:
	// "72h", "0s" for none.
	Hold string `json:"hold"`
	// Target is where the configuration exports (never a secret); config
	// show says it, config list does not.
	Target *targetSettingsJSON `json:"target,omitempty"`
}

// targetSettingsJSON is a target's settings in config show --json.
type targetSettingsJSON struct {
	Kind     string `json:"kind"`
	URL      string `json:"url"`
	BaseDN   string `json:"base_dn"`
	BindDN   string `json:"bind_dn"`
	StartTLS bool   `json:"starttls"`
	CAFile   string `json:"ca_file"`
}

func toTargetSettingsJSON(t *store.Target) *targetSettingsJSON {
	return &targetSettingsJSON{Kind: guard.TargetKind(t.URL), URL: orDefault(t.URL, store.TargetNone), BaseDN: t.BaseDN,
		BindDN: t.BindDN, StartTLS: t.StartTLS, CAFile: t.CAFile}
}

func toConfigJSON(cfg *store.Configuration) configJSON {
	scope := cfg.Scope
	if scope == nil {
		scope = []string{}
	}
	return configJSON{ID: cfg.ID, Name: cfg.Name, Source: cfg.Source, BaseDN: cfg.BaseDN, BindDN: cfg.BindDN,
		BindMethod: guard.BindMethod(cfg), TLSPin: cfg.TLSPin, TLSServerName: cfg.TLSServer, Scope: scope,
		Threshold: cfg.Basics.Threshold, Prevent: cfg.Basics.Prevent, Email: cfg.Basics.Email,
		Interval: cfg.Interval.String(), Status: cfg.Status, ThresholdUsers: cfg.Basics.ThresholdUsers,
		ThresholdGroups: cfg.Basics.ThresholdGroups, ThresholdMemberships: cfg.Basics.ThresholdMemberships,
		ThresholdPercent: cfg.Basics.ThresholdPercent, RemindEvery: cfg.Basics.RemindEvery.String(),
		Hold: cfg.Basics.Hold.String()}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdConfigShow(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "config show")
	asJSON := fs.Bool("json", false, "print JSON")
	st, cfg, err := c.parseConfiguration(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.Target(ctx, cfg.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		out := toConfigJSON(cfg)
		out.Target = toTargetSettingsJSON(t)
		return writeJSON(c.Stdout, out)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	var scope []string
	for _, ou := range cfg.EffectiveScope() {
		scope = append(scope, printable(ou))
	}
	email := printable(cfg.Basics.Email)
	if email == "" {
		email = "(not set: no notification is sent)"
	}
	fmt.Fprintf(tw, "Name\t%s\nSource\t%s\nBase DN\t%s\n", printable(cfg.Name), printable(cfg.Source), printable(cfg.BaseDN))
	if cfg.BindDN != "" {
		fmt.Fprintf(tw, "Bind DN\t%s\nBind method\t%s\n", printable(cfg.BindDN), guard.BindMethod(cfg))
	}
	if cfg.TLSPin != "" {
		fmt.Fprintf(tw, "TLS pin\t%s\n", cfg.TLSPin)
	}
	if cfg.TLSServer != "" {
		fmt.Fprintf(tw, "TLS server name\t%s\n", printable(cfg.TLSServer))
	}
	fmt.Fprintf(tw, "Scope\t%s\nInterval\t%s\nNotification email\t%s\nPrevent accidental deletions\t%s\nAccidental deletion threshold\t%d\n"+
		"Hold deletions\t%s\nStatus\t%s\n", strings.Join(scope, "\n\t"), cfg.Interval, email, onOff(cfg.Basics.Prevent),
		cfg.Basics.Threshold, store.HoldText(cfg.Basics.Hold), guard.StatusText(cfg.Status))
	showTarget(tw, t)
	return tw.Flush()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func cmdConfigList(ctx context.Context, c *Config, args []string) error {
	return listing(ctx, c, "config list", args, (*store.Store).Configurations, toConfigJSON,
		"NAME\tSTATUS\tSOURCE\tTHRESHOLD\tINTERVAL", func(cfg *store.Configuration) string {
			return fmt.Sprintf("%s\t%s\t%s\t%d\t%s", printable(cfg.Name), guard.StatusText(cfg.Status), printable(cfg.Source),
				cfg.Basics.Threshold, cfg.Interval)
		})
}

func cmdConfigDelete(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "config delete")
	yes := fs.Bool("yes", false, "confirm: delete the configuration")
	st, cfg, err := c.parseConfiguration(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	if !*yes {
		return usageError("config delete: this deletes %s, its cycles, provisioning log and staged deletions "+
			"(objects in a target stay; the audit keeps the event); add --yes to confirm", printable(cfg.Name))
	}
	e := &guard.Engine{Store: st}
	if err := e.DeleteConfiguration(ctx, cfg.ID, "cli"); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "deleted configuration %s; objects it provisioned to a target stay in place\n", printable(cfg.Name))
	return nil
}

func writeCompactJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
