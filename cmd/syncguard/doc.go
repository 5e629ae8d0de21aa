// Command syncguard synchronizes users and groups from an LDAP directory or
// an LDIF export into a target directory, and stops a cycle that would
// delete too many of them until an admin decides.
//
// One binary serves the portal and scripts every action of it:
//
//	syncguard serve [--addr 127.0.0.1:8080] [--demo]
//	syncguard config add|set|show|list …
//	syncguard sync NAME                     run one cycle now
//	syncguard status NAME [--json]
//	syncguard allow-deletes NAME --yes      syncguard restart NAME --yes
//	syncguard logs NAME …   syncguard objects NAME   syncguard outbox
//	syncguard user add NAME --role admin|viewer
//
// `syncguard help` and `--help` on any command list the flags. main only
// calls run (main.go), which parses the global flags and their environment
// twins into a Config and dispatches to one file per group of commands:
// config.go, sync.go (sync, status, allow-deletes, restart), query.go (logs,
// objects, outbox, user) and serve.go. Exit codes: 0 success, 1 error, 2 bad
// usage; sync and restart exit 3 when the cycle was quarantined.
package main
