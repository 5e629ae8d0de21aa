package guard

import (
	"fmt"
	"testing"

	"github.com/syncguard/syncguard/store"
)

// TestDecideAtThreshold checks the guard's decision at its boundary: it trips
// when the deletions reach the threshold (deletions ≥ threshold), never with
// prevention off.
func TestDecideAtThreshold(t *testing.T) {
	t.Parallel()
	on := func(threshold int) store.Basics { return store.Basics{Prevent: true, Threshold: threshold} }
	tests := []struct {
		name      string
		deletions int
		basics    store.Basics
		want      bool
	}{
		{"threshold-1", 499, on(500), false},
		{"threshold", 500, on(500), true},
		{"threshold+1", 501, on(500), true},
		{"prevention off, far above", 5000, store.Basics{Prevent: false, Threshold: 500}, false},
		{"prevention off, at threshold", 500, store.Basics{Prevent: false, Threshold: 500}, false},
		{"threshold 1, no deletion", 0, on(1), false},
		{"threshold 1, one deletion", 1, on(1), true},
		{"no deletion", 0, on(500), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{Deletes: make([]store.StagedDelete, tt.deletions)}
			d := Decide(p, tt.basics)
			if got, want := d.Verdict == Quarantine, tt.want; got != want {
				t.Errorf("Decide(%d deletions, %+v) quarantines = %v, want %v (%s)", tt.deletions, tt.basics, got, want, d.Reason)
			}
			if d.Deletions != tt.deletions || d.Threshold != tt.basics.Threshold {
				t.Errorf("Decision = %+v, want %d deletions against %d", d, tt.deletions, tt.basics.Threshold)
			}
			if d.Reason == "" {
				t.Error("Decision has no reason")
			}
			if tt.want && d.Reason != fmt.Sprintf("%d deletions reach the threshold of %d", tt.deletions, tt.basics.Threshold) {
				t.Errorf("Reason = %q", d.Reason)
			}
		})
	}
}

// TestDecideScopeOUGone: one deletion of an object below a scope OU gone
// quarantines whatever the threshold, prevention off included; deletions
// of other causes are counted against the threshold as ever.
func TestDecideScopeOUGone(t *testing.T) {
	t.Parallel()
	plan := func(gone, deleted int) *Plan {
		p := &Plan{Gone: []string{"ou=Sales,dc=corp,dc=example"}}
		for range gone {
			p.Deletes = append(p.Deletes, store.StagedDelete{Cause: store.CauseScopeOUGone})
		}
		for range deleted {
			p.Deletes = append(p.Deletes, store.StagedDelete{Cause: store.CauseDeleted})
		}
		return p
	}
	for _, tt := range []struct {
		name          string
		gone, deleted int
		basics        store.Basics
		want          bool
	}{
		{"one gone, threshold 500", 1, 0, store.Basics{Prevent: true, Threshold: 500}, true},
		{"one gone, prevention off", 1, 0, store.Basics{Prevent: false, Threshold: 500}, true},
		{"none gone, below the threshold", 0, 499, store.Basics{Prevent: true, Threshold: 500}, false},
		{"none gone, prevention off", 0, 5000, store.Basics{Prevent: false, Threshold: 500}, false},
	} {
		d := Decide(plan(tt.gone, tt.deleted), tt.basics)
		if got := d.Verdict == Quarantine; got != tt.want || d.ScopeGone != tt.gone {
			t.Errorf("%s: quarantines %v with %d gone (%s), want %v", tt.name, got, d.ScopeGone, d.Reason, tt.want)
		}
		if tt.gone > 0 && d.Reason != fmt.Sprintf("%d deletions of objects below a scope OU gone stop sync whatever the threshold (%d deletions in all)", tt.gone, tt.gone+tt.deleted) {
			t.Errorf("%s: reason %q", tt.name, d.Reason)
		}
	}
}
