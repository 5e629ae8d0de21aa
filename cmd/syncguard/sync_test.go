package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// checkCycle checks the last_cycle of status --json.
func checkCycle(t *testing.T, s statusOut, outcome string, creates, deletes, staged int) {
	t.Helper()
	c := s.LastCycle
	if c == nil {
		t.Fatalf("status --json: last_cycle is null, want a %s cycle", outcome)
	}
	if c.Outcome != outcome || c.Creates != creates || c.Deletes != deletes || c.StagedDeletes != staged {
		t.Errorf("last_cycle = %+v, want outcome %s, creates %d, deletes %d, staged_deletes %d", *c, outcome, creates, deletes, staged)
	}
	for name, ts := range map[string]*string{"started_at": c.StartedAt, "finished_at": c.FinishedAt} {
		if ts == nil {
			t.Errorf("last_cycle.%s is null", name)
			continue
		}
		if at, err := time.Parse(time.RFC3339, *ts); err != nil || time.Since(at) > time.Hour || time.Until(at) > time.Minute {
			t.Errorf("last_cycle.%s = %q, want a recent RFC 3339 time (%v)", name, *ts, err)
		}
	}
}

func TestStatusKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ldif := writeLDIF(t, h.dir)
	h.addCorp(ldif, "--email", "ops@corp.example", "--threshold", "600")

	var raw jsonObject
	h.json(&raw, "status", "corp", "--json")
	requireKeys(t, "status --json", raw, "name", "status", "status_text", "prevent", "threshold", "email",
		"pending_staged_deletes", "objects", "last_cycle")
	s := h.status("corp")
	if s.Name != "corp" || s.Status != "not_run" || s.StatusText != "Not run yet" || !s.Prevent || s.Threshold != 600 ||
		s.Email != "ops@corp.example" || s.PendingStagedDeletes != 0 || s.Objects != 0 || s.LastCycle != nil {
		t.Errorf("status --json before any cycle = %+v", s)
	}
	h.ok("sync", "corp")
	h.json(&raw, "status", "corp", "--json")
	last, _ := raw["last_cycle"].(jsonObject)
	requireKeys(t, "status --json last_cycle", last, "id", "outcome", "creates", "updates", "deletes", "staged_deletes",
		"error", "started_at", "finished_at")
	if r := h.ok("status", "corp"); !strings.HasPrefix(r.stdout, "corp: Healthy") {
		t.Errorf("status corp = %q, want it to start with corp: Healthy", r.stdout)
	}
}

// TestSyncAllowDeletes walks the guard's main path: a first cycle, a
// no-change cycle, an OU gone from the source (quarantine), a refused and an
// accepted allow-deletes, and a second allow-deletes with nothing left.
func TestSyncAllowDeletes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	noSales := writeLDIFWithout(t, full, removedOU)
	h.addCorp(full, "--email", "ops@corp.example")

	// First cycle: everything is created.
	r := h.ok("sync", "corp")
	for _, want := range []string{"cycle 1 of corp: Succeeded", fmt.Sprintf("read %d, created %d, updated 0, deleted 0", testTotal, testTotal)} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("first sync: stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("first sync: stderr = %q, want nothing", r.stderr)
	}
	s := h.status("corp")
	if s.Status != "healthy" || s.StatusText != "Healthy" || s.Objects != testTotal || s.PendingStagedDeletes != 0 {
		t.Errorf("status after the first cycle = %+v, want healthy with %d objects", s, testTotal)
	}
	checkCycle(t, s, "Succeeded", testTotal, 0, 0)
	if s.LastCycle.ID != 1 || s.LastCycle.Updates != 0 || s.LastCycle.Error != "" {
		t.Errorf("last_cycle = %+v, want cycle 1 without updates or error", *s.LastCycle)
	}

	// The target directory: every user and group, with their attributes.
	objs := h.objects("corp")
	if len(objs) != testTotal {
		t.Fatalf("objects --json: %d objects, want %d", len(objs), testTotal)
	}
	byType := map[string]int{}
	for _, o := range objs {
		requireKeys(t, "objects --json", o, "anchor", "type", "dn", "name", "attributes", "enabled")
		if o["enabled"] != true {
			t.Errorf("object %v: enabled = %v, want true (no userAccountControl)", o["dn"], o["enabled"])
		}
		byType[o["type"].(string)]++
		if dn, _ := o["dn"].(string); !strings.HasSuffix(strings.ToLower(dn), ","+testBase) {
			t.Errorf("object DN %q is not under %s", dn, testBase)
		}
		if a, _ := o["anchor"].(string); !strings.HasPrefix(a, "uuid:") {
			t.Errorf("anchor %q: want the entryUUID (uuid:…)", a)
		}
		if n, _ := o["name"].(string); n == "" {
			t.Errorf("object %v has no name", o["dn"])
		}
		if attrs, _ := o["attributes"].(jsonObject); len(attrs) == 0 {
			t.Errorf("object %v has no attributes", o["dn"])
		}
	}
	if byType["user"] != testUsers || byType["group"] != testGroups {
		t.Errorf("objects by type = %v, want %d users and %d groups", byType, testUsers, testGroups)
	}
	if r := h.ok("objects", "corp"); !strings.Contains(r.stdout, fmt.Sprintf("(%d objects)", testTotal)) {
		t.Errorf("objects corp: no count of %d objects in:\n%.500s", testTotal, r.stdout)
	}

	// No change: nothing to do.
	r = h.ok("sync", "corp")
	if want := fmt.Sprintf("read %d, created 0, updated 0, deleted 0", testTotal); !strings.Contains(r.stdout, want) {
		t.Errorf("second sync: stdout lacks %q:\n%s", want, r.stdout)
	}

	// The Sales OU is gone from the source: 750 deletions ≥ 500, quarantined.
	h.ok("config", "set", "corp", "--source", "ldif:"+noSales)
	r = h.want(exitQuarantined, "sync", "corp")
	for _, want := range []string{"cycle 3 of corp: Quarantined", fmt.Sprintf("%d deletions staged, threshold 500: Delete threshold exceeded", removedUsers),
		"syncguard allow-deletes corp --yes"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("quarantining sync: stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	s = h.status("corp")
	if s.Status != "quarantined" || s.StatusText != "Delete threshold exceeded" || s.PendingStagedDeletes != removedUsers {
		t.Errorf("status after the quarantine = %+v, want quarantined with %d pending", s, removedUsers)
	}
	// Nothing was applied.
	if s.Objects != testTotal {
		t.Errorf("objects after the quarantine = %d, want %d (nothing applied)", s.Objects, testTotal)
	}
	checkCycle(t, s, "Quarantined", 0, 0, removedUsers)
	if r := h.ok("status", "corp"); !strings.Contains(r.stdout, "Delete threshold exceeded") ||
		!strings.Contains(r.stdout, fmt.Sprintf("%d deletions staged by cycle 3", removedUsers)) {
		t.Errorf("status corp:\n%s", r.stdout)
	}

	// The provisioning log: one StagedDelete/Staged entry per deletion.
	staged := h.logs("corp", "--action", "StagedDelete", "--limit", "10000")
	if len(staged) != removedUsers {
		t.Errorf("logs --action StagedDelete: %d entries, want %d", len(staged), removedUsers)
	}
	for _, e := range staged {
		if e.Action != "StagedDelete" || e.Status != "Staged" || e.Cycle != 3 || e.Type != "user" ||
			!strings.Contains(e.DN, "ou="+removedOU+",") || !strings.HasPrefix(e.Anchor, "uuid:") || e.Name == "" || e.Details == "" ||
			e.Cause != "deleted at the source" {
			t.Errorf("staged log entry = %+v, want one of cause \"deleted at the source\"", e)
			break
		}
	}
	// A scheduled-while-quarantined cycle changes nothing and exits 3 again.
	h.want(exitQuarantined, "sync", "corp")
	if s := h.status("corp"); s.PendingStagedDeletes != removedUsers || s.Objects != testTotal {
		t.Errorf("after another sync while quarantined: %+v", s)
	}

	// Allow deletes without --yes: bad usage, nothing deleted.
	before := dumpDB(t, h.db)
	r = h.want(exitUsage, "allow-deletes", "corp")
	if want := fmt.Sprintf("this deletes %d objects from corp; add --yes to confirm", removedUsers); !strings.Contains(r.stderr, want) {
		t.Errorf("allow-deletes without --yes: stderr = %q, want %q", r.stderr, want)
	}
	if after := dumpDB(t, h.db); after != before {
		t.Errorf("allow-deletes without --yes changed the database:\n%s", firstDiff(before, after))
	}

	// With --yes: the staged objects are deleted, and the next cycle is healthy.
	r = h.ok("allow-deletes", "corp", "--yes")
	for _, want := range []string{fmt.Sprintf("%d deletions from corp accepted", removedUsers), "Succeeded"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("allow-deletes --yes: stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	s = h.status("corp")
	if s.Status != "healthy" || s.PendingStagedDeletes != 0 || s.Objects != testTotal-removedUsers {
		t.Errorf("status after allow-deletes = %+v, want healthy with %d objects", s, testTotal-removedUsers)
	}
	checkCycle(t, s, "Succeeded", 0, 0, 0)
	objs = h.objects("corp")
	if len(objs) != testTotal-removedUsers {
		t.Errorf("objects after allow-deletes: %d, want %d", len(objs), testTotal-removedUsers)
	}
	for _, o := range objs {
		if strings.Contains(o["dn"].(string), "ou="+removedOU+",") {
			t.Errorf("object %v of the removed OU is still there", o["dn"])
			break
		}
	}
	deletes := h.logs("corp", "--action", "delete", "--status", "success", "--limit", "10000")
	if len(deletes) != removedUsers {
		t.Errorf("logs --action Delete: %d entries, want %d", len(deletes), removedUsers)
	}

	// A second allow-deletes has nothing to allow.
	before = dumpDB(t, h.db)
	r = h.want(exitError, "allow-deletes", "corp", "--yes")
	if want := "no staged deletions"; !strings.Contains(r.stderr, want) {
		t.Errorf("second allow-deletes: stderr = %q, want %q", r.stderr, want)
	}
	if after := dumpDB(t, h.db); after != before {
		t.Errorf("the second allow-deletes changed the database:\n%s", firstDiff(before, after))
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	h.addCorp(full)
	h.ok("sync", "corp")
	h.ok("config", "set", "corp", "--source", "ldif:"+writeLDIFWithout(t, full, removedOU))
	h.want(exitQuarantined, "sync", "corp")

	var raw []jsonObject
	h.json(&raw, "logs", "corp", "--json", "--limit", "3")
	if len(raw) != 3 {
		t.Fatalf("logs --limit 3: %d entries", len(raw))
	}
	for _, e := range raw {
		requireKeys(t, "logs --json", e, "id", "time", "cycle", "action", "status", "type", "anchor", "dn", "name", "details")
		// Entries of staged deletes say why; the others have no cause.
		if cause, ok := e["cause"]; (e["action"] == "StagedDelete") != ok || (ok && cause != "deleted at the source") {
			t.Errorf("logs --json: %s entry with cause %v", e["action"], cause)
		}
	}

	// Everything, newest first.
	all := h.logs("corp", "--limit", "100000")
	if got, want := len(all), testTotal+removedUsers; got != want {
		t.Errorf("logs: %d entries, want %d", got, want)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID || all[i].Time > all[i-1].Time {
			t.Errorf("logs are not newest first: %+v before %+v", all[i-1], all[i])
			break
		}
	}
	if len(all) > 0 && (all[0].Action != "StagedDelete" || all[len(all)-1].Action != "Create") {
		t.Errorf("newest entry %s, oldest %s; want StagedDelete then Create", all[0].Action, all[len(all)-1].Action)
	}
	if _, err := time.Parse(time.RFC3339, all[0].Time); err != nil {
		t.Errorf("time %q is not RFC 3339: %v", all[0].Time, err)
	}

	// The default limit is 50.
	if got := len(h.logs("corp")); got != 50 {
		t.Errorf("logs without --limit: %d entries, want 50", got)
	}
	for _, tt := range []struct {
		flags []string
		want  int
		check func(logOut) bool
	}{
		{[]string{"--action", "StagedDelete", "--limit", "10000"}, removedUsers, func(e logOut) bool { return e.Action == "StagedDelete" }},
		{[]string{"--action", "stageddelete", "--limit", "10000"}, removedUsers, func(e logOut) bool { return e.Action == "StagedDelete" }},
		{[]string{"--status", "Staged", "--limit", "10000"}, removedUsers, func(e logOut) bool { return e.Status == "Staged" }},
		{[]string{"--status", "Success", "--limit", "10000"}, testTotal, func(e logOut) bool { return e.Status == "Success" }},
		{[]string{"--action", "Create", "--limit", "10000"}, testTotal, func(e logOut) bool { return e.Action == "Create" }},
		{[]string{"--action", "Delete"}, 0, nil},
		{[]string{"--status", "Failure"}, 0, nil},
		{[]string{"--cycle", "1", "--limit", "10000"}, testTotal, func(e logOut) bool { return e.Cycle == 1 }},
		{[]string{"--cycle", "2", "--limit", "10000"}, removedUsers, func(e logOut) bool { return e.Cycle == 2 }},
		{[]string{"--cycle", "2", "--action", "Create"}, 0, nil},
		{[]string{"--cycle", "1", "--limit", "7"}, 7, func(e logOut) bool { return e.Cycle == 1 && e.Action == "Create" }},
		{[]string{"--cycle", "99"}, 0, nil},
		{[]string{"--limit", "1"}, 1, func(e logOut) bool { return e.ID == all[0].ID }},
	} {
		got := h.logs("corp", tt.flags...)
		if len(got) != tt.want {
			t.Errorf("logs %v: %d entries, want %d", tt.flags, len(got), tt.want)
		}
		for _, e := range got {
			if tt.check != nil && !tt.check(e) {
				t.Errorf("logs %v: unexpected entry %+v", tt.flags, e)
				break
			}
		}
	}
	// An empty result is an empty array.
	if r := h.ok("logs", "corp", "--json", "--action", "Delete"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty logs --json = %q, want []", r.stdout)
	}
	// The text form has a header and one line per entry.
	r := h.ok("logs", "corp", "--action", "StagedDelete", "--limit", "5")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 6 || !strings.HasPrefix(lines[0], "TIME") {
		t.Errorf("logs text: %d lines, want a header and 5 entries:\n%s", len(lines), r.stdout)
	}
}

// TestRestart rejects the deletions: a restart with the cause unfixed trips
// the guard again; fixed at the source, nothing is deleted.
func TestRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	noSales := writeLDIFWithout(t, full, removedOU)
	h.addCorp(full)
	h.ok("sync", "corp")
	h.ok("config", "set", "corp", "--source", "ldif:"+noSales)
	h.want(exitQuarantined, "sync", "corp")

	before := dumpDB(t, h.db)
	r := h.want(exitUsage, "restart", "corp")
	if !strings.Contains(r.stderr, "add --yes to confirm") {
		t.Errorf("restart without --yes: stderr = %q", r.stderr)
	}
	if after := dumpDB(t, h.db); after != before {
		t.Errorf("restart without --yes changed the database:\n%s", firstDiff(before, after))
	}

	// Cause not fixed: the staged deletes are discarded, and the fresh cycle
	// stages them again.
	r = h.want(exitQuarantined, "restart", "corp", "--yes")
	for _, want := range []string{fmt.Sprintf("%d staged deletions discarded", removedUsers), "cycle 3 of corp: Quarantined"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("restart --yes: stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	s := h.status("corp")
	if s.Status != "quarantined" || s.PendingStagedDeletes != removedUsers || s.Objects != testTotal || s.LastCycle.ID != 3 {
		t.Errorf("status after restart with the OU still gone = %+v", s)
	}
	if got := len(h.logs("corp", "--action", "StagedDelete", "--cycle", "3", "--limit", "10000")); got != removedUsers {
		t.Errorf("StagedDelete entries of cycle 3: %d, want %d", got, removedUsers)
	}

	// Fixed at the source: the restart discards the staged deletes and the
	// fresh cycle deletes nothing.
	h.ok("config", "set", "corp", "--source", "ldif:"+full)
	r = h.ok("restart", "corp", "--yes")
	if want := "cycle 4 of corp: Succeeded"; !strings.Contains(r.stdout, want) {
		t.Errorf("restart --yes: stdout lacks %q:\n%s", want, r.stdout)
	}
	s = h.status("corp")
	if s.Status != "healthy" || s.PendingStagedDeletes != 0 || s.Objects != testTotal {
		t.Errorf("status after the restart = %+v, want healthy with %d objects", s, testTotal)
	}
	checkCycle(t, s, "Succeeded", 0, 0, 0)
	if n := len(h.logs("corp", "--action", "Delete")); n != 0 {
		t.Errorf("%d Delete entries after a restart, want none", n)
	}
	// The table says what became of each staged entry: the first two
	// quarantines' were discarded by the restarts.
	r = h.ok("logs", "corp", "--action", "StagedDelete", "--cycle", "2", "--limit", "1")
	if !strings.Contains(r.stdout, "Staged (discarded)") {
		t.Errorf("logs of a discarded staged delete lack its fate:\n%s", r.stdout)
	}
	// Nothing to allow any more.
	h.want(exitError, "allow-deletes", "corp", "--yes")
}

// TestSyncFailed: a source that cannot be read is a Failed cycle that
// changes nothing, never a mass deletion.
func TestSyncFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	h.addCorp(full)
	h.ok("sync", "corp")

	// A malformed LDIF: its first records are fine, then a line without a colon.
	b, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	broken := h.path("broken.ldif")
	head := string(b[:len(b)/2])
	head = head[:strings.LastIndex(head, "\n\n")+2]
	if err := os.WriteFile(broken, []byte(head+"dn: uid=broken,ou=Sales,"+testBase+"\nobjectClass person\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.ok("config", "set", "corp", "--source", "ldif:"+broken)
	r := h.want(exitError, "sync", "corp")
	for _, want := range []string{"syncguard: cycle 2 of \"corp\" failed:", broken, "ldif: line "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("sync on a broken LDIF: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "cycle 2 of corp: Failed") {
		t.Errorf("sync on a broken LDIF: stdout = %q", r.stdout)
	}
	s := h.status("corp")
	if s.Status != "error" || s.StatusText != "Error" || s.Objects != testTotal || s.PendingStagedDeletes != 0 {
		t.Errorf("status after a failed cycle = %+v, want error with %d objects", s, testTotal)
	}
	checkCycle(t, s, "Failed", 0, 0, 0)
	if !strings.Contains(s.LastCycle.Error, "ldif: line ") {
		t.Errorf("last_cycle.error = %q, want the LDIF error", s.LastCycle.Error)
	}
	if r := h.ok("status", "corp"); !strings.Contains(r.stdout, "corp: Error: ") {
		t.Errorf("status corp = %q, want the error", r.stdout)
	}

	// A missing file fails the same way.
	h.ok("config", "set", "corp", "--source", "ldif:"+h.path("missing.ldif"))
	r = h.want(exitError, "sync", "corp")
	if !strings.Contains(r.stderr, "missing.ldif") {
		t.Errorf("sync on a missing LDIF: stderr = %q", r.stderr)
	}
	if s := h.status("corp"); s.Objects != testTotal || s.Status != "error" {
		t.Errorf("after a missing source: %+v", s)
	}

	// Fixed: healthy again, nothing was lost.
	h.ok("config", "set", "corp", "--source", "ldif:"+full)
	r = h.ok("sync", "corp")
	if want := fmt.Sprintf("read %d, created 0, updated 0, deleted 0", testTotal); !strings.Contains(r.stdout, want) {
		t.Errorf("sync after the fix: stdout lacks %q:\n%s", want, r.stdout)
	}
	if s := h.status("corp"); s.Status != "healthy" {
		t.Errorf("status after the fix = %q, want healthy", s.Status)
	}
}

// TestPreventOff: with the guard off, the deletions are applied at once.
func TestPreventOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	full := writeLDIF(t, h.dir)
	h.addCorp(full, "--prevent=false")
	h.ok("sync", "corp")
	h.ok("config", "set", "corp", "--source", "ldif:"+writeLDIFWithout(t, full, removedOU))
	r := h.ok("sync", "corp")
	if want := fmt.Sprintf("deleted %d", removedUsers); !strings.Contains(r.stdout, want) {
		t.Errorf("sync with prevent off: stdout lacks %q:\n%s", want, r.stdout)
	}
	s := h.status("corp")
	if s.Status != "healthy" || s.Objects != testTotal-removedUsers || s.Prevent {
		t.Errorf("status = %+v, want healthy with %d objects", s, testTotal-removedUsers)
	}
	// Below the threshold, with the guard on: applied too.
	h.ok("config", "set", "corp", "--prevent", "--threshold", "751", "--source", "ldif:"+full)
	h.ok("sync", "corp")
	h.ok("config", "set", "corp", "--source", "ldif:"+writeLDIFWithout(t, full, removedOU))
	h.ok("sync", "corp")
	// At the threshold: quarantined (deletions ≥ threshold).
	h.ok("config", "set", "corp", "--threshold", "750", "--source", "ldif:"+full)
	h.ok("sync", "corp")
	h.ok("config", "set", "corp", "--source", "ldif:"+writeLDIFWithout(t, full, removedOU))
	h.want(exitQuarantined, "sync", "corp")
}
