//go:build !linux

package main

import "os"

// peakRSS returns 0 (unknown): ru_maxrss is in KiB only on Linux (bytes on
// macOS, absent on Windows), and the table is made on Linux.
func peakRSS(*os.ProcessState) int64 { return 0 }
