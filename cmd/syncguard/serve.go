package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/web"
)

func cmdServe(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "serve")
	addr := fs.String("addr", envOr(c, "SYNCGUARD_ADDR", "127.0.0.1:8080"), "`address` to listen on (env SYNCGUARD_ADDR)")
	withDemo := fs.Bool("demo", false, "on a new database, create a demo configuration and an admin user with a random password")
	retention := fs.Duration("log-retention", 720*time.Hour, "keep provisioning log entries this `long` (those of a pending quarantine are kept)")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate `file` (PEM)")
	tlsKey := fs.String("tls-key", "", "private key `file` of --tls-cert (PEM)")
	tick := fs.Duration("tick", time.Second, "how often schedules are checked")
	metricsTokenFile := fs.String("metrics-token-file", envOr(c, "SYNCGUARD_METRICS_TOKEN_FILE", ""),
		"serve /metrics (Prometheus) to scrapers sending this `file`'s token as a bearer token; without it there is no /metrics "+
			"(env SYNCGUARD_METRICS_TOKEN_FILE)")
	var bk backupFlags
	if err := bk.register(c, fs); err != nil {
		return err
	}
	var proxies []netip.Prefix
	fs.Func("trusted-proxy", "a reverse proxy (`CIDR` or address; repeat for several) whose X-Forwarded-For names the client, "+
		"for sign-in throttling and the audit (env SYNCGUARD_TRUSTED_PROXIES, comma-separated)", func(s string) error {
		p, err := parsePrefix(s)
		proxies = append(proxies, p)
		return err
	})
	for _, s := range strings.FieldsFunc(c.Getenv("SYNCGUARD_TRUSTED_PROXIES"), func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := parsePrefix(s)
		if err != nil {
			return usageError("SYNCGUARD_TRUSTED_PROXIES: %v", err)
		}
		proxies = append(proxies, p)
	}
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usageError("serve: --tls-cert and --tls-key go together")
	}
	metricsToken, err := readToken(*metricsTokenFile)
	if err != nil {
		return err
	}
	if err := bk.check(); err != nil {
		return err
	}
	logger := c.logger(slog.LevelInfo)
	sender, err := c.sender()
	if err != nil {
		return err
	}
	if dir := filepath.Dir(c.DB); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("database directory: %w", err)
		}
	}
	st, e, err := c.engine(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	e.Log = logger
	// Each cycle the guard lets through, and each Allow deletes, wakes the
	// exporter: what they queued goes to the target at once.
	wake := make(chan struct{}, 1)
	e.Queued = func(int64) {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	url := scheme + "://" + displayAddr(ln.Addr().String())
	if e.PublicURL == "" {
		e.PublicURL = url
	}
	var demoPassword string
	if *withDemo {
		if demoPassword, err = setUpDemo(ctx, st, c.DB); err != nil {
			return err
		}
	}
	cfgs, err := st.Configurations(ctx)
	if err != nil {
		return err
	}
	for _, cfg := range cfgs {
		if err := st.SetAgent(ctx, cfg.ID, e.AgentID); err != nil {
			return err
		}
	}
	sched := &guard.Scheduler{Engine: e, Log: logger, Tick: *tick, Grace: c.ShutdownTimeout, Phases: guard.TrackPhases(e)}
	srv, err := web.New(ctx, web.Options{Store: st, Engine: e, Scheduler: sched, Log: logger,
		Secure: scheme == "https" || strings.HasPrefix(e.PublicURL, "https://"), PublicURL: e.PublicURL, TrustedProxies: proxies,
		MetricsToken: metricsToken})
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}

	fmt.Fprintf(c.Stdout, "syncguard %s is running at %s\n", version, url)
	switch {
	case demoPassword != "":
		fmt.Fprintf(c.Stdout, "Sign in as admin with the password %s\n(shown only this once; the demo data lives in %s)\n", demoPassword, filepath.Dir(c.DB))
	case len(cfgs) == 0:
		fmt.Fprintln(c.Stdout, "No configuration yet: add one with 'syncguard config add', and a user with 'syncguard user add'.")
	default:
		fmt.Fprintln(c.Stdout, "Sign in with a user made by 'syncguard user add' (or the demo admin's password shown on first start).")
	}
	if sender == nil {
		fmt.Fprintln(c.Stdout, "Notifications are queued in the outbox but not sent: no --smtp-host is set.")
	}
	if metricsToken != "" {
		fmt.Fprintf(c.Stdout, "Prometheus metrics at %s/metrics, for the bearer token of %s.\n", url, *metricsTokenFile)
	}

	// serve's background loops. Each stops taking work when its context
	// ends and returns once what it had in hand is done; serve waits for
	// all of them (up to --shutdown-timeout) before it exits.
	workers := []worker{
		{"scheduler", sched.Run},
		{"outbox", func(ctx context.Context) {
			(&guard.Outbox{Store: st, Sender: sender, Log: logger}).Run(ctx, 5*time.Second, nil)
		}},
		{"housekeeping", func(ctx context.Context) { housekeeping(ctx, st, e.AgentID, *retention, logger) }},
		// Calls to a target in flight finish (within --shutdown-timeout)
		// and are recorded, and the export lease is released; the rest of
		// the queue waits for the next start.
		{"exporter", func(ctx context.Context) {
			(&guard.Exporter{Store: st, Log: logger, Grace: c.ShutdownTimeout}).Run(ctx, 5*time.Second, wake)
		}},
		// Held deletions become final when their hold ends.
		{"purge", func(ctx context.Context) {
			(&guard.Purger{Store: st, Log: logger, Queued: e.Queued}).Run(ctx, 30*time.Second)
		}},
	}
	if bk.every > 0 {
		b := bk.worker(c, st, logger)
		fmt.Fprintf(c.Stdout, "Backups every %s into %s, the newest %d kept. The secret key (%s) is not in them: keep a copy of it elsewhere.\n",
			bk.every, b.dir, bk.keep, st.SecretKeyFile())
		workers = append(workers, worker{"backups", b.run})
	}
	return serveUntilStopped(ctx, c, hs, ln, *tlsCert, *tlsKey, url, workers, logger)
}

// A worker is one of serve's background loops.
type worker struct {
	name string
	run  func(ctx context.Context)
}

// serveUntilStopped serves HTTP and runs the workers until ctx ends (SIGTERM
// or SIGINT) or the server fails, then stops: no new request, cycle, mail
// or call to a target is taken; requests, a cycle's transaction, a mail
// and the calls to a target in flight get --shutdown-timeout to finish; a cycle still reading or planning is
// abandoned at once (it has written nothing). systemd hears READY=1 once
// everything runs and STOPPING=1 when the stop begins.
func serveUntilStopped(ctx context.Context, c *Config, hs *http.Server, ln net.Listener, cert, key, url string, workers []worker, logger *slog.Logger) error {
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	var wg sync.WaitGroup
	var mu sync.Mutex
	running := map[string]bool{}
	for _, w := range workers {
		running[w.name] = true
		wg.Go(func() {
			w.run(bg)
			mu.Lock()
			delete(running, w.name)
			mu.Unlock()
		})
	}
	serveErr := make(chan error, 1)
	go func() {
		if cert != "" {
			serveErr <- hs.ServeTLS(ln, cert, key)
		} else {
			serveErr <- hs.Serve(ln)
		}
	}()
	if err := sdNotify(c.Getenv, "READY=1\nSTATUS=serving at "+url); err != nil {
		logger.Warn("could not notify systemd", "err", err)
	}
	var err error
	select {
	case <-ctx.Done():
		logger.Info("stopping", "cause", stopCause(ctx), "timeout", c.ShutdownTimeout.String())
	case err = <-serveErr:
		logger.Error("the HTTP server failed; stopping", "err", err)
	}
	sdNotify(c.Getenv, "STOPPING=1\nSTATUS=stopping: finishing the work in hand")
	deadline := time.Now().Add(c.ShutdownTimeout)
	stopBG()
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if serr := hs.Shutdown(sctx); serr != nil {
		logger.Warn("HTTP requests still running at the shutdown timeout; closing them", "err", serr)
		hs.Close()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(deadline) + 10*time.Second):
		// The scheduler cancels the cycles it waited for at the deadline;
		// they roll back. What still runs now is abandoned by the exit.
		mu.Lock()
		logger.Warn("stopping without waiting any longer", "still_running", strings.Join(slices.Sorted(maps.Keys(running)), ","))
		mu.Unlock()
	}
	logger.Info("stopped")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// readToken reads the metrics bearer token from path ("" with no path).
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("metrics token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	switch {
	case tok == "":
		return "", usageError("serve: --metrics-token-file %s is empty: put a long random token in it", path)
	case len(tok) < 16 || strings.ContainsAny(tok, " \t\r\n"):
		return "", usageError("serve: the token of --metrics-token-file must be one word of at least 16 characters")
	}
	return tok, nil
}

// backupFlags are serve's rolling backup settings.
type backupFlags struct {
	every time.Duration
	keep  int
	dir   string
}

func (b *backupFlags) register(c *Config, fs *flag.FlagSet) error {
	var err error
	if b.every, err = envValue(c, "SYNCGUARD_BACKUP_EVERY", 0, time.ParseDuration, "a duration such as 24h"); err != nil {
		return err
	}
	if b.keep, err = envValue(c, "SYNCGUARD_BACKUP_KEEP", 7, strconv.Atoi, "a whole number"); err != nil {
		return err
	}
	b.dir = envOr(c, "SYNCGUARD_BACKUP_DIR", "")
	fs.DurationVar(&b.every, "backup-every", b.every, "take a backup every `interval` while serving, e.g. 24h; 0 = none (env SYNCGUARD_BACKUP_EVERY)")
	fs.IntVar(&b.keep, "backup-keep", b.keep, "keep the newest `N` rolling backups (env SYNCGUARD_BACKUP_KEEP)")
	fs.StringVar(&b.dir, "backup-dir", b.dir, "`folder` of the rolling backups (env SYNCGUARD_BACKUP_DIR; default: backups beside the database)")
	return nil
}

func (b *backupFlags) check() error {
	if b.every < 0 {
		return usageError("serve: --backup-every must not be negative")
	}
	if b.keep < 1 {
		return usageError("serve: --backup-keep must be at least 1")
	}
	return nil
}

func (b *backupFlags) worker(c *Config, st *store.Store, logger *slog.Logger) *backups {
	dir := b.dir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(c.DB), "backups")
	}
	return &backups{st: st, dir: dir, every: b.every, keep: b.keep, log: logger, keyFile: st.SecretKeyFile()}
}

// envValue reads the environment variable name with parse, or returns def
// when it is unset; a bad value is a usage error saying what is wanted.
func envValue[T any](c *Config, name string, def T, parse func(string) (T, error), want string) (T, error) {
	v := c.Getenv(name)
	if v == "" {
		return def, nil
	}
	x, err := parse(v)
	if err != nil {
		return def, usageError("%s: %q is not %s", name, v, want)
	}
	return x, nil
}

// useTempDir points $TMPDIR at dir when the temporary folder is not
// writable (a container from scratch, a read-only root): a cycle spools
// the objects it creates there.
func useTempDir(dir string) {
	f, err := os.CreateTemp("", ".syncguard-probe-*")
	if err == nil {
		f.Close()
		os.Remove(f.Name())
		return
	}
	os.Setenv("TMPDIR", dir)
}

// housekeeping beats the agent's heart and indexes the new log entries'
// text every 30 seconds, and prunes old log entries every hour.
func housekeeping(ctx context.Context, st *store.Store, agentID int64, retention time.Duration, log *slog.Logger) {
	beat := time.NewTicker(30 * time.Second)
	defer beat.Stop()
	prune := func() {
		if n, err := st.PruneLogs(ctx, st.Now().Add(-retention)); err != nil && ctx.Err() == nil {
			log.Error("prune provisioning log", "err", err)
		} else if n > 0 {
			log.Info("pruned provisioning log", "entries", n)
		}
	}
	// The provisioning log's text index is filled here, after the cycles,
	// in small transactions so that a cycle waits little for the writer.
	index := func() {
		for start := time.Now(); time.Since(start) < 10*time.Second; {
			n, err := st.IndexLogText(ctx, 20_000)
			if err != nil && ctx.Err() == nil {
				log.Error("index provisioning log text", "err", err)
			}
			if err != nil || n == 0 {
				return
			}
		}
	}
	prune()
	index()
	lastPrune := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
		}
		index()
		if err := st.Heartbeat(ctx, agentID); err != nil && ctx.Err() == nil {
			log.Error("agent heartbeat", "err", err)
		}
		if time.Since(lastPrune) > time.Hour {
			prune()
			lastPrune = time.Now()
		}
	}
}

// setUpDemo creates, on a database without configurations or users, the
// demo configuration over the shipped LDIF and an admin user with a random
// password, which it returns ("" when the database was not new).
func setUpDemo(ctx context.Context, st *store.Store, dbPath string) (string, error) {
	cfgs, err := st.Configurations(ctx)
	if err != nil {
		return "", err
	}
	users, err := st.UserCount(ctx)
	if err != nil {
		return "", err
	}
	if len(cfgs) > 0 || users > 0 {
		return "", nil
	}
	ldifPath, err := filepath.Abs(filepath.Join(filepath.Dir(dbPath), "demo.ldif"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(ldifPath, demo.LDIF, 0o600); err != nil {
		return "", fmt.Errorf("write the demo directory: %w", err)
	}
	// The scope lists the demo's OUs one by one, so that unticking one in
	// Edit Scope is all it takes to see the guard trip.
	var scope []string
	for _, ou := range append(slices.Clone(demo.DemoOptions.OUs), "Groups") {
		scope = append(scope, "ou="+ou+","+demo.BaseDN)
	}
	cfg := &store.Configuration{Name: "corp", Source: "ldif:" + ldifPath, BaseDN: demo.BaseDN, Scope: scope, Interval: time.Minute,
		Basics: store.Basics{Email: "admin@corp.example", Prevent: true, Threshold: 50, RemindEvery: guard.DefaultRemindEvery}}
	if err := st.CreateConfiguration(ctx, cfg, "demo"); err != nil {
		return "", err
	}
	b := make([]byte, 12)
	rand.Read(b)
	password := base64.RawURLEncoding.EncodeToString(b)
	hash, err := guard.HashPassword(password)
	if err != nil {
		return "", err
	}
	if err := st.CreateUser(ctx, &store.User{Name: "admin", PasswordHash: hash, Role: store.RoleAdmin}); err != nil {
		return "", err
	}
	return password, nil
}

// parsePrefix reads a CIDR, or one address as a prefix of its own.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("%q is not an address or a CIDR such as 10.0.0.0/8", s)
	}
	return p.Masked(), nil
}

func envOr(c *Config, name, def string) string {
	if v := c.Getenv(name); v != "" {
		return v
	}
	return def
}

// displayAddr turns a listen address into one a browser can open.
func displayAddr(a string) string {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return a
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
