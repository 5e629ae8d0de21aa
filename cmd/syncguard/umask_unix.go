//go:build unix

package main

import "syscall"

// ownerOnlyUmask makes every file the process creates unreadable by group
// and others, whatever mode the code asks for.
func ownerOnlyUmask() { syscall.Umask(0o077) }
