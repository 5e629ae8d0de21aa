// Command syncbench measures syncguard and records the figures in the
// README: `make bench` runs
//
//	go run ./cmd/syncbench -readme README.md
//
// Each scenario generates its data with guard/demo and runs several times
// (the median is reported, with the range):
//
//   - ldif: -users users (100,000) from an LDIF, syncguard as a child
//     process: the first cycle on a fresh database, a no-change cycle,
//     parsing the LDIF only (in-process, a floor), the quarantine of every
//     object (the source suddenly holds only its OUs) and Allow deletes of
//     the staged deletions, timed around the store call itself (the CLI's
//     allow-deletes also runs the next cycle);
//   - ldif1m: the same with -big-users users (1,000,000), without Allow;
//   - ldap: -users users in a private slapd (guard/ldap/slapdtest, loaded
//     with slapadd): a first and a no-change cycle against the time
//     ldapsearch takes to dump the same scope, measured alternately;
//   - ldaptarget: the LDIF of -users users synced by `sync` into an empty
//     private slapd as its target (the first cycle and the export of
//     every object) against ldapadd of the same entries into another; and
//     a no-change cycle with that target against one without a target;
//   - scim: the exporter sending -scim-creates creates (a first cycle's
//     queue) to an in-process SCIM service against a plain loop of the
//     same POSTs with the same concurrency, alternately;
//   - log5m: -log-entries provisioning log entries over 20 configurations,
//     written directly with SQL, and the log and configuration pages through
//     the real portal handler (web.New, signed in): p50 and p99 per filter;
//   - portal: -clients signed-in clients for -portal-duration on loopback,
//     mixed pages, while a cycle of -users objects runs.
//
// -only picks scenarios (-only ldif,log5m). Wall time is measured around
// each child; peak RSS is the child's VmHWM (see runMeasured).
//
// With -readme PATH, the tables replace what is between the markers
// <!-- bench:start --> and <!-- bench:end --> in that file; without the
// markers the file is left alone.
package main
