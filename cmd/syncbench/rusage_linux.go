package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"
)

// runMeasured runs cmd and returns its peak resident set size in KiB.
//
// Not ru_maxrss: Linux carries the high-water mark of the memory a child
// had before exec over to it, and Go starts children with vfork, which
// shares syncbench's own memory until exec; every child would weigh at
// least what syncbench weighs (it parses LDIF and opens databases
// in-process). VmHWM in /proc/PID/status counts the exec'd program alone;
// it is polled every 2 ms while the child runs (a peak in its very last
// milliseconds could be missed).
func runMeasured(cmd *exec.Cmd) (int64, error) {
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	path := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status"
	var hwm atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := vmHWM(path); kb > hwm.Load() {
				hwm.Store(kb)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	<-done
	return hwm.Load(), err
}

// vmHWM reads the VmHWM line of a /proc/PID/status, in KiB (0 if absent).
func vmHWM(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	i := bytes.Index(b, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+len("VmHWM:"):])
	if len(f) == 0 {
		return 0
	}
	kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return kb
}
