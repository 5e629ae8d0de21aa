package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/PuerkitoBio/goquery"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/guard/demo"
	"github.com/syncguard/syncguard/guard/smtp"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "syncsoak:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	duration, sample, interval, flip time.Duration
	clients                          int
	keep, verbose                    bool
}

const password = "soak-test-password"

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	def := 10 * time.Minute
	if v := getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("SOAK_DURATION: %w", err)
		}
		def = d
	}
	var o options
	fs := flag.NewFlagSet("syncsoak", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", def, "how long to soak (env SOAK_DURATION)")
	fs.DurationVar(&o.sample, "sample", 30*time.Second, "how often to sample memory and goroutines")
	fs.DurationVar(&o.interval, "interval", 3*time.Second, "the configurations' cycle interval")
	fs.DurationVar(&o.flip, "flip", 12*time.Second, "how often the flipping configuration loses or regains its OU")
	fs.IntVar(&o.clients, "clients", 4, "concurrent signed-in portal clients")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory")
	fs.BoolVar(&o.verbose, "v", false, "log the engine's warnings")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "syncsoak-*")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(out, "keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	s, err := setUp(ctx, dir, o)
	if err != nil {
		return err
	}
	return s.soak(ctx, out)
}

// soaker is one soak run.
type soaker struct {
	o       options
	dir     string
	st      *store.Store
	eng     *guard.Engine
	sched   *guard.Scheduler
	outbox  *guard.Outbox
	mail    *mailServer
	base    string // the portal's URL
	srv     *http.Server
	agentID int64

	configs       []*store.Configuration
	flipping      *store.Configuration
	full, without []byte // the flipping configuration's source with and without its OU
	churn         *store.Configuration
	churnSrc      [2][]byte

	requests, failures      atomic.Int64
	allows, restarts, flips atomic.Int64
	mu                      sync.Mutex
	errs                    []string
	samples                 []sample
	started                 time.Time
}

type sample struct {
	at                  time.Duration
	heap, sys           uint64
	goroutines          int
	requests, failures  int64
	cycles, quarantined int
	sent, pending       int
}

func setUp(ctx context.Context, dir string, o options) (*soaker, error) {
	st, err := store.Open(ctx, filepath.Join(dir, "syncguard.db"))
	if err != nil {
		return nil, err
	}
	s := &soaker{o: o, dir: dir, st: st}
	host, _ := os.Hostname()
	if s.agentID, err = st.RegisterAgent(ctx, "soak@"+host, host, "soak"); err != nil {
		return nil, err
	}
	for _, u := range []struct{ name, role string }{{"admin", store.RoleAdmin}, {"viewer", store.RoleViewer}} {
		hash, err := guard.HashPassword(password)
		if err != nil {
			return nil, err
		}
		if err := st.CreateUser(ctx, &store.User{Name: u.name, PasswordHash: hash, Role: u.role}); err != nil {
			return nil, err
		}
	}
	gen := func(users, groups int, seed int64) ([]byte, error) {
		var b bytes.Buffer
		err := demo.Generate(&b, demo.Options{Users: users, Groups: groups, MembersPerGroup: 8, Seed: seed, UUIDs: true})
		return b.Bytes(), err
	}
	// steady: 2,000 users that do not change. churn: 1,000 users whose
	// titles change at every flip (updates). flipping: 600 users whose Sales
	// OU (120) leaves and returns, against a threshold of 50.
	steady, err := gen(2000, 20, 1)
	if err != nil {
		return nil, err
	}
	churn, err := gen(1000, 10, 2)
	if err != nil {
		return nil, err
	}
	if s.full, err = gen(600, 6, 3); err != nil {
		return nil, err
	}
	s.without = withoutOU(s.full, "ou=Sales,"+demo.BaseDN)
	s.churnSrc = [2][]byte{churn, bytes.ReplaceAll(churn, []byte("\ntitle: "), []byte("\ntitle: Acting "))}
	for _, c := range []struct {
		name      string
		data      []byte
		threshold int
	}{{"steady", steady, 500}, {"churn", churn, 500}, {"flipping", s.full, 50}} {
		path := filepath.Join(dir, c.name+".ldif")
		if err := writeAtomic(path, c.data); err != nil {
			return nil, err
		}
		cfg := &store.Configuration{Name: c.name, Source: "ldif:" + path, BaseDN: demo.BaseDN, Interval: o.interval,
			Basics: store.Basics{Email: "admins@corp.example", Prevent: true, Threshold: c.threshold}}
		if err := st.CreateConfiguration(ctx, cfg, "soak"); err != nil {
			return nil, err
		}
		if err := st.SetAgent(ctx, cfg.ID, s.agentID); err != nil {
			return nil, err
		}
		s.configs = append(s.configs, cfg)
	}
	s.churn, s.flipping = s.configs[1], s.configs[2]
	return s, nil
}

func (s *soaker) soak(ctx context.Context, out io.Writer) error {
	defer s.st.Close()
	logLevel := slog.LevelError + 1
	if s.o.verbose {
		logLevel = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.base = "http://" + ln.Addr().String()
	if s.mail, err = startMail(); err != nil {
		return err
	}
	defer s.mail.close()
	sender, err := smtp.NewSender(smtp.Config{Host: "127.0.0.1", Port: s.mail.port, TLS: smtp.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	s.eng = &guard.Engine{Store: s.st, AgentID: s.agentID, PublicURL: s.base, Log: logger}
	s.sched = &guard.Scheduler{Engine: s.eng, Log: logger, Tick: 250 * time.Millisecond}
	s.outbox = &guard.Outbox{Store: s.st, Sender: sender, Log: logger}
	portal, err := web.New(ctx, web.Options{Store: s.st, Engine: s.eng, Scheduler: s.sched, Log: logger})
	if err != nil {
		return err
	}
	s.srv = &http.Server{Handler: portal, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)

	bg, stopBG := context.WithCancel(context.Background())
	var bgWG sync.WaitGroup
	bgWG.Go(func() { s.sched.Run(bg) })
	bgWG.Go(func() { s.outbox.Run(bg, 2*time.Second, nil) })

	s.started = time.Now()
	fmt.Fprintf(out, "soaking %s for %v: 3 configurations every %v, %d clients, a sample every %v\n",
		s.base, s.o.duration, s.o.interval, s.o.clients, s.o.sample)
	work, stopWork := context.WithTimeout(ctx, s.o.duration)
	defer stopWork()
	var wg sync.WaitGroup
	for i := range s.o.clients {
		user := "admin"
		if i%2 == 1 {
			user = "viewer"
		}
		wg.Go(func() { s.browse(work, i, user) })
	}
	wg.Go(func() { s.admin(work) })
	wg.Go(func() { s.flipper(work) })
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "elapsed\trequests\terrors\tcycles\tquarantined\tallowed\trestarted\tmail sent\tpending\theap MB\tsys MB\tgoroutines\t")
	tw.Flush()
	tick := time.NewTicker(s.o.sample)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-work.Done():
			done = true
		case <-tick.C:
			if work.Err() == nil {
				s.takeSample(tw)
			}
		}
	}
	wg.Wait()
	// Let the last cycles and mail finish, then stop everything.
	time.Sleep(2 * time.Second)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.srv.Shutdown(sctx)
	stopBG()
	bgWG.Wait()
	s.takeSample(tw)
	return s.verdict(out)
}

func (s *soaker) takeSample(tw *tabwriter.Writer) {
	ctx := context.Background()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sm := sample{at: time.Since(s.started), heap: ms.HeapAlloc, sys: ms.Sys, goroutines: runtime.NumGoroutine(),
		requests: s.requests.Load(), failures: s.failures.Load()}
	for _, c := range s.configs {
		cs, err := s.st.Cycles(ctx, c.ID, 1<<30)
		if err != nil {
			s.fail("cycles: %v", err)
		}
		for _, cy := range cs {
			sm.cycles++
			if cy.Outcome == store.OutcomeQuarantined && cy.StagedDeletes > 0 {
				sm.quarantined++
			}
		}
	}
	if ns, err := s.st.Notifications(ctx, 1<<30); err == nil {
		for _, n := range ns {
			switch n.Status {
			case store.MailSent:
				sm.sent++
			case store.MailPending:
				sm.pending++
			}
		}
	}
	s.mu.Lock()
	s.samples = append(s.samples, sm)
	s.mu.Unlock()
	fmt.Fprintf(tw, "%v\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%d\t\n", sm.at.Round(time.Second), sm.requests, sm.failures,
		sm.cycles, sm.quarantined, s.allows.Load(), s.restarts.Load(), sm.sent, sm.pending,
		float64(sm.heap)/(1<<20), float64(sm.sys)/(1<<20), sm.goroutines)
	tw.Flush()
}

func (s *soaker) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures.Add(1)
	if len(s.errs) < 20 {
		s.errs = append(s.errs, fmt.Sprintf(format, args...))
	}
}

// verdict checks what the run left and prints why it failed, if it did.
func (s *soaker) verdict(out io.Writer) error {
	ctx := context.Background()
	var problems []string
	s.mu.Lock()
	problems = append(problems, s.errs...)
	samples := s.samples
	s.mu.Unlock()
	if n := s.failures.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d requests or checks failed", n))
	}
	failed := 0
	for _, c := range s.configs {
		cs, err := s.st.Cycles(ctx, c.ID, 1<<30)
		if err != nil {
			return err
		}
		for _, cy := range cs {
			if cy.Outcome == store.OutcomeFailed {
				failed++
				if failed <= 5 {
					problems = append(problems, fmt.Sprintf("cycle %d of %s failed: %s", cy.ID, c.Name, cy.Error))
				}
			}
		}
	}
	if res, err := s.st.IntegrityCheck(ctx); err != nil || res != "ok" {
		problems = append(problems, fmt.Sprintf("integrity_check: %q, %v", res, err))
	}
	ns, err := s.st.Notifications(ctx, 1<<30)
	if err != nil {
		return err
	}
	for _, n := range ns {
		if n.Status == store.MailFailed || n.Status == store.MailPending && time.Since(n.CreatedAt) > 10*time.Second {
			problems = append(problems, fmt.Sprintf("notification %d is %s after %d attempts: %s", n.ID, n.Status, n.Attempts, n.LastError))
		}
	}
	if got := s.mail.count(); got != countSent(ns) {
		problems = append(problems, fmt.Sprintf("the mail server received %d messages, the outbox sent %d", got, countSent(ns)))
	}
	if s.o.duration >= time.Minute && (s.allows.Load() == 0 || s.restarts.Load() == 0) {
		problems = append(problems, fmt.Sprintf("the guard was allowed %d and restarted %d times: want both", s.allows.Load(), s.restarts.Load()))
	}
	problems = append(problems, growth(samples)...)
	if len(problems) > 0 {
		fmt.Fprintln(out, "soak: FAIL")
		for _, p := range problems {
			fmt.Fprintln(out, "  -", p)
		}
		return errors.New("soak failed")
	}
	last := samples[len(samples)-1]
	fmt.Fprintf(out, "soak: PASS: %d requests, %d cycles (%d quarantines: %d allowed, %d restarted), %d notifications sent, no errors, no growth\n",
		last.requests, last.cycles, last.quarantined, s.allows.Load(), s.restarts.Load(), last.sent)
	return nil
}

func countSent(ns []*store.Notification) int {
	n := 0
	for _, x := range ns {
		if x.Status == store.MailSent {
			n++
		}
	}
	return n
}

// growth compares the last third of the samples to the first third (the
// final one, taken after shutdown, left out): heap and OS memory may not
// grow by more than half plus some slack, goroutines by more than ten.
func growth(samples []sample) []string {
	if len(samples) > 1 {
		samples = samples[:len(samples)-1]
	}
	if len(samples) < 3 {
		return nil
	}
	k := len(samples) / 3
	first, last := samples[:k], samples[len(samples)-k:]
	mean := func(ss []sample, f func(sample) float64) float64 {
		t := 0.0
		for _, s := range ss {
			t += f(s)
		}
		return t / float64(len(ss))
	}
	var out []string
	check := func(what string, f func(sample) float64, slack float64) {
		a, b := mean(first, f), mean(last, f)
		if b > a*1.5+slack {
			out = append(out, fmt.Sprintf("%s grew from %.1f to %.1f (first third against last third of the samples)", what, a, b))
		}
	}
	check("heap MB", func(s sample) float64 { return float64(s.heap) / (1 << 20) }, 8)
	check("sys MB", func(s sample) float64 { return float64(s.sys) / (1 << 20) }, 16)
	check("goroutines", func(s sample) float64 { return float64(s.goroutines) }, 10)
	return out
}

// client is a signed-in portal user.
type client struct {
	s    *soaker
	name string
	hc   *http.Client
}

func (s *soaker) signIn(ctx context.Context, user string) (*client, error) {
	jar, _ := cookiejar.New(nil)
	c := &client{s: s, name: user, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	doc, err := c.page(ctx, "/login")
	if err != nil {
		return nil, err
	}
	tok, _ := doc.Find(`input[name="_csrf"]`).First().Attr("value")
	res, err := c.post(ctx, "/login", url.Values{"username": {user}, "password": {password}, "_csrf": {tok}})
	if err != nil {
		return nil, err
	}
	if res.Request.URL.Path != "/configurations" {
		return nil, fmt.Errorf("sign in as %s: landed on %s", user, res.Request.URL)
	}
	return c, nil
}

// get fetches path (following redirects) and checks the answer: 2xx, and
// not the sign-in page (the session must hold).
func (c *client) get(ctx context.Context, path string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.s.base+path, nil)
	if err != nil {
		return nil, nil, err
	}
	return c.do(req, path)
}

func (c *client) post(ctx context.Context, path string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.s.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, _, err := c.do(req, path)
	return res, err
}

func (c *client) do(req *http.Request, path string) (*http.Response, []byte, error) {
	c.s.requests.Add(1)
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode >= 400 {
		return res, body, fmt.Errorf("%s %s as %s: %s", req.Method, path, c.name, res.Status)
	}
	if res.Request.URL.Path == "/login" && path != "/login" {
		return res, body, fmt.Errorf("%s %s as %s: sent to sign in", req.Method, path, c.name)
	}
	return res, body, nil
}

func (c *client) page(ctx context.Context, path string) (*goquery.Document, error) {
	_, body, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	return goquery.NewDocumentFromReader(bytes.NewReader(body))
}

// browse signs in and visits a mix of pages until ctx ends, a request at a
// time with a short think time: bounded load.
func (s *soaker) browse(ctx context.Context, i int, user string) {
	c, err := s.signIn(ctx, user)
	if err != nil {
		if ctx.Err() == nil {
			s.fail("client %d: %v", i, err)
		}
		return
	}
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	for ctx.Err() == nil {
		cfg := s.configs[rng.IntN(len(s.configs))]
		id := fmt.Sprint(cfg.ID)
		pages := []string{"/configurations", "/configurations/" + id, "/configurations/" + id + "/status",
			"/configurations/" + id + "/logs", "/configurations/" + id + "/logs?action=Update",
			"/configurations/" + id + "/logs?action=StagedDelete&type=user", "/configurations/" + id + "/logs?q=sales",
			"/configurations/" + id + "/logs.csv?action=Delete", "/agents/" + fmt.Sprint(s.agentID), "/audit", "/outbox", "/healthz"}
		if user == "admin" {
			pages = append(pages, "/configurations/"+id+"/basics/edit", "/configurations/"+id+"/allow-deletes",
				"/configurations/"+id+"/restart")
		}
		p := pages[rng.IntN(len(pages))]
		if strings.HasSuffix(p, "/logs") {
			// And one entry's details, when there is one.
			doc, err := c.page(ctx, p)
			if err == nil {
				if href, ok := doc.Find(`a[aria-label^="Details for"]`).First().Attr("href"); ok {
					_, _, err = c.get(ctx, href)
				}
			}
			if err != nil && ctx.Err() == nil {
				s.fail("client %d: %v", i, err)
			}
		} else if _, _, err := c.get(ctx, p); err != nil && ctx.Err() == nil {
			s.fail("client %d: %v", i, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(20+rng.IntN(60)) * time.Millisecond):
		}
	}
}

// admin acts on each quarantine of the flipping configuration through the
// portal, alternately: Allow deletes (the OU's users go), or put the OU
// back in the source and Restart sync (nothing is deleted).
func (s *soaker) admin(ctx context.Context) {
	c, err := s.signIn(ctx, "admin")
	if err != nil {
		if ctx.Err() == nil {
			s.fail("admin: %v", err)
		}
		return
	}
	id := fmt.Sprint(s.flipping.ID)
	n := 0
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		cfg, err := s.st.Configuration(ctx, s.flipping.ID)
		if err != nil {
			if ctx.Err() == nil {
				s.fail("admin: %v", err)
			}
			return
		}
		if cfg.QuarantineID == 0 {
			continue
		}
		// The status page shows the quarantine as people see it.
		doc, err := c.page(ctx, "/configurations/"+id+"/status")
		if err == nil && !strings.Contains(doc.Text(), "Delete threshold exceeded") {
			err = errors.New("the status page does not say Delete threshold exceeded")
		}
		action := "/allow-deletes"
		if n%2 == 1 {
			action = "/restart"
			if err == nil {
				err = writeAtomic(strings.TrimPrefix(cfg.Source, "ldif:"), s.full)
			}
		}
		n++
		if err == nil {
			doc, err = c.page(ctx, "/configurations/"+id+action)
		}
		if err == nil {
			tok, _ := doc.Find(`input[name="_csrf"]`).First().Attr("value")
			q, _ := doc.Find(`input[name="quarantine"]`).First().Attr("value")
			var res *http.Response
			res, err = c.post(ctx, "/configurations/"+id+action, url.Values{"_csrf": {tok}, "quarantine": {q}})
			if err == nil && res.Request.URL.Path != "/configurations/"+id {
				err = fmt.Errorf("after %s: landed on %s", action, res.Request.URL)
			}
		}
		switch {
		case err != nil && ctx.Err() == nil:
			s.fail("admin %s: %v", action, err)
		case err == nil && action == "/restart":
			s.restarts.Add(1)
		case err == nil:
			s.allows.Add(1)
		}
	}
}

// flipper takes the flipping configuration's OU out of its source and
// puts it back, and changes the churn configuration's titles, every flip
// interval; never while the flipping configuration is quarantined.
func (s *soaker) flipper(ctx context.Context) {
	path := strings.TrimPrefix(s.flipping.Source, "ldif:")
	churnPath := strings.TrimPrefix(s.churn.Source, "ldif:")
	out := false
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.o.flip):
		}
		if err := writeAtomic(churnPath, s.churnSrc[i%2]); err != nil {
			s.fail("flipper: %v", err)
		}
		cfg, err := s.st.Configuration(ctx, s.flipping.ID)
		if err != nil || cfg.QuarantineID != 0 {
			continue
		}
		data := s.without
		cur, _ := os.ReadFile(path)
		if out = bytes.Equal(cur, s.without); out {
			data = s.full
		}
		if err := writeAtomic(path, data); err != nil {
			s.fail("flipper: %v", err)
		}
		s.flips.Add(1)
	}
}

// writeAtomic replaces a file at once: a cycle never reads half of it.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// withoutOU returns the LDIF without the records at or below ou.
func withoutOU(b []byte, ou string) []byte {
	var out bytes.Buffer
	suffix := "," + strings.ToLower(ou)
	for _, rec := range bytes.SplitAfter(b, []byte("\n\n")) {
		first, _, _ := bytes.Cut(rec, []byte("\n"))
		if dn, ok := bytes.CutPrefix(first, []byte("dn: ")); ok {
			low := strings.ToLower(string(dn))
			if low == strings.ToLower(ou) || strings.HasSuffix(low, suffix) {
				continue
			}
		}
		out.Write(rec)
	}
	return out.Bytes()
}

// mailServer is an SMTP server on loopback that accepts and counts mail.
type mailServer struct {
	srv  *gosmtp.Server
	port int
	n    atomic.Int64
}

func startMail() (*mailServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &mailServer{port: l.Addr().(*net.TCPAddr).Port}
	m.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &mailSession{m: m}, nil }))
	m.srv.Domain = "localhost"
	m.srv.ReadTimeout, m.srv.WriteTimeout = 10*time.Second, 10*time.Second
	go m.srv.Serve(l)
	return m, nil
}

func (m *mailServer) close()     { m.srv.Close() }
func (m *mailServer) count() int { return int(m.n.Load()) }

type mailSession struct{ m *mailServer }

func (s *mailSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *mailSession) Reset()                                 {}
func (s *mailSession) Logout() error                          { return nil }
func (s *mailSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.m.n.Add(1)
	return nil
}
