package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
)

// previewJSON is the stable shape of sync --dry-run --json and config set
// --dry-run --json (SPEC section 9).
type previewJSON struct {
	Creates            int            `json:"creates"`
	Updates            int            `json:"updates"`
	Deletes            int            `json:"deletes"`
	MembershipRemovals int            `json:"membership_removals"`
	WouldQuarantine    bool           `json:"would_quarantine"`
	Limits             []limitJSON    `json:"limits"`
	DeletesByCause     map[string]int `json:"deletes_by_cause"`
	DeletesByOU        map[string]int `json:"deletes_by_ou"`
	Sample             []stagedJSON   `json:"sample"`
	Held               bool           `json:"held"`
	Reason             string         `json:"reason"`
	DeletesByType      map[string]int `json:"deletes_by_type"`
	ScopeOUsGone       []string       `json:"scope_ous_gone"`
	Configuration      string         `json:"configuration"`
}

// limitJSON is one limit of status --json and of a dry run.
type limitJSON struct {
	Kind    string `json:"kind"`
	Limit   int    `json:"limit"`
	Count   int    `json:"count"`
	Reached bool   `json:"reached"`
}

// stagedJSON is one deletion of a dry run's sample.
type stagedJSON struct {
	Anchor string `json:"anchor"`
	Type   string `json:"type"`
	DN     string `json:"dn"`
	Name   string `json:"name"`
	Cause  string `json:"cause"`
	Detail string `json:"details"`
}

func toLimitsJSON(ls []guard.LimitCheck) []limitJSON {
	out := make([]limitJSON, len(ls))
	for i, l := range ls {
		out[i] = limitJSON(l)
	}
	return out
}

// dryRunCycle reads and plans cfg as a cycle would, with the scope
// removals an unsaved edit would record, and prints what the cycle would
// do: nothing is applied or recorded, not even this host as an agent. It
// exits 0 whatever the guard would do; a source that fails is an error.
func dryRunCycle(ctx context.Context, c *Config, st *store.Store, cfg *store.Configuration, pending []store.ScopeRemoval, asJSON bool) error {
	useTempDir(filepath.Dir(c.DB))
	e := &guard.Engine{Store: st, PublicURL: c.PublicURL, Log: c.logger(slog.LevelWarn)}
	p, err := e.Preview(ctx, cfg, pending)
	if err != nil {
		return fmt.Errorf("dry run of %q: the source failed, nothing can be said of the next cycle: %w", cfg.Name, err)
	}
	if asJSON {
		out := previewJSON{Creates: p.Creates, Updates: p.Updates, Deletes: p.Deletes, MembershipRemovals: p.MembershipRemovals,
			WouldQuarantine: p.WouldQuarantine, Limits: toLimitsJSON(p.Limits), DeletesByCause: p.DeletesByCause,
			DeletesByOU: p.DeletesByOU, DeletesByType: p.DeletesByType, Held: p.Held, Reason: p.Reason,
			ScopeOUsGone: nonNilList(p.Gone), Configuration: cfg.Name, Sample: []stagedJSON{}}
		for _, d := range p.Sample {
			out.Sample = append(out.Sample, stagedJSON{Anchor: d.Anchor, Type: d.Type, DN: d.DN, Name: d.Name, Cause: string(d.Cause),
				Detail: d.Detail})
		}
		return writeJSON(c.Stdout, out)
	}
	printPreview(c, cfg.Name, p)
	return nil
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// printPreview prints a dry run for people.
func printPreview(c *Config, name string, p *guard.Preview) {
	w := c.Stdout
	fmt.Fprintf(w, "dry run of %s: nothing was applied or recorded\n", printable(name))
	fmt.Fprintf(w, "  the next cycle would create %d, update %d, delete %d", p.Creates, p.Updates, p.Deletes)
	if p.MembershipRemovals > 0 {
		fmt.Fprintf(w, ", and remove %d member links from groups that stay", p.MembershipRemovals)
	}
	fmt.Fprintln(w)
	switch {
	case p.Held:
		fmt.Fprintln(w, "  sync is stopped: the cycle would apply nothing until an admin allows the deletes or restarts sync")
	case p.WouldQuarantine:
		fmt.Fprintf(w, "  the guard would stop it: %s\n", printable(p.Reason))
	default:
		fmt.Fprintf(w, "  the guard would let it through: %s\n", printable(p.Reason))
	}
	var limits []string
	for _, l := range p.Limits {
		limits = append(limits, limitText(l))
	}
	fmt.Fprintf(w, "  limits: %s\n", strings.Join(limits, "; "))
	printCounts(c, "deletions by cause", p.DeletesByCause)
	printCounts(c, "deletions by OU", p.DeletesByOU)
	for _, d := range p.Sample {
		fmt.Fprintf(w, "  - %s %s (%s)\n", d.Type, printable(d.DN), d.Cause)
	}
	if p.Deletes > len(p.Sample) {
		fmt.Fprintf(w, "  … and %d more\n", p.Deletes-len(p.Sample))
	}
}

// limitText words one limit for the terminal: "users 12 of 10 (reached)".
func limitText(l guard.LimitCheck) string {
	unit := ""
	if l.Kind == guard.LimitPercent {
		unit = "%"
	}
	if l.Limit == 0 {
		return fmt.Sprintf("%s %d%s (off)", l.Kind, l.Count, unit)
	}
	s := fmt.Sprintf("%s %d%s of %d%s", l.Kind, l.Count, unit, l.Limit, unit)
	if l.Reached {
		s += " (reached)"
	}
	return s
}

// printCounts prints counts by label, most first.
func printCounts(c *Config, what string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	labels := make([]string, 0, len(m))
	for k := range m {
		labels = append(labels, k)
	}
	slices.SortFunc(labels, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	fmt.Fprintf(c.Stdout, "  %s:\n", what)
	for _, k := range labels {
		fmt.Fprintf(c.Stdout, "    %7d  %s\n", m[k], printable(k))
	}
}
