// Package daemon holds what the test servers that run a real directory
// (slapdtest, sambatest) share: finding their binaries, skipping or failing
// a test that cannot run them, and collecting their output.
package daemon

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Require skips the test when err says the server cannot run here, or
// fails it when the environment variable CI is "true"; hint says what to
// install.
func Require(tb testing.TB, err error, hint string) {
	tb.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "true" {
		tb.Skipf("%v: %s (with CI=true this fails)", err, hint)
		return
	}
	tb.Fatalf("%v: %s (with CI=true this fails)", err, hint)
}

// LookPath finds an executable in PATH, else in dirs (sbin directories
// are not in every PATH).
func LookPath(name string, dirs ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// Output collects a server's output for error messages.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Process is a server a test runs in the foreground.
type Process struct {
	cmd    *exec.Cmd
	Exited chan struct{} // closed once the process has exited and been waited for
	Output *Output       // what it wrote to stdout and stderr
}

// Start starts cmd, collecting its output.
func Start(cmd *exec.Cmd) (*Process, error) {
	p := &Process{cmd: cmd, Exited: make(chan struct{}), Output: &Output{}}
	cmd.Stdout, cmd.Stderr = p.Output, p.Output
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		cmd.Wait()
		close(p.Exited)
	}()
	return p, nil
}

// State says how the process ended (after Exited is closed).
func (p *Process) State() *os.ProcessState { return p.cmd.ProcessState }

// Stop sends SIGTERM, then SIGKILL after 10s, and waits for the process.
func (p *Process) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Exited:
	case <-time.After(10 * time.Second):
		p.Kill()
	}
}

// Kill kills the process now and waits for it.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.Exited
}
