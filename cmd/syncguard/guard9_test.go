package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDryRun: sync --dry-run and config set --dry-run read and plan,
// apply and record nothing (the database's tables are as they were), and
// say what the cycle would do and whether the guard would stop it, in the
// JSON of SPEC section 9; they exit 0 whatever it would do, 1 when the
// source fails.
func TestDryRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	h.addCorp(full, "--email", "ops@corp.example", "--threshold-percent", "20")
	h.ok("sync", "corp")
	noSales := writeLDIFWithout(t, full, removedOU)
	h.ok("config", "set", "corp", "--source", "ldif:"+noSales)
	before := dumpDB(t, h.db)

	var p map[string]any
	h.json(&p, "sync", "corp", "--dry-run", "--json")
	requireKeys(t, "sync --dry-run --json", p, "creates", "updates", "deletes", "membership_removals", "would_quarantine",
		"limits", "deletes_by_cause", "deletes_by_ou", "sample")
	if p["deletes"] != float64(removedUsers) || p["would_quarantine"] != true || p["creates"] != float64(0) {
		t.Errorf("dry run: %v", p)
	}
	if byOU := p["deletes_by_ou"].(jsonObject); byOU["ou="+removedOU+","+testBase] != float64(removedUsers) {
		t.Errorf("deletes_by_ou = %v", byOU)
	}
	limits := map[string]jsonObject{}
	for _, l := range p["limits"].([]any) {
		lo := l.(jsonObject)
		requireKeys(t, "limits", lo, "kind", "limit", "count", "reached")
		limits[lo["kind"].(string)] = lo
	}
	if len(limits) != 5 || limits["all"]["reached"] != true || limits["percent"]["count"] != float64(24) ||
		limits["percent"]["reached"] != true || limits["users"]["limit"] != float64(0) {
		t.Errorf("limits = %v", limits)
	}
	for _, s := range p["sample"].([]any) {
		requireKeys(t, "sample", s.(jsonObject), "anchor", "type", "dn", "name", "cause")
	}
	r := h.ok("sync", "corp", "--dry-run")
	for _, want := range []string{"nothing was applied or recorded", "the guard would stop it: 750 deletions reach the threshold of 500",
		"percent 24% of 20% (reached)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sync --dry-run lacks %q:\n%s", want, r.stdout)
		}
	}
	// A scope edit, previewed: the deletions it brings say who removes what.
	h.json(&p, "config", "set", "corp", "--source", "ldif:"+full, "--scope", "ou=Engineering,"+testBase,
		"--scope", "ou=Finance,"+testBase, "--scope", "ou=Support,"+testBase, "--scope", "ou=Groups,"+testBase, "--dry-run", "--json")
	if p["deletes_by_cause"].(jsonObject)["scope changed"] != float64(removedUsers) {
		t.Errorf("config set --dry-run: %v", p["deletes_by_cause"])
	}
	if after := dumpDB(t, h.db); after != before {
		t.Errorf("a dry run changed the database")
	}
	if cfg := h.configShow("corp"); cfg.Source != "ldif:"+noSales || len(cfg.Scope) != 0 {
		t.Errorf("config set --dry-run saved: %+v", cfg)
	}
	// A source that fails: exit 1.
	h.ok("config", "set", "corp", "--source", "ldif:"+h.path("missing.ldif"))
	if r := h.want(exitError, "sync", "corp", "--dry-run"); !strings.Contains(r.stderr, "the source failed") {
		t.Errorf("dry run of a missing file: %s", r)
	}
}

func (h *harness) configShow(name string) configJSON {
	h.t.Helper()
	var c configJSON
	h.json(&c, "config", "show", name, "--json")
	return c
}

// TestLimitsAndPartialAllowCLI: config add takes the limits (refusing bad
// ones), status --json says since when sync is stopped and counts each
// limit, allow-deletes takes a part (filters intersect; the rest stays
// pending), and logs --json gives each staged entry its cause and fate.
func TestLimitsAndPartialAllowCLI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	for _, bad := range [][]string{{"--threshold-percent", "101"}, {"--threshold-users", "-1"}, {"--threshold-groups", "many"},
		{"--remind-every", "soon"}} {
		if r := h.want(exitUsage, append([]string{"config", "add", "bad", "--source", "ldif:" + full, "--base-dn", testBase}, bad...)...); !strings.Contains(r.stderr, bad[0]) {
			t.Errorf("config add %v: %s", bad, r)
		}
	}
	h.addCorp(full, "--threshold", "5000", "--threshold-users", "700", "--remind-every", "12h")
	if c := h.configShow("corp"); c.ThresholdUsers != 700 || c.RemindEvery != "12h0m0s" {
		t.Errorf("config show: %+v", c)
	}
	h.ok("sync", "corp")
	h.ok("config", "set", "corp", "--source", "ldif:"+writeLDIFWithout(t, full, removedOU))
	h.want(exitQuarantined, "sync", "corp")
	s := h.status("corp")
	if s.StoppedSince == nil || s.LastCycle == nil || *s.StoppedSince != *s.LastCycle.FinishedAt {
		t.Errorf("stopped_since = %v, want the quarantine's end", s.StoppedSince)
	}
	for _, l := range s.Limits {
		if l.Kind == "users" && (l.Limit != 700 || l.Count != removedUsers || !l.Reached) {
			t.Errorf("users limit: %+v", l)
		}
	}
	// Part of it: no Sales user by cause "moved out of scope" exists.
	if r := h.want(exitError, "allow-deletes", "corp", "--cause", "moved out of scope", "--yes"); !strings.Contains(r.stderr, "none of the chosen") {
		t.Errorf("allowing nothing: %s", r)
	}
	staged := h.logs("corp", "--action", "StagedDelete", "--limit", "3")
	anchor := staged[0].Anchor
	r := h.ok("allow-deletes", "corp", "--ou", "ou="+removedOU+","+testBase, "--type", "user", "--anchor", anchor, "--yes")
	if !strings.Contains(r.stdout, "1 deletions from corp accepted and applied; 749 staged changes still pending") {
		t.Errorf("partial allow: %s", r)
	}
	if s := h.status("corp"); s.Status != "quarantined" || s.PendingStagedDeletes != removedUsers-1 {
		t.Errorf("after a part: %+v", s)
	}
	for _, l := range h.logs("corp", "--action", "StagedDelete", "--limit", "1000") {
		raw, _ := json.Marshal(l)
		var obj jsonObject
		json.Unmarshal(raw, &obj)
		requireKeys(t, "staged entry", obj, "cause", "fate")
		want := "pending"
		if l.Anchor == anchor {
			want = "allowed"
			if !strings.Contains(l.Details, "allowed by cli at ") {
				t.Errorf("details of the allowed entry: %q", l.Details)
			}
		}
		if l.Fate != want || l.Cause != "deleted at the source" {
			t.Errorf("entry %s: cause %q, fate %q; want deleted at the source, %s", l.DN, l.Cause, l.Fate, want)
		}
	}
	h.ok("allow-deletes", "corp", "--yes")
	if s := h.status("corp"); s.Status != "healthy" || s.PendingStagedDeletes != 0 || s.StoppedSince != nil {
		t.Errorf("after the rest: %+v", s)
	}
}
