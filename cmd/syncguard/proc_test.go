package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/demo"
)

// The tests of this file and those that use it run syncguard as a real
// process, built once per test run (version stamped as make release
// does), and send it real signals.

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

const (
	testVersion = "test-1.2.3"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{binDir, big.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// syncguardBinary builds syncguard (CGO_ENABLED=0, -trimpath, version and
// commit stamped) once and returns its path.
func syncguardBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "syncguard-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "syncguard")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags", "-X main.version="+testVersion+" -X main.commit="+testCommit, "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is syncguard running as a child process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer // stdout and stderr, line by line as they come
	lines  []string
	done   chan struct{}
	code   int
	exited time.Time
}

// startProc starts syncguard with args and the environment env (nothing
// of the test's own environment but PATH).
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startProcIn(t, "", env, args...)
}

// startProcIn starts syncguard in the folder dir.
func startProcIn(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(syncguardBinary(t), args...)
	p.cmd.Dir = dir
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		wg.Go(func() {
			s := bufio.NewScanner(r)
			s.Buffer(nil, 1<<20)
			for s.Scan() {
				p.mu.Lock()
				p.lines = append(p.lines, s.Text())
				p.out.WriteString(s.Text() + "\n")
				p.mu.Unlock()
			}
		})
	}
	go func() {
		wg.Wait()
		err := p.cmd.Wait()
		p.mu.Lock()
		p.code, p.exited = p.cmd.ProcessState.ExitCode(), time.Now()
		if err != nil && p.code == 0 {
			p.code = -1
		}
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// output returns everything the process wrote so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until a line the process wrote satisfies match and
// returns it; the test fails if the process exits or timeout passes first.
func (p *proc) waitFor(what string, timeout time.Duration, match func(line string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	seen := 0
	for {
		p.mu.Lock()
		lines := p.lines[seen:]
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if match(l) {
				return l
			}
		}
		select {
		case <-p.done:
			p.mu.Lock()
			more := len(p.lines) > seen
			p.mu.Unlock()
			if !more {
				p.t.Fatalf("syncguard %s exited (%d) before %s:\n%s", strings.Join(p.cmd.Args[1:], " "), p.code, what, p.output())
			}
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("syncguard %s: no %s within %v:\n%s", strings.Join(p.cmd.Args[1:], " "), what, timeout, p.output())
		}
	}
}

// waitUntil waits until cond holds, checking it every 10 ms; the test
// fails if the process exits or timeout passes first.
func (p *proc) waitUntil(what string, timeout time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-p.done:
			p.t.Fatalf("syncguard %s exited (%d) before %s:\n%s", strings.Join(p.cmd.Args[1:], " "), p.code, what, p.output())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("syncguard %s: no %s within %v:\n%s", strings.Join(p.cmd.Args[1:], " "), what, timeout, p.output())
		}
	}
}

// waitContains waits for a line holding s.
func (p *proc) waitContains(s string, timeout time.Duration) string {
	p.t.Helper()
	return p.waitFor(fmt.Sprintf("line with %q", s), timeout, func(l string) bool { return strings.Contains(l, s) })
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("syncguard %s still running after %v:\n%s", strings.Join(p.cmd.Args[1:], " "), timeout, p.output())
	}
	return p.code
}

// logLines decodes the JSON log lines of the process (the others are
// skipped), and fails on a line that starts like JSON but is not.
func (p *proc) logLines() []map[string]any {
	p.t.Helper()
	var out []map[string]any
	for l := range strings.Lines(p.output()) {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			p.t.Errorf("a log line that is not JSON: %v\n%s", err, l)
			continue
		}
		out = append(out, m)
	}
	return out
}

// startServe starts syncguard serve on a free port with JSON logs and
// waits until it serves; it returns the process and the portal's URL.
func startServe(t *testing.T, env []string, args ...string) (*proc, string) {
	t.Helper()
	p := startProc(t, env, append([]string{"--log-format", "json", "serve", "--addr", "127.0.0.1:0", "--tick", "50ms"}, args...)...)
	line := p.waitContains(" is running at ", 2*time.Minute)
	_, url, _ := strings.Cut(line, " is running at ")
	return p, url
}

// big is a directory of 100,000 users (and 200 groups) in an LDIF file,
// made once for the tests that need a long cycle.
var big struct {
	once sync.Once
	dir  string
	ldif string
	err  error
}

const (
	bigUsers   = 100_000
	bigGroups  = 200
	bigObjects = bigUsers + bigGroups
)

func bigLDIF(t *testing.T) string {
	t.Helper()
	big.once.Do(func() {
		if big.dir, big.err = os.MkdirTemp("", "syncguard-100k-"); big.err != nil {
			return
		}
		big.ldif = filepath.Join(big.dir, "corp.ldif")
		f, err := os.Create(big.ldif)
		if err != nil {
			big.err = err
			return
		}
		opts := demo.Options{BaseDN: testBase, OUs: testOUs, Users: bigUsers, Groups: bigGroups, Seed: 11, UUIDs: true}
		big.err = demo.Generate(f, opts)
		if err := f.Close(); big.err == nil {
			big.err = err
		}
	})
	if big.err != nil {
		t.Fatal(big.err)
	}
	return big.ldif
}

// state is what a cycle commits, read with plain SQL.
type state struct {
	Objects, Cycles, Logs, Leases int
	Integrity                     string
}

// readOnly opens a database file read-only with plain SQL; close it.
func readOnly(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func readState(t *testing.T, path string) state {
	t.Helper()
	db := readOnly(t, path)
	defer db.Close()
	var s state
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&s.Integrity); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM target_objects), (SELECT count(*) FROM cycles),
		(SELECT count(*) FROM provisioning_log), (SELECT count(*) FROM cycle_locks)`).Scan(&s.Objects, &s.Cycles, &s.Logs, &s.Leases); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// leaseHeld reports whether a cycle holds the lease of configuration 1.
func leaseHeld(t *testing.T, path string) bool {
	t.Helper()
	db := readOnly(t, path)
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM cycle_locks WHERE config_id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// copyFile copies a closed database (or any file) to dst, 0600.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
