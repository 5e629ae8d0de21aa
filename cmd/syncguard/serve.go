package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
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
	logger := slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
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
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
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
			ln.Close()
			return err
		}
	}
	cfgs, err := st.Configurations(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	for _, cfg := range cfgs {
		if err := st.SetAgent(ctx, cfg.ID, e.AgentID); err != nil {
			ln.Close()
			return err
		}
	}
	sched := &guard.Scheduler{Engine: e, Log: logger, Tick: *tick}
	srv, err := web.New(ctx, web.Options{Store: st, Engine: e, Scheduler: sched, Log: logger,
		Secure: scheme == "https" || strings.HasPrefix(e.PublicURL, "https://"), PublicURL: e.PublicURL, TrustedProxies: proxies,
		MetricsToken: metricsToken})
	if err != nil {
		ln.Close()
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

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); sched.Run(bg) }()
	go func() {
		defer wg.Done()
		(&guard.Outbox{Store: st, Sender: sender, Log: logger}).Run(bg, 5*time.Second, nil)
	}()
	go func() {
		defer wg.Done()
		housekeeping(bg, st, e.AgentID, *retention, logger)
	}()

	serveErr := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			serveErr <- hs.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			serveErr <- hs.Serve(ln)
		}
	}()
	select {
	case <-ctx.Done():
		logger.Info("shutting down: finishing running cycles")
	case err = <-serveErr:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	stopBG() // the scheduler lets running cycles finish (or roll back after its grace period)
	wg.Wait()
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
		Basics: store.Basics{Email: "admin@corp.example", Prevent: true, Threshold: 50}}
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
