package browser

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/smtp"
	"github.com/syncguard/syncguard/guard/smtp/smtptest"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/web"
)

// The people who sign in. Passwords are at least guard.MinPasswordLength long.
const (
	adminName      = "admin"
	adminPassword  = "correct horse battery"
	viewerName     = "viewer"
	viewerPassword = "viewer horse battery"
)

// The demo configuration: the demo directory (300 users spread over five
// OUs, 10 groups) with every OU ticked in the scope, so that unticking one
// in Edit Scope moves 60 users out of scope.
const (
	configName = "corp"
	threshold  = 50
	notifyTo   = "alerts@corp.example"
	// salesOU is the OU removed to trip the guard: 60 users.
	salesOU    = "ou=Sales," + demo.BaseDN
	salesUsers = 60
	allUsers   = 300
	allGroups  = 10
)

var scopeOUs = []string{
	"ou=Sales," + demo.BaseDN, "ou=Engineering," + demo.BaseDN, "ou=Finance," + demo.BaseDN,
	"ou=Marketing," + demo.BaseDN, "ou=Support," + demo.BaseDN, "ou=Groups," + demo.BaseDN,
}

// portal is a running portal over its own database, LDIF source and SMTP server.
type portal struct {
	URL      string
	Store    *store.Store
	Engine   *guard.Engine
	SMTP     *smtptest.Server
	LDIF     string // path of the source file
	ConfigID int64
	AgentID  int64
}

// hashes are bcrypt hashes of the two passwords, made once per test binary
// (each costs ~70 ms).
var hashes = sync.OnceValues(func() (map[string]string, error) {
	m := map[string]string{}
	for name, pw := range map[string]string{adminName: adminPassword, viewerName: viewerPassword} {
		h, err := guard.HashPassword(pw)
		if err != nil {
			return nil, err
		}
		m[name] = h
	}
	return m, nil
})

// startPortal starts the real portal on a free loopback port: a fresh
// SQLite database in t.TempDir(), the demo directory as an LDIF source,
// the guard engine (its PublicURL is the portal's address), the scheduler
// ticking every 100 ms, the outbox delivering to an in-process SMTP
// server, and the exporter sending to the targets configurations have. The first cycle has run (Succeeded) when it returns; the schedule
// interval is an hour, so later cycles run only when the test asks for one.
// Everything stops when the test ends.
func startPortal(t *testing.T) *portal {
	t.Helper()
	requireChromium(t) // nothing here is of use without a browser
	ctx := t.Context()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "syncguard.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })

	p := &portal{Store: st, LDIF: filepath.Join(dir, "directory.ldif")}
	if err := os.WriteFile(p.LDIF, demo.LDIF, 0o600); err != nil {
		t.Fatal(err)
	}
	if p.AgentID, err = st.RegisterAgent(ctx, "agent@browser-test", "browser-test.local", "test"); err != nil {
		t.Fatalf("RegisterAgent: %v", err)
	}
	cfg := &store.Configuration{Name: configName, Source: "ldif:" + p.LDIF, BaseDN: demo.BaseDN, Scope: scopeOUs,
		Interval: time.Hour, Basics: store.Basics{Email: notifyTo, Prevent: true, Threshold: threshold}}
	if err := guard.ValidateConfiguration(cfg); err != nil {
		t.Fatalf("configuration: %v", err)
	}
	if err := st.CreateConfiguration(ctx, cfg, "test"); err != nil {
		t.Fatalf("CreateConfiguration: %v", err)
	}
	p.ConfigID = cfg.ID
	if err := st.SetAgent(ctx, cfg.ID, p.AgentID); err != nil {
		t.Fatalf("SetAgent: %v", err)
	}
	hs, err := hashes()
	if err != nil {
		t.Fatalf("hash passwords: %v", err)
	}
	for _, u := range []*store.User{
		{Name: adminName, PasswordHash: hs[adminName], Role: store.RoleAdmin},
		{Name: viewerName, PasswordHash: hs[viewerName], Role: store.RoleViewer},
	} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
	}

	p.SMTP = smtptest.Start(t, smtptest.Options{})
	sender, err := smtp.NewSender(smtp.Config{Host: p.SMTP.Host, Port: p.SMTP.Port, TLS: smtp.TLSNone,
		From: "syncguard@corp.example", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("smtp.NewSender: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p.URL = "http://" + ln.Addr().String()
	log := slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p.Engine = &guard.Engine{Store: st, AgentID: p.AgentID, PublicURL: p.URL, Log: log}
	// Each cycle the guard lets through wakes the exporter, as in serve.
	wake := make(chan struct{}, 1)
	p.Engine.Queued = func(int64) {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	if cy, err := p.Engine.RunCycle(ctx, cfg.ID, guard.TriggerManual); err != nil || cy.Outcome != store.OutcomeSucceeded {
		ln.Close()
		t.Fatalf("first cycle: %+v, %v", cy, err)
	}
	sched := &guard.Scheduler{Engine: p.Engine, Log: log, Tick: 100 * time.Millisecond, Grace: 5 * time.Second}
	srv, err := web.New(ctx, web.Options{Store: st, Engine: p.Engine, Scheduler: sched, Log: log})
	if err != nil {
		ln.Close()
		t.Fatalf("web.New: %v", err)
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}

	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	wg.Go(func() { sched.Run(bg) })
	wg.Go(func() { (&guard.Outbox{Store: st, Sender: sender, Log: log}).Run(bg, 100*time.Millisecond, nil) })
	wg.Go(func() { (&guard.Exporter{Store: st, Log: log}).Run(bg, 100*time.Millisecond, wake) })
	t.Cleanup(func() {
		// Shutdown closes the browser's idle connections at once and waits
		// for requests in flight, so nothing logs after the test ends.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := httpSrv.Shutdown(sctx); err != nil {
			httpSrv.Close()
		}
		stop()
		wg.Wait()
		sched.Wait()
	})
	return p
}

// testWriter sends the portal's log to the test log.
type testWriter struct {
	t  *testing.T
	mu sync.Mutex
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// configURL is the address of a page of the demo configuration.
func (p *portal) configURL(suffix string) string {
	return p.URL + "/configurations/" + itoa(p.ConfigID) + suffix
}

// removeOU rewrites the LDIF source without the entries at or below dn, as
// if that OU had been deleted or moved away in the directory.
func (p *portal) removeOU(t *testing.T, dn string) {
	t.Helper()
	var out bytes.Buffer
	suffix := "," + strings.ToLower(dn)
	removed := 0
	for _, rec := range bytes.Split(demo.LDIF, []byte("\n\n")) {
		first, _, _ := bytes.Cut(bytes.TrimLeft(rec, "\n"), []byte("\n"))
		if d, ok := bytes.CutPrefix(first, []byte("dn: ")); ok {
			low := strings.ToLower(string(d))
			if low == strings.ToLower(dn) || strings.HasSuffix(low, suffix) {
				removed++
				continue
			}
		}
		out.Write(rec)
		out.WriteString("\n\n")
	}
	if removed == 0 {
		t.Fatalf("removeOU: nothing under %s in the demo directory", dn)
	}
	writeFileAtomic(t, p.LDIF, out.Bytes())
}

// restoreLDIF writes the whole demo directory back.
func (p *portal) restoreLDIF(t *testing.T) {
	t.Helper()
	writeFileAtomic(t, p.LDIF, demo.LDIF)
}

// writeFileAtomic replaces a file so that a cycle never reads half of it.
func writeFileAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// config reads the demo configuration from the store.
func (p *portal) config(t *testing.T) *store.Configuration {
	t.Helper()
	cfg, err := p.Store.Configuration(context.Background(), p.ConfigID)
	if err != nil {
		t.Fatalf("Configuration: %v", err)
	}
	return cfg
}

// objectCounts returns the users and groups in the target directory.
func (p *portal) objectCounts(t *testing.T) (users, groups int) {
	t.Helper()
	users, groups, err := p.Store.ObjectCounts(context.Background(), p.ConfigID)
	if err != nil {
		t.Fatalf("ObjectCounts: %v", err)
	}
	return users, groups
}

// logCount counts the provisioning log entries with an action (all cycles).
func (p *portal) logCount(t *testing.T, action string) int {
	t.Helper()
	n := 0
	q := store.LogQuery{ConfigID: p.ConfigID, Action: action, Limit: 1000}
	for {
		entries, err := p.Store.Logs(context.Background(), q)
		if err != nil {
			t.Fatalf("Logs: %v", err)
		}
		n += len(entries)
		if len(entries) < q.Limit {
			return n
		}
		q.Before = entries[len(entries)-1].ID
	}
}
