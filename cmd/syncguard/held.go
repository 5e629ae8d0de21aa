package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// heldJSON is one object of deleted --json: an object on hold before its
// deletion becomes final (SPEC section 10).
type heldJSON struct {
	Anchor    string  `json:"anchor"`
	Type      string  `json:"type"`
	DN        string  `json:"dn"`
	Name      string  `json:"name"`
	DeletedAt *string `json:"deleted_at"`
	PurgeAt   *string `json:"purge_at"`
	// AllowedBy is the admin who allowed the deletion, or "syncguard"
	// for one under the limits.
	AllowedBy string `json:"allowed_by"`
	Cause     string `json:"cause"`
	OU        string `json:"ou"`
	Cycle     int64  `json:"cycle"`
}

// heldPage is how many held objects deleted reads at a time.
const heldPage = 1000

func cmdDeleted(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "deleted")
	asJSON := fs.Bool("json", false, "print JSON")
	st, cfg, err := c.parseConfiguration(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	var all []store.HeldObject
	for q := (store.HeldQuery{ConfigID: cfg.ID, Limit: heldPage}); ; {
		page, err := st.HeldObjects(ctx, q)
		if err != nil {
			return err
		}
		all = append(all, page...)
		if len(page) < q.Limit {
			break
		}
		q.Before = page[len(page)-1].ID
	}
	if *asJSON {
		out := make([]heldJSON, 0, len(all))
		for _, h := range all {
			out = append(out, heldJSON{Anchor: h.Anchor, Type: h.Type, DN: h.DN, Name: h.Name, DeletedAt: jsonTime(h.DeletedAt),
				PurgeAt: jsonTime(h.PurgeAt), AllowedBy: h.AllowedBy, Cause: string(h.Cause), OU: h.OU, Cycle: h.CycleID})
		}
		return writeJSON(c.Stdout, out)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tNAME\tDN\tWHY\tDELETED\tHELD UNTIL\tALLOWED BY\tANCHOR")
	for _, h := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Type, printable(h.Name), printable(h.DN), orDefault(string(h.Cause), "-"),
			formatTime(h.DeletedAt), formatTime(h.PurgeAt), printable(h.AllowedBy), printable(h.Anchor))
	}
	fmt.Fprintf(tw, "(%d deleted objects held", len(all))
	if cfg.Basics.Hold == 0 && len(all) == 0 {
		fmt.Fprint(tw, "; deletions are not held: set a hold with syncguard config set NAME --hold 72h")
	}
	fmt.Fprintln(tw, ")")
	return tw.Flush()
}

func cmdRestore(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "restore")
	var sel guard.RestoreSelection
	fs.BoolVar(&sel.All, "all", false, "restore every deleted object held")
	fs.StringVar(&sel.OU, "ou", "", "restore the deleted objects that were at or below this OU (`DN`)")
	fs.Func("anchor", "restore the deleted object with this `anchor` (see syncguard deleted); repeat for several", func(s string) error {
		sel.Anchors = append(sel.Anchors, strings.TrimSpace(s))
		return nil
	})
	yes := fs.Bool("yes", false, "confirm: restore them")
	st, cfg, err := c.parseConfiguration(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	q, err := guard.SelectHeld(ctx, st, cfg.ID, sel)
	if err != nil {
		return usageError("restore: %s", store.ErrorMessage(err))
	}
	sum, err := st.HeldSummary(ctx, q)
	if err != nil {
		return err
	}
	if sum.Objects == 0 {
		return fmt.Errorf("nothing to restore: %s holds none of these deleted objects (see syncguard deleted %s)",
			printable(cfg.Name), printable(cfg.Name))
	}
	if !*yes {
		return usageError("restore: this puts %s back in %s as they were (attributes, DN, groups); add --yes to confirm",
			plural(sum.Objects, "deleted object", "deleted objects"), printable(cfg.Name))
	}
	dctx, cancel := guard.AfterStop(ctx, c.ShutdownTimeout)
	defer cancel()
	e := &guard.Engine{Store: st}
	res, err := e.Restore(dctx, cfg.ID, sel, "cli")
	if err != nil {
		return err
	}
	if res.Objects == 0 {
		return fmt.Errorf("nothing restored: these objects are no longer held (purged, or restored already)")
	}
	fmt.Fprintf(c.Stdout, "restored %s to %s", plural(res.Objects, "deleted object", "deleted objects"), printable(cfg.Name))
	if res.Groups > 0 {
		fmt.Fprintf(c.Stdout, "; %s got members back", plural(res.Groups, "group", "groups"))
	}
	fmt.Fprintln(c.Stdout, "\nan object the source still lacks is a deletion again in the next cycle, counted by the guard: "+
		"fix the source or the scope first")
	export(ctx, c, st, cfg)
	return nil
}

// purgeDue purges the configuration's held objects whose hold has ended
// (serve does it for every configuration), and says so.
func purgeDue(ctx context.Context, c *Config, st *store.Store, cfg *store.Configuration) {
	n, err := (&guard.Purger{Store: st}).Purge(ctx, cfg.ID)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(c.Stderr, "syncguard: purge held objects: %s\n", printable(err.Error()))
	}
	if n > 0 {
		fmt.Fprintf(c.Stdout, "purged %s: their hold ended\n", plural(n, "deleted object", "deleted objects"))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
