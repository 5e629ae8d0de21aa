package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// runCycle runs one cycle, prints it, delivers what it queued, and returns
// the exit code of sync: 0 Succeeded, 3 Quarantined, 1 Failed. When ctx
// ends (SIGTERM, SIGINT) a cycle still reading or planning is abandoned
// at once; one writing its transaction gets --shutdown-timeout to commit.
// An abandoned cycle leaves nothing and exits 1.
func runCycle(ctx context.Context, c *Config, st *store.Store, e *guard.Engine, cfg *store.Configuration, trigger string) error {
	hard, cancelHard := guard.AfterStop(ctx, c.ShutdownTimeout)
	defer cancelHard()
	cctx, cancel := guard.TrackPhases(e).CycleContext(hard, ctx, cfg.ID)
	cyc, err := e.RunCycle(cctx, cfg.ID, trigger)
	cancel()
	if errors.Is(err, guard.ErrBusy) {
		return fmt.Errorf("a cycle of %q is already running; try again when it has finished", cfg.Name)
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%s: the cycle of %q was abandoned; nothing of it was applied", stopCause(ctx), cfg.Name)
	}
	if err != nil {
		return err
	}
	printCycle(c, cfg.Name, cyc)
	deliver(ctx, c, st)
	purgeDue(ctx, c, st, cfg)
	export(ctx, c, st, cfg)
	switch cyc.Outcome {
	case store.OutcomeQuarantined:
		return &exitErr{code: exitQuarantined}
	case store.OutcomeFailed:
		return &exitErr{code: exitError, err: fmt.Errorf("cycle %d of %q failed: %s", cyc.ID, cfg.Name, cyc.Error)}
	}
	return nil
}

func printCycle(c *Config, name string, cyc *store.Cycle) {
	name = printable(name)
	fmt.Fprintf(c.Stdout, "cycle %d of %s: %s in %s\n", cyc.ID, name, cyc.Outcome, cyc.FinishedAt.Sub(cyc.StartedAt).Round(time.Millisecond))
	switch cyc.Outcome {
	case store.OutcomeSucceeded:
		fmt.Fprintf(c.Stdout, "  read %d, created %d, updated %d, deleted %d", cyc.Read, cyc.Creates, cyc.Updates, cyc.Deletes)
		if cyc.Restores > 0 {
			fmt.Fprintf(c.Stdout, ", restored %d (back in the source during their hold)", cyc.Restores)
		}
		fmt.Fprintln(c.Stdout)
	case store.OutcomeQuarantined:
		if cyc.StagedDeletes > 0 {
			fmt.Fprintf(c.Stdout, "  read %d: %d deletions staged, threshold %d: Delete threshold exceeded\n", cyc.Read, cyc.StagedDeletes, cyc.Threshold)
		} else {
			fmt.Fprintf(c.Stdout, "  read %d: still quarantined; %d staged deletions returned to scope\n", cyc.Read, cyc.Discarded)
		}
		fmt.Fprintf(c.Stdout, "  nothing was applied; sync stays stopped until: syncguard allow-deletes %s --yes  or  syncguard restart %s --yes\n", name, name)
	case store.OutcomeFailed:
		fmt.Fprintf(c.Stdout, "  read %d entries of the source before it failed; nothing was applied\n", cyc.Read)
	}
}

// deliver tries to send what is due in the outbox, briefly: a slow or absent
// SMTP server never holds the command for long, and the mail stays queued.
func deliver(ctx context.Context, c *Config, st *store.Store) {
	sender, err := c.sender()
	if err != nil {
		fmt.Fprintln(c.Stderr, "syncguard: notifications not sent:", printable(err.Error()))
		return
	}
	if sender == nil {
		return
	}
	// Stopped (SIGTERM, SIGINT): the message being sent is finished, the
	// others wait for serve.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	o := &guard.Outbox{Store: st, Sender: sender}
	if n, err := o.DeliverDueUntil(ctx, dctx); err != nil {
		fmt.Fprintf(c.Stderr, "syncguard: notification not sent yet (it stays in the outbox and is retried by serve): %s\n", printable(err.Error()))
	} else if n > 0 {
		fmt.Fprintf(c.Stdout, "sent %d notification(s)\n", n)
	}
}

func cmdSync(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "sync")
	dryRun := fs.Bool("dry-run", false, "read and plan, apply and record nothing, and say what the cycle would do (exit 0 whatever it would do)")
	asJSON := fs.Bool("json", false, "with --dry-run: print JSON")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *asJSON && !*dryRun {
		return usageError("sync: --json goes with --dry-run")
	}
	if *dryRun {
		st, cfg, err := c.openConfiguration(ctx, pos[0])
		if err != nil {
			return err
		}
		defer st.Close()
		return dryRunCycle(ctx, c, st, cfg, nil, *asJSON)
	}
	st, e, err := c.engine(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg, err := configuration(ctx, st, pos[0])
	if err != nil {
		return err
	}
	return runCycle(ctx, c, st, e, cfg, guard.TriggerManual)
}

type cycleJSON struct {
	ID            int64   `json:"id"`
	Outcome       string  `json:"outcome"`
	Creates       int     `json:"creates"`
	Updates       int     `json:"updates"`
	Deletes       int     `json:"deletes"`
	Restores      int     `json:"restores"`
	StagedDeletes int     `json:"staged_deletes"`
	Read          int     `json:"read"`
	Error         string  `json:"error"`
	StartedAt     *string `json:"started_at"`
	FinishedAt    *string `json:"finished_at"`
}

type statusJSON struct {
	Name                 string `json:"name"`
	Status               string `json:"status"`
	StatusText           string `json:"status_text"`
	Error                string `json:"error"`
	Prevent              bool   `json:"prevent"`
	Threshold            int    `json:"threshold"`
	Email                string `json:"email"`
	PendingStagedDeletes int    `json:"pending_staged_deletes"`
	QuarantineCycle      int64  `json:"quarantine_cycle"`
	// StoppedSince is when the pending quarantine stopped sync (null when
	// sync runs); Limits every kind of limit with what the pending
	// quarantine, else the last cycle, counted.
	StoppedSince *string     `json:"stopped_since"`
	Limits       []limitJSON `json:"limits"`
	Objects      int         `json:"objects"`
	Users        int         `json:"users"`
	Groups       int         `json:"groups"`
	LastCycle    *cycleJSON  `json:"last_cycle"`
	Target       targetJSON  `json:"target"`
	// Hold is how long deletions are held before they become final
	// ("0s": deleted at once); HeldObjects counts those held now, and
	// NextPurgeAt is when the first of them is purged.
	Hold        string  `json:"hold"`
	HeldObjects int     `json:"held_objects"`
	NextPurgeAt *string `json:"next_purge_at"`
}

func jsonTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func cmdStatus(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "status")
	asJSON := fs.Bool("json", false, "print JSON")
	st, cfg, err := c.parseConfiguration(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	o, err := guard.OverviewOf(ctx, st, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.Stdout, toStatusJSON(o))
	}
	printStatus(c, o)
	return nil
}

func toStatusJSON(o *guard.Overview) statusJSON {
	cfg := o.Config
	out := statusJSON{Name: cfg.Name, Status: o.Status.Code, StatusText: o.Status.Text, Error: o.Status.Error,
		Prevent: cfg.Basics.Prevent, Threshold: cfg.Basics.Threshold, Email: cfg.Basics.Email,
		PendingStagedDeletes: o.PendingStaged, QuarantineCycle: cfg.QuarantineID, Objects: o.Users + o.Groups,
		Users: o.Users, Groups: o.Groups, StoppedSince: jsonTime(o.StoppedSince), Limits: toLimitsJSON(o.Limits),
		Target: toTargetJSON(o.Target), Hold: cfg.Basics.Hold.String(), HeldObjects: o.Held.Objects,
		NextPurgeAt: jsonTime(o.Held.NextPurge)}
	if last := o.LastCycle; last != nil {
		out.LastCycle = &cycleJSON{ID: last.ID, Outcome: last.Outcome, Creates: last.Creates, Updates: last.Updates,
			Deletes: last.Deletes, Restores: last.Restores, StagedDeletes: last.StagedDeletes, Read: last.Read, Error: last.Error,
			StartedAt: jsonTime(last.StartedAt), FinishedAt: jsonTime(last.FinishedAt)}
	}
	return out
}

func printStatus(c *Config, o *guard.Overview) {
	cfg, status := o.Config, o.Status
	fmt.Fprintf(c.Stdout, "%s: %s", printable(cfg.Name), status.Text)
	if !status.Since.IsZero() {
		fmt.Fprintf(c.Stdout, " since %s", formatTime(status.Since))
	}
	if status.Error != "" {
		fmt.Fprintf(c.Stdout, ": %s", printable(status.Error))
	}
	fmt.Fprintln(c.Stdout)
	if status.Lock != nil {
		fmt.Fprintf(c.Stdout, "  cycle running since %s: %s, read %d, planned %d, applied %d\n", formatTime(status.Lock.AcquiredAt),
			status.Lock.Phase, status.Lock.Read, status.Lock.Planned, status.Lock.Applied)
	}
	if q := o.Quarantine; q != nil {
		fmt.Fprintf(c.Stdout, "  %d deletions staged by cycle %d", o.PendingStaged, q.ID)
		if q.PendingUpdates > 0 {
			fmt.Fprintf(c.Stdout, " (and the member removals of %d groups)", q.PendingUpdates)
		}
		fmt.Fprintf(c.Stdout, " wait for an admin; sync stopped since %s\n", formatTime(o.StoppedSince))
		fmt.Fprintf(c.Stdout, "  stopped because %s\n", guard.StoppedBy(q))
	}
	fmt.Fprintf(c.Stdout, "  objects: %d users, %d groups\n", o.Users, o.Groups)
	fmt.Fprintf(c.Stdout, "  guard: prevent accidental deletions %s, threshold %d, notify %s, hold deletions %s\n", onOff(cfg.Basics.Prevent),
		cfg.Basics.Threshold, printable(orNone(cfg.Basics.Email)), store.HoldText(cfg.Basics.Hold))
	if o.Held.Objects > 0 {
		fmt.Fprintf(c.Stdout, "  %s held, the first purged at %s (syncguard deleted %s)\n", plural(o.Held.Objects, "deleted object",
			"deleted objects"), formatTime(o.Held.NextPurge), printable(cfg.Name))
	}
	var limits []string
	for _, l := range o.Limits {
		limits = append(limits, limitText(l))
	}
	fmt.Fprintf(c.Stdout, "  limits: %s\n", strings.Join(limits, "; "))
	printTarget(c, o.Target)
	if last := o.LastCycle; last != nil {
		fmt.Fprintf(c.Stdout, "  last cycle %d at %s: %s (created %d, updated %d, deleted %d, staged %d)\n", last.ID,
			formatTime(last.FinishedAt), last.Outcome, last.Creates, last.Updates, last.Deletes, last.StagedDeletes)
	}
}

func orNone(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

func cmdAllowDeletes(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "allow-deletes")
	yes := fs.Bool("yes", false, "confirm: apply the staged deletions")
	var part store.StagedFilter
	fs.Func("ou", "allow only the deletions of objects in this OU (`DN`; repeat for several)", func(s string) error {
		part.OUs = append(part.OUs, s)
		return nil
	})
	typ := fs.String("type", "", "allow only the deletions of this object `type`: user or group")
	cause := fs.String("cause", "", "allow only the deletions of this `cause` (as status and logs give it)")
	fs.Func("anchor", "allow only the deletion of the object with this `anchor` (repeat for several)", func(s string) error {
		part.Anchors = append(part.Anchors, s)
		return nil
	})
	st, cfg, err := c.parseConfiguration(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	if part.Type, err = canonical("type", *typ, guard.TypeUser, guard.TypeGroup); err != nil {
		return err
	}
	if *cause != "" {
		if part.Cause = store.Cause(*cause); !part.Cause.Valid() {
			return usageError("--cause: %q is none of: %s", *cause, causeList())
		}
	}
	if cfg.QuarantineID == 0 {
		return fmt.Errorf("%s has no staged deletions to allow", cfg.Name)
	}
	counts, err := st.StagedCounts(ctx, store.StagedCountQuery{ConfigID: cfg.ID, CycleID: cfg.QuarantineID,
		State: store.StagedPending, Filter: part}, "action")
	if err != nil {
		return err
	}
	what := map[string]int{}
	for _, n := range counts {
		what[n.Label] = n.N
	}
	if !*yes {
		msg := fmt.Sprintf("allow-deletes: this deletes %d objects from %s", what[store.ActionStagedDelete], cfg.Name)
		if n := what[store.ActionStagedUpdate]; n > 0 {
			msg += fmt.Sprintf(" and removes the member links staged of %d groups", n)
		}
		if !part.IsZero() {
			msg += " (" + partWords(part) + ")"
		}
		return usageError("%s; add --yes to confirm", msg)
	}
	e, err := c.engineOn(ctx, st)
	if err != nil {
		return err
	}
	// The decision is one transaction: once begun, a stop lets it commit.
	dctx, cancel := guard.AfterStop(ctx, c.ShutdownTimeout)
	defer cancel()
	res, err := e.AllowPart(dctx, cfg.ID, cfg.QuarantineID, "cli", part, partWords(part))
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("nothing allowed: %s", store.ErrorMessage(err))
		}
		return err
	}
	if h := (store.Hold{Since: st.Now(), For: cfg.Basics.Hold}); h.On() {
		fmt.Fprintf(c.Stdout, "%d deletions from %s accepted: %s (syncguard deleted %s lists them, syncguard restore puts them back)",
			res.Count, printable(cfg.Name), h, printable(cfg.Name))
	} else {
		fmt.Fprintf(c.Stdout, "%d deletions from %s accepted and applied", res.Count, printable(cfg.Name))
	}
	if res.Updated > 0 {
		fmt.Fprintf(c.Stdout, ", and the member removals of %d groups", res.Updated)
	}
	if res.Remaining > 0 {
		fmt.Fprintf(c.Stdout, "; %d staged changes still pending: sync stays stopped", res.Remaining)
	}
	err = runNext(ctx, c, st, e, cfg, res)
	var ee *exitErr
	if errors.As(err, &ee) && ee.code == exitQuarantined {
		return nil // the deletes were allowed; the new quarantine is reported above
	}
	return err
}

// partWords words a part of a quarantine for the audit log and messages.
func partWords(f store.StagedFilter) string {
	var parts []string
	if len(f.OUs) > 0 {
		parts = append(parts, "in "+strings.Join(f.OUs, " or "))
	}
	if f.Type != "" {
		parts = append(parts, f.Type+"s only")
	}
	if f.Cause != "" {
		parts = append(parts, "cause "+string(f.Cause))
	}
	if len(f.Anchors) > 0 {
		parts = append(parts, fmt.Sprintf("%d chosen objects", len(f.Anchors)))
	}
	return strings.Join(parts, ", ")
}

// causeList lists the causes for a usage message.
func causeList() string {
	var out []string
	for _, c := range store.Causes {
		out = append(out, fmt.Sprintf("%q", c))
	}
	return strings.Join(out, ", ")
}

// runNext runs the cycle that follows an admin's decision, if any, after
// saying so at the end of the line the caller started.
func runNext(ctx context.Context, c *Config, st *store.Store, e *guard.Engine, cfg *store.Configuration, res guard.Resolution) error {
	if res.Next == "" {
		fmt.Fprintln(c.Stdout)
		return nil
	}
	what := "the next cycle"
	if res.Next == guard.TriggerRestart {
		what = "a full cycle"
	}
	fmt.Fprintf(c.Stdout, "; running %s\n", what)
	if stoppedBeforeNext(ctx, c) {
		return nil
	}
	return runCycle(ctx, c, st, e, cfg, res.Next)
}

func cmdRestart(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "restart")
	yes := fs.Bool("yes", false, "confirm: discard the staged deletions and run a full cycle")
	st, cfg, err := c.parseConfiguration(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	if !*yes {
		return usageError("restart: this discards the staged deletions of %s and runs a full cycle; add --yes to confirm", cfg.Name)
	}
	e, err := c.engineOn(ctx, st)
	if err != nil {
		return err
	}
	dctx, cancel := guard.AfterStop(ctx, c.ShutdownTimeout)
	defer cancel()
	res, err := e.RestartSync(dctx, cfg.ID, cfg.QuarantineID, "cli")
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("not restarted: %s", store.ErrorMessage(err))
		}
		return err
	}
	fmt.Fprintf(c.Stdout, "restarted sync of %s: %d staged deletions discarded", printable(cfg.Name), res.Count)
	return runNext(ctx, c, st, e, cfg, res)
}

// stoppedBeforeNext says, when syncguard was stopped right after an
// admin's decision was committed, that the cycle that follows it was not
// started (serve's schedule, or the next sync, runs it).
func stoppedBeforeNext(ctx context.Context, c *Config) bool {
	if ctx.Err() == nil {
		return false
	}
	fmt.Fprintf(c.Stdout, "%s before the next cycle: it runs with serve's schedule or the next 'syncguard sync'\n", stopCause(ctx))
	return true
}
