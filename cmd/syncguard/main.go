package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/smtp"
	"github.com/syncguard/syncguard/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitQuarantined = 3
)

func main() {
	// Whatever syncguard creates (the database, its WAL, the key file, the
	// spool, the demo directory) is its owner's alone.
	ownerOnlyUmask()
	ctx, stop := stopOnSignal(os.Stderr)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// stopSignal is the cause of a context ended by SIGTERM or SIGINT; it is
// a context.Canceled, so that a cycle stopped by it is abandoned (rolled
// back), never recorded as Failed.
type stopSignal struct{ sig os.Signal }

func (s stopSignal) Error() string { return "stopped by " + signalName(s.sig) }
func (s stopSignal) Unwrap() error { return context.Canceled }

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case os.Interrupt:
		return "SIGINT"
	}
	return sig.String()
}

// stopOnSignal returns a context that ends at the first SIGTERM or SIGINT:
// syncguard then takes no new work and finishes, or abandons cleanly, what
// it has in hand. A second signal exits at once: what was committed stays
// committed, and a transaction in progress never happened (SQLite rolls it
// back); a cycle lease left behind is taken over by the next cycle.
func stopOnSignal(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		cancel(stopSignal{sig})
		sig = <-sigs
		fmt.Fprintf(stderr, "syncguard: %s again: exiting now; what was committed stays, a transaction in progress is rolled back\n", signalName(sig))
		os.Exit(exitError)
	}()
	return ctx, func() { signal.Stop(sigs); cancel(nil) }
}

// stopCause says why ctx ended: "stopped by SIGTERM", or its error.
func stopCause(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil {
		return cause.Error()
	}
	return "stopped"
}

// exitErr carries an exit code; a nil err with a code is a silent exit.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitErr) Unwrap() error { return e.err }

func usageError(format string, a ...any) error {
	return &exitErr{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// exitCode prints err (when there is something to say) and returns the code.
// An error with a code (store.Error) is printed as its message.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	code := exitError
	var e *exitErr
	if errors.As(err, &e) {
		code = e.code
		if e.err == nil {
			return code
		}
	}
	msg := err.Error()
	if m := store.ErrorMessage(err); m != "" {
		msg = m // an error meant for people: its message, without the context only logs need
	}
	fmt.Fprintln(stderr, "syncguard:", printable(msg))
	if code == exitUsage {
		fmt.Fprintln(stderr, "Run 'syncguard help' for usage.")
	}
	return code
}

// Config is everything the command line and the environment say.
type Config struct {
	DB               string
	SecretKeyFile    string // "" is store.DefaultSecretKeyFile(DB)
	SMTP             smtp.Config
	SMTPPasswordFile string
	PublicURL        string
	LogFormat        string // text or json
	// ShutdownTimeout is how long work in hand when SIGTERM or SIGINT
	// comes (a cycle's transaction, a mail being sent, HTTP requests) may
	// take to finish before it is cancelled.
	ShutdownTimeout time.Duration
	Stdin           io.Reader
	Stdout, Stderr  io.Writer
	Getenv          func(string) string
}

// Credentials systemd passes with LoadCredential= (in the folder named by
// $CREDENTIALS_DIRECTORY), read when no flag or variable names the file.
const (
	credSecretKey    = "secret-key"
	credSMTPPassword = "smtp-password"
	credMetricsToken = "metrics-token"
)

// credential returns the file of a credential systemd passed to the
// service, or "" when there is none.
func (c *Config) credential(name string) string {
	dir := c.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		return ""
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// fromEnv sets the global settings from their environment twins.
func (c *Config) fromEnv() {
	env := func(name, def string) string {
		if v := c.Getenv("SYNCGUARD_" + name); v != "" {
			return v
		}
		return def
	}
	c.DB = env("DB", "./syncguard.db")
	c.SecretKeyFile = env("SECRET_KEY_FILE", "")
	c.SMTP.Host = env("SMTP_HOST", "")
	c.SMTP.Port, _ = strconv.Atoi(env("SMTP_PORT", "0"))
	c.SMTP.User = env("SMTP_USER", "")
	c.SMTPPasswordFile = env("SMTP_PASSWORD_FILE", "")
	c.SMTP.TLS = smtp.TLSMode(env("SMTP_TLS", "starttls"))
	c.SMTP.From = env("MAIL_FROM", "syncguard@localhost")
	c.PublicURL = env("PUBLIC_URL", "")
	c.LogFormat = env("LOG_FORMAT", "text")
	c.ShutdownTimeout, _ = time.ParseDuration(env("SHUTDOWN_TIMEOUT", "30s")) // 0 when bad: check says so
	if c.SecretKeyFile == "" {
		c.SecretKeyFile = c.credential(credSecretKey)
	}
	if c.SMTPPasswordFile == "" {
		c.SMTPPasswordFile = c.credential(credSMTPPassword)
	}
}

// check refuses settings of the environment that no flag corrected.
func (c *Config) check() error {
	if err := checkLogFormat(c.LogFormat); err != nil {
		return usageError("SYNCGUARD_LOG_FORMAT: %v", err)
	}
	if c.ShutdownTimeout <= 0 {
		return usageError("SYNCGUARD_SHUTDOWN_TIMEOUT: want a duration such as 30s")
	}
	return nil
}

// logger returns the logger of the command: text or JSON lines on stderr.
func (c *Config) logger(level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(c.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(c.Stderr, opts))
}

// secretKeyPath is the key file the store uses.
func (c *Config) secretKeyPath() string {
	if c.SecretKeyFile != "" {
		return c.SecretKeyFile
	}
	return store.DefaultSecretKeyFile(c.DB)
}

// globals registers the global flags on fs, defaulting to the current
// settings (the environment, or flags given before the command).
func (c *Config) globals(fs *flag.FlagSet) {
	fs.StringVar(&c.DB, "db", c.DB, "SQLite database `path` (env SYNCGUARD_DB)")
	fs.StringVar(&c.SecretKeyFile, "secret-key-file", c.SecretKeyFile, "`file` of the key that encrypts the secrets in the database; "+
		"made 0600 when absent (env SYNCGUARD_SECRET_KEY_FILE; default beside the database: syncguard.db → syncguard.key)")
	fs.StringVar(&c.SMTP.Host, "smtp-host", c.SMTP.Host, "SMTP server `host` for notifications (env SYNCGUARD_SMTP_HOST)")
	fs.Func("smtp-port", "SMTP server `port` (env SYNCGUARD_SMTP_PORT; default by TLS mode: 25, 587 or 465)", func(s string) error {
		p, err := strconv.Atoi(s)
		if err != nil || p <= 0 || p > 65535 {
			return errors.New("not a port number")
		}
		c.SMTP.Port = p
		return nil
	})
	fs.StringVar(&c.SMTP.User, "smtp-user", c.SMTP.User, "SMTP user; authenticates when set (env SYNCGUARD_SMTP_USER)")
	fs.StringVar(&c.SMTPPasswordFile, "smtp-password-file", c.SMTPPasswordFile, "`file` holding the SMTP password (env SYNCGUARD_SMTP_PASSWORD_FILE)")
	fs.Func("smtp-tls", "SMTP TLS `mode`: none, starttls or tls (env SYNCGUARD_SMTP_TLS; default starttls)", func(s string) error {
		m, err := smtp.ParseTLSMode(s)
		c.SMTP.TLS = m
		return err
	})
	fs.StringVar(&c.SMTP.From, "mail-from", c.SMTP.From, "sender `address` of notifications (env SYNCGUARD_MAIL_FROM)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "the portal's public `URL`, for links in notifications (env SYNCGUARD_PUBLIC_URL)")
	fs.Func("log-format", "log lines as `text` or json (env SYNCGUARD_LOG_FORMAT; default text)", func(s string) error {
		c.LogFormat = s
		return checkLogFormat(s)
	})
	fs.Func("shutdown-timeout", "on SIGTERM or SIGINT, how `long` a cycle's transaction, a mail being sent, the calls to a target "+
		"and HTTP requests may take to finish; a cycle still reading is abandoned at once (env SYNCGUARD_SHUTDOWN_TIMEOUT; default 30s)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return errors.New("want a duration such as 30s")
		}
		c.ShutdownTimeout = d
		return nil
	})
}

func checkLogFormat(s string) error {
	if s != "text" && s != "json" {
		return fmt.Errorf("%q is neither text nor json", s)
	}
	return nil
}

// sender returns the SMTP sender, or nil when no SMTP host is configured.
func (c *Config) sender() (*smtp.Sender, error) {
	if c.SMTP.Host == "" {
		return nil, nil
	}
	if c.SMTPPasswordFile != "" {
		b, err := os.ReadFile(c.SMTPPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("smtp password file: %w", err)
		}
		c.SMTP.Password = strings.TrimRight(string(b), "\r\n")
	}
	if _, err := smtp.ParseTLSMode(string(c.SMTP.TLS)); err != nil {
		return nil, usageError("--smtp-tls: %v", err)
	}
	return smtp.NewSender(c.SMTP)
}

func (c *Config) openStore(ctx context.Context) (*store.Store, error) {
	if err := checkOwner(c.DB); err != nil {
		return nil, err
	}
	return store.OpenWith(ctx, c.DB, store.Options{SecretKeyFile: c.SecretKeyFile})
}

// engine opens the store and an engine registered as this host's agent.
func (c *Config) engine(ctx context.Context) (*store.Store, *guard.Engine, error) {
	st, err := c.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	e, err := c.engineOn(ctx, st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, e, nil
}

// engineOn returns an engine on an open store, registered as this host's
// agent (which writes to the database: call it once the command is sure to
// act).
func (c *Config) engineOn(ctx context.Context, st *store.Store) (*guard.Engine, error) {
	// A cycle spools the objects it creates in $TMPDIR; in a container
	// without a writable /tmp, beside the database.
	useTempDir(filepath.Dir(c.DB))
	host, _ := os.Hostname()
	agentID, err := st.RegisterAgent(ctx, agentName(host), host, version)
	if err != nil {
		return nil, err
	}
	return &guard.Engine{Store: st, AgentID: agentID, PublicURL: c.PublicURL, Log: c.logger(slog.LevelWarn)}, nil
}

func agentName(host string) string {
	if host == "" {
		host = "localhost"
	}
	return "agent@" + host
}

type command struct {
	name, args, help string
	run              func(ctx context.Context, c *Config, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "[--addr 127.0.0.1:8080] [--demo] [--log-retention 720h] [--trusted-proxy CIDR]... [--backup-every 24h --backup-keep 7 [--backup-dir DIR]] [--metrics-token-file F]",
			"run the portal, the scheduler and the outbox (and rolling backups)", cmdServe},
		{"config add", "NAME --source ldif:PATH|ldap://HOST:PORT [flags]", "add a configuration", cmdConfigAdd},
		{"config set", "NAME [flags of config add] [--dry-run [--json]]", "change a configuration; --dry-run says what the next cycle would do with the changes, saving nothing", cmdConfigSet},
		{"config show", "NAME [--json]", "show a configuration", cmdConfigShow},
		{"config list", "[--json]", "list configurations", cmdConfigList},
		{"config delete", "NAME --yes", "delete a configuration (its objects in a target stay; the audit keeps the event)", cmdConfigDelete},
		{"sync", "NAME [--dry-run [--json]]", "run one cycle now; exit 0 Succeeded, 3 Quarantined, 1 Failed (--dry-run: plan only, exit 0)", cmdSync},
		{"status", "NAME [--json]", "show a configuration's status", cmdStatus},
		{"allow-deletes", "NAME [--ou DN]... [--type user|group] [--cause C] [--anchor A]... --yes", "apply the staged deletions (all, or the part the filters select; they intersect) and, once none is pending, run the next cycle", cmdAllowDeletes},
		{"restart", "NAME --yes", "discard the staged deletions and run a full cycle", cmdRestart},
		{"logs", "NAME [--action A] [--status S] [--cycle N] [--limit N] [--json]", "show the provisioning log, newest first", cmdLogs},
		{"objects", "NAME [--json]", "show the target directory of a configuration", cmdObjects},
		{"deleted", "NAME [--json]", "list the deleted objects held before their deletion becomes final (config set --hold)", cmdDeleted},
		{"restore", "NAME (--all | --ou DN | --anchor A...) --yes", "put held deleted objects back as they were", cmdRestore},
		{"user add", "NAME --role admin|viewer", "add a portal user; the password is read from stdin", cmdUserAdd},
		{"user passwd", "NAME", "set a user's password (read from stdin); the user's sessions end", cmdUserPasswd},
		{"user set-role", "NAME admin|viewer", "change a user's role; the user's sessions end", cmdUserSetRole},
		{"user remove", "NAME", "remove a portal user and end its sessions", cmdUserRemove},
		{"user list", "[--json]", "list the portal users with their roles and last sign-in", cmdUserList},
		{"outbox", "[--json]", "show the notification outbox", cmdOutbox},
		{"backup", "--to FILE [--force]", "write a consistent copy of the database, also while serve runs (the secret key is not in it)", cmdBackup},
		{"restore-backup", "--from FILE", "replace the database with a backup; every syncguard using it must be stopped", cmdRestoreBackup},
		{"version", "[--json]", "print the version, the commit and the Go version", cmdVersion},
		{"target test", "NAME", "connect to the configuration's target, authenticate and read one page; exit 0 or 1 with the reason", cmdTargetTest},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: syncguard [global flags] COMMAND [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n  %-14s   %s\n", c.name, c.args, "", c.help)
	}
	fmt.Fprintln(w, "\nGlobal flags (each also read from its SYNCGUARD_ environment variable):")
	c := &Config{Getenv: func(string) string { return "" }}
	c.fromEnv()
	fs := flag.NewFlagSet("syncguard", flag.ContinueOnError)
	c.globals(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nRun 'syncguard COMMAND --help' for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 success, 1 error, 2 bad usage; sync also 3 when quarantined.")
}

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &Config{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	c.fromEnv()
	// Global flags may come before the command.
	pre := flag.NewFlagSet("syncguard", flag.ContinueOnError)
	pre.SetOutput(io.Discard)
	c.globals(pre)
	if err := pre.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return nil
		}
		return usageError("%v", err)
	}
	args = pre.Args()
	if err := c.check(); err != nil {
		return err
	}
	if len(args) == 0 || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return &exitErr{code: exitUsage}
		}
		return nil
	}
	for _, cmd := range commands() {
		words := strings.Fields(cmd.name)
		if len(args) < len(words) || strings.Join(args[:len(words)], " ") != cmd.name {
			continue
		}
		return cmd.run(ctx, c, args[len(words):])
	}
	group := args[0] == "config" || args[0] == "user" || args[0] == "target"
	if group && len(args) > 1 && (args[1] == "--help" || args[1] == "-h" || args[1] == "help") {
		fmt.Fprintf(stdout, "Usage: syncguard %s SUBCOMMAND ...\n\nSubcommands: %s\nRun 'syncguard %s SUBCOMMAND --help' for one's flags.\n",
			args[0], subcommands(args[0]), args[0])
		return nil
	}
	if group {
		return usageError("%s needs a subcommand: %s", args[0], subcommands(args[0]))
	}
	return usageError("unknown command %q", args[0])
}

func subcommands(prefix string) string {
	var out []string
	for _, c := range commands() {
		if rest, ok := strings.CutPrefix(c.name, prefix+" "); ok {
			out = append(out, rest)
		}
	}
	return strings.Join(out, ", ")
}

// flagSet makes a command's flag set with the global flags on it.
func (c *Config) flagSet(name, args, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.globals(fs)
	fs.Usage = func() {
		fmt.Fprintf(c.Stdout, "Usage: syncguard %s %s\n\n%s.\n\nFlags:\n", name, args, help)
		fs.SetOutput(c.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags and positional arguments in any order, and checks the
// number of positional arguments.
func parse(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	// The flag package calls Usage on --help and on every bad flag: print it
	// once, for --help only, so that an error leaves stdout alone.
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, &exitErr{code: exitOK}
			}
			return nil, usageError("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positional {
		if positional > 1 {
			return nil, usageError("%s: needs %s", fs.Name(), commandFor(fs.Name()).args)
		}
		if positional == 1 {
			what := "configuration"
			if strings.HasPrefix(fs.Name(), "user ") {
				what = "user"
			}
			return nil, usageError("%s: needs exactly one %s NAME", fs.Name(), what)
		}
		return nil, usageError("%s: takes no arguments, got %q", fs.Name(), strings.Join(pos, " "))
	}
	return pos, nil
}

// commandFor finds a command's usage line.
func commandFor(name string) command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return command{name: name}
}

func newFlags(c *Config, name string) *flag.FlagSet {
	cmd := commandFor(name)
	return c.flagSet(cmd.name, cmd.args, cmd.help)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
