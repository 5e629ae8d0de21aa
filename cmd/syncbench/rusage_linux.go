package main

import (
	"os"
	"syscall"
)

// peakRSS returns the peak resident set size of an exited child in KiB
// (Linux reports ru_maxrss in KiB).
func peakRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}
