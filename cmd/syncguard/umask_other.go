//go:build !unix

package main

// ownerOnlyUmask does nothing where there is no umask.
func ownerOnlyUmask() {}
