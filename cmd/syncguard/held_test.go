package main

import (
	"strings"
	"testing"
	"time"
)

// TestHoldCommands: --hold on config add|set, allow-deletes into the hold,
// deleted --json, restore by anchor and by OU (each with --yes), and the
// guard counting what was restored the next cycle.
func TestHoldCommands(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	noSales := writeLDIFWithout(t, full, removedOU)
	h.addCorp(full, "--hold", "72h")
	var cfg jsonObject
	h.json(&cfg, "config", "show", "corp", "--json")
	if cfg["hold"] != "72h0m0s" {
		t.Errorf("config show --json: hold = %v, want 72h0m0s", cfg["hold"])
	}
	for _, bad := range []string{"100d", "-1h", "soon"} {
		if r := h.want(exitUsage, "config", "set", "corp", "--hold", bad); !strings.Contains(r.stderr, "--hold") {
			t.Errorf("config set --hold %s: stderr %q does not name the flag", bad, r.stderr)
		}
	}
	if r := h.ok("config", "show", "corp"); !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "Hold deletions 72h") {
		t.Errorf("config show does not say the hold:\n%s", r.stdout)
	}
	h.ok("sync", "corp")

	h.ok("config", "set", "corp", "--source", "ldif:"+noSales)
	h.want(exitQuarantined, "sync", "corp")
	r := h.ok("allow-deletes", "corp", "--yes")
	if !strings.Contains(r.stdout, "accepted: held until") {
		t.Errorf("allow-deletes does not say until when the deletions are held:\n%s", r.stdout)
	}
	var held []jsonObject
	h.json(&held, "deleted", "corp", "--json")
	if len(held) != removedUsers {
		t.Fatalf("deleted --json: %d objects, want %d", len(held), removedUsers)
	}
	requireKeys(t, "deleted --json", held[0], "anchor", "type", "dn", "name", "deleted_at", "purge_at", "allowed_by")
	for _, o := range held {
		deleted, err1 := time.Parse(time.RFC3339, o["deleted_at"].(string))
		purge, err2 := time.Parse(time.RFC3339, o["purge_at"].(string))
		if err1 != nil || err2 != nil || purge.Sub(deleted).Round(time.Second) != 72*time.Hour || o["allowed_by"] != "cli" ||
			o["type"] != "user" || !strings.Contains(o["dn"].(string), "ou=Sales") {
			t.Fatalf("deleted --json: %v; want a Sales user allowed by cli, purged 72h after its deletion", o)
		}
	}
	if s := h.status("corp"); s.HeldObjects != removedUsers || s.NextPurgeAt == nil || s.Hold != "72h0m0s" {
		t.Errorf("status --json: held_objects %d, next_purge_at %v, hold %q", s.HeldObjects, s.NextPurgeAt, s.Hold)
	}

	// Bad restores change nothing.
	anchor := held[0]["anchor"].(string)
	for _, args := range [][]string{
		{"restore", "corp", "--yes"},
		{"restore", "corp", "--all", "--anchor", anchor, "--yes"},
		{"restore", "corp", "--ou", "not a DN", "--yes"},
		{"restore", "corp", "--anchor", anchor},
	} {
		r := h.want(exitUsage, args...)
		if len(args) == 4 && !strings.Contains(r.stderr, "add --yes") {
			t.Errorf("restore without --yes: %q", r.stderr)
		}
	}
	users := len(h.objects("corp"))
	r = h.ok("restore", "corp", "--anchor", anchor, "--yes")
	if !strings.Contains(r.stdout, "restored 1 deleted object to corp") {
		t.Errorf("restore --anchor: %s", r.stdout)
	}
	if n := len(h.objects("corp")); n != users+1 {
		t.Errorf("%d objects after restoring one, want %d", n, users+1)
	}
	if l := h.logs("corp", "--action", "Restore"); len(l) != 1 || l[0].Anchor != anchor || !strings.Contains(l[0].Details, "restored by cli") {
		t.Errorf("logs --action Restore = %+v", l)
	}
	h.want(exitError, "restore", "corp", "--anchor", anchor, "--yes")
	r = h.ok("restore", "corp", "--ou", "OU=Sales,DC=corp,DC=example", "--yes")
	if !strings.Contains(r.stdout, "restored 749 deleted objects to corp") {
		t.Errorf("restore --ou: %s", r.stdout)
	}
	h.json(&held, "deleted", "corp", "--json")
	if len(held) != 0 {
		t.Errorf("deleted --json after restoring all: %d objects", len(held))
	}

	// The source still lacks them: the next cycle stops sync.
	h.want(exitQuarantined, "sync", "corp")
}

// TestSyncPurges: sync purges the configuration's held objects whose hold
// has ended (serve does it for every configuration).
func TestSyncPurges(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	h.addCorp(full, "--hold", "1ms", "--threshold", "1000")
	h.ok("sync", "corp")
	h.ok("config", "set", "corp", "--source", "ldif:"+writeLDIFWithout(t, full, removedOU))
	r := h.ok("sync", "corp")
	if !strings.Contains(r.stdout, "deleted 750") || !strings.Contains(r.stdout, "purged 750 deleted objects: their hold ended") {
		t.Errorf("sync with a hold of 1ms:\n%s", r.stdout)
	}
	var held []jsonObject
	h.json(&held, "deleted", "corp", "--json")
	if len(held) != 0 {
		t.Errorf("deleted --json after the purge: %d objects", len(held))
	}
	if l := h.logs("corp", "--action", "Delete", "--limit", "1000"); len(l) != 750 || !strings.Contains(l[0].Details, "purged after the hold of 1ms") {
		t.Errorf("%d Delete entries after the purge, want 750 saying purged after the hold", len(l))
	}
}
