package guard

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/store"
)

// TestLDIFTruncatedAnywhere cuts a synced LDIF export at many byte offsets —
// inside lines, exactly after a line, exactly between two records — and
// runs a cycle on each cut with prevention off, so that anything the engine
// concluded from the cut file would be applied. Whatever the cut, either the
// cycle fails, or (cut exactly between two records: a smaller directory) it
// applies only deletions of whole records. Never is an object updated or
// created from a record that lost its last lines: a cut right after
// "title: …\n" would otherwise drop attributes, and one before "entryUUID:"
// would give the object a new anchor (a delete and a create).
func TestLDIFTruncatedAnywhere(t *testing.T) {
	t.Parallel()
	dir := newDirectory(4)
	full := dir.LDIF()
	e := newLDIFEnv(t, dir, store.Basics{Prevent: false, Threshold: 1})
	e.runWant(store.OutcomeSucceeded)
	synced := e.objects()

	// The cuts: every byte of one user record and of one group record, and
	// every line end and record end of the whole file.
	cuts := map[int]bool{}
	for _, dn := range []string{dir.user("e2").DN(), dir.Groups[1].DN()} {
		start := bytes.Index(full, []byte("dn: "+dn+"\n"))
		end := start + bytes.Index(full[start:], []byte("\n\n")) + 2
		for i := start; i <= end; i++ {
			cuts[i] = true
		}
	}
	for i, c := range full {
		if c == '\n' {
			cuts[i+1] = true
		}
	}
	var failed, fewer int
	for cut := range cuts {
		if cut <= 0 || cut >= len(full) {
			continue
		}
		e.writeBytes(full[:cut])
		c := e.run(TriggerManual)
		boundary := bytes.HasSuffix(full[:cut], []byte("\n\n"))
		switch {
		case c.Outcome == store.OutcomeFailed:
			failed++
			if c.Creates+c.Updates+c.Deletes != 0 {
				t.Errorf("cut at %d: failed cycle with changes %+v", cut, c)
			}
		case !boundary:
			t.Errorf("cut at %d (…%q): cycle %s reading %d objects, want Failed: the file ends inside a record",
				cut, tail(full[:cut]), c.Outcome, c.Read)
		default:
			fewer++
		}
		if c.Creates != 0 || c.Updates != 0 {
			t.Errorf("cut at %d (…%q): %d creates and %d updates from a truncated file", cut, tail(full[:cut]), c.Creates, c.Updates)
		}
		got := e.objects()
		for a, o := range got {
			if want, ok := synced[a]; !ok || !reflect.DeepEqual(o, want) {
				t.Errorf("cut at %d: target object %s is %+v, want %+v", cut, a, o, want)
			}
		}
		if len(got) != len(synced) {
			// A cut between records: the guard's business (here prevention
			// is off, so the missing objects were deleted). Put them back.
			e.writeBytes(full)
			if c := e.runWant(store.OutcomeSucceeded); c.Updates != 0 {
				t.Fatalf("re-sync after cut %d updated %d objects", cut, c.Updates)
			}
		}
		if t.Failed() {
			break
		}
	}
	if failed == 0 || fewer == 0 {
		t.Errorf("%d cuts failed, %d read fewer objects; want some of each", failed, fewer)
	}
	t.Logf("%d cuts: %d failed the cycle, %d fell between records and read fewer objects", len(cuts), failed, fewer)
}

// TestLDIFMustEndWithBlankLine: an export whose last record is not followed
// by a blank line cannot be told from one cut after a line; the cycle fails
// and says how to fix a file that is complete.
func TestLDIFMustEndWithBlankLine(t *testing.T) {
	t.Parallel()
	dir := newDirectory(2)
	e := newLDIFEnv(t, dir, defaultBasics)
	e.runWant(store.OutcomeSucceeded)
	before := e.snapshot()
	full := dir.LDIF()
	for _, tt := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"ends with one newline", bytes.TrimSuffix(bytes.Clone(full), []byte("\n")), false},
		{"ends with a comment after the last line", append(bytes.TrimSuffix(bytes.Clone(full), []byte("\n")), "# end\n"...), false},
		{"ends with a blank line", full, true},
		{"ends with a blank line and a comment", append(bytes.Clone(full), "# numEntries: 12\n"...), true},
		{"CRLF, ends with a blank line", bytes.ReplaceAll(full, []byte("\n"), []byte("\r\n")), true},
		{"CRLF, ends with one newline", bytes.TrimSuffix(bytes.ReplaceAll(full, []byte("\n"), []byte("\r\n")), []byte("\r\n")), false},
	} {
		e.writeBytes(tt.data)
		c := e.run(TriggerManual)
		if tt.ok {
			if c.Outcome != store.OutcomeSucceeded {
				t.Errorf("%s: outcome %s (%s), want Succeeded", tt.name, c.Outcome, c.Error)
			}
			continue
		}
		lines := strings.Count(string(tt.data), "\n")
		want := fmt.Sprintf("ldif: line %d: the file ends inside the record", lines)
		if c.Outcome != store.OutcomeFailed || !strings.Contains(c.Error, want) || !strings.Contains(c.Error, "blank line") {
			t.Errorf("%s: outcome %s (%q), want Failed with %q", tt.name, c.Outcome, c.Error, want)
		}
		after := e.snapshot()
		if !reflect.DeepEqual(before.Objects, after.Objects) {
			t.Errorf("%s: the target changed", tt.name)
		}
	}
}

func tail(b []byte) string {
	return string(b[max(0, len(b)-24):])
}
