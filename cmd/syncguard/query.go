package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// canonical returns the allowed value matching s case-insensitively.
func canonical(flagName, s string, allowed ...string) (string, error) {
	if s == "" {
		return "", nil
	}
	for _, a := range allowed {
		if strings.EqualFold(a, s) {
			return a, nil
		}
	}
	return "", usageError("--%s: %q is not one of %s", flagName, s, strings.Join(allowed, ", "))
}

type logJSON struct {
	ID      int64  `json:"id"`
	Time    string `json:"time"`
	Cycle   int64  `json:"cycle"`
	Action  string `json:"action"`
	Status  string `json:"status"`
	Type    string `json:"type"`
	Anchor  string `json:"anchor"`
	DN      string `json:"dn"`
	Name    string `json:"name"`
	Details string `json:"details"`
	// Cause is why a staged delete (or the delete that applied it) deletes
	// its object: one of store.Causes; absent from other entries.
	Cause string `json:"cause,omitempty"`
	// Fate is a staged entry's: pending, allowed or discarded (who and
	// when are in Details); absent from other entries.
	Fate string `json:"fate,omitempty"`
}

func cmdLogs(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "logs")
	action := fs.String("action", "", "only this `action`: "+strings.Join(store.LogActions, ", "))
	status := fs.String("status", "", "only this `status`: "+strings.Join(store.LogStatuses, ", ")+" (Pending: waiting for the target)")
	cycle := fs.Int64("cycle", 0, "only this cycle `N`")
	limit := fs.Int("limit", 50, "at most `N` entries")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	q := store.LogQuery{Cycle: *cycle, Limit: *limit}
	if q.Action, err = canonical("action", *action, store.LogActions...); err != nil {
		return err
	}
	if q.Status, err = canonical("status", *status, store.LogStatuses...); err != nil {
		return err
	}
	if *limit <= 0 || *limit > 100000 {
		return usageError("--limit: must be from 1 to 100000")
	}
	if *cycle < 0 {
		return usageError("--cycle: must be a cycle number")
	}
	st, cfg, err := c.openConfiguration(ctx, pos[0])
	if err != nil {
		return err
	}
	defer st.Close()
	q.ConfigID = cfg.ID
	entries, err := st.Logs(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]logJSON, 0, len(entries))
		for _, e := range entries {
			out = append(out, logJSON{ID: e.ID, Time: *jsonTime(e.Time), Cycle: e.CycleID, Action: e.Action, Status: e.Status,
				Type: e.Type, Anchor: e.Anchor, DN: e.DN, Name: e.Name, Details: e.Details, Cause: string(e.Cause), Fate: e.Fate})
		}
		return writeJSON(c.Stdout, out)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCYCLE\tACTION\tSTATUS\tTYPE\tNAME\tDN\tDETAILS")
	for _, e := range entries {
		status := e.Status
		if e.Fate != "" {
			// A staged entry stays Staged; its fate says what became of it.
			status += " (" + e.Fate + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", formatTime(e.Time), e.CycleID, e.Action, status, e.Type,
			printable(e.Name), printable(e.DN), printable(e.Details))
	}
	return tw.Flush()
}

type objectJSON struct {
	Anchor     string              `json:"anchor"`
	Type       string              `json:"type"`
	DN         string              `json:"dn"`
	Name       string              `json:"name"`
	Attributes map[string][]string `json:"attributes"`
	// Enabled is false for an account disabled at the source
	// (guard.AccountEnabled); groups are enabled.
	Enabled bool `json:"enabled"`
}

func cmdObjects(ctx context.Context, c *Config, args []string) error {
	fs := newFlags(c, "objects")
	asJSON := fs.Bool("json", false, "print JSON")
	st, cfg, err := c.parseConfiguration(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	if *asJSON {
		// Stream the array: a target directory can be large.
		w := bufio.NewWriter(c.Stdout)
		w.WriteString("[")
		first := true
		var encErr error
		err := st.TargetObjects(ctx, cfg.ID, func(o *store.TargetObject) {
			if encErr != nil {
				return
			}
			if !first {
				w.WriteString(",")
			}
			first = false
			w.WriteString("\n")
			encErr = writeCompactJSON(w, objectJSON{Anchor: o.Anchor, Type: o.Type, DN: o.DN, Name: o.Name, Attributes: o.Attributes,
				Enabled: guard.AccountEnabled(o.Attributes)})
		})
		w.WriteString("\n]\n")
		if err := errors.Join(err, encErr); err != nil {
			return err
		}
		return w.Flush()
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tNAME\tDN\tANCHOR")
	n := 0
	err = st.TargetObjects(ctx, cfg.ID, func(o *store.TargetObject) {
		n++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Type, printable(o.Name), printable(o.DN), printable(o.Anchor))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "(%d objects)\n", n)
	return tw.Flush()
}

type outboxJSON struct {
	ID        int64   `json:"id"`
	To        string  `json:"to"`
	Subject   string  `json:"subject"`
	Status    string  `json:"status"`
	Attempts  int     `json:"attempts"`
	LastError string  `json:"last_error"`
	CreatedAt *string `json:"created_at"`
	SentAt    *string `json:"sent_at"`
	NextTryAt *string `json:"next_attempt_at"`
}

func cmdOutbox(ctx context.Context, c *Config, args []string) error {
	return listing(ctx, c, "outbox", args, func(st *store.Store, ctx context.Context) ([]*store.Notification, error) {
		return st.Notifications(ctx, 1000)
	}, func(n *store.Notification) outboxJSON {
		o := outboxJSON{ID: n.ID, To: n.To, Subject: n.Subject, Status: n.Status, Attempts: n.Attempts, LastError: n.LastError,
			CreatedAt: jsonTime(n.CreatedAt), SentAt: jsonTime(n.SentAt)}
		if n.Status == store.MailPending {
			o.NextTryAt = jsonTime(n.NextAttemptAt)
		}
		return o
	}, "ID\tSTATUS\tATTEMPTS\tCREATED\tSENT\tTO\tSUBJECT\tLAST ERROR", func(n *store.Notification) string {
		return fmt.Sprintf("%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s", n.ID, n.Status, n.Attempts, formatTime(n.CreatedAt),
			formatTime(n.SentAt), printable(n.To), printable(n.Subject), printable(n.LastError))
	})
}

// listing runs a command that lists what read returns: with --json as a
// JSON array (each row through toJSON), else as a table under header, one
// line per row. read is a method expression such as (*store.Store).Users.
func listing[T, J any](ctx context.Context, c *Config, name string, args []string, read func(*store.Store, context.Context) ([]T, error),
	toJSON func(T) J, header string, line func(T) string) error {
	fs := newFlags(c, name)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	st, err := c.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := read(st, ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]J, 0, len(rows))
		for _, r := range rows {
			out = append(out, toJSON(r))
		}
		return writeJSON(c.Stdout, out)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, line(r))
	}
	return tw.Flush()
}
