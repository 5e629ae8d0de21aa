// Command syncsoak soaks syncguard: it runs the real portal (web.New), the
// scheduler and the outbox over a temporary database for a while, with three
// configurations cycling every few seconds — one of them losing an OU and
// getting it back, so that the guard trips and an admin bot alternately
// allows the deletes and restarts sync through the portal — while a few
// signed-in clients browse mixed pages on loopback. Every sample interval it
// prints the Go heap, the memory taken from the OS and the goroutines.
//
// It fails when a request errored (not 2xx or 3xx, or signed out), a cycle
// failed, a notification was lost, the database is unsound at the end, or
// memory or goroutines kept growing (the last third of the samples against
// the first third, with a tolerance).
//
//	go run ./cmd/syncsoak [-duration 10m] [-sample 30s] [-clients 4]
//
// SOAK_DURATION sets the default duration (make soak SOAK_DURATION=2m).
package main
