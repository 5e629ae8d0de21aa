// Package guard is syncguard's domain: reading users and groups from a
// source, planning the changes to the target directory, the accidental
// deletion guard, quarantine, Allow deletes and Restart sync, and the
// notification outbox.
//
// A cycle (Engine.RunCycle, cycle.go) takes the configuration's lease, then
// either finds the source unchanged since the last cycle (digest.go) and
// records that, or reads it (source.go, through the pipeline), plans
// (plan.go), lets the guard decide (quarantine.go) and has the store apply
// what the decision lets through in one transaction. The rules of the
// guard and of quarantine live in quarantine.go; the store only records
// them.
//
// The other files: object.go (entries, classification, anchors), dn.go
// (normalized DNs and scope), encode.go (content hashes and the JSON of
// attributes, in one pass), spool.go (the creates of a big cycle, on disk),
// basics.go and password.go (what admins type), status.go (the status and
// Overview people see), lock.go and scheduler.go (who runs cycles when),
// notify.go (the outbox).
package guard
