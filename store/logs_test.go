package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestLogsTextIndex: a text search gives the same entries whether they are
// in the text index, above its mark, or both, with and without filters
// and paging; pruning an indexed entry takes it out of the index.
func TestLogsTextIndex(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	var ids []int64
	for i := range 2 {
		c := &Configuration{Name: fmt.Sprintf("c%d", i), Source: "ldif:/x.ldif", BaseDN: "dc=corp,dc=example", Interval: time.Minute,
			Basics: Basics{Prevent: true, Threshold: 1000}}
		if err := s.CreateConfiguration(ctx, c, "test"); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	write := func(from, to int) {
		for _, id := range ids {
			cfg, err := s.Configuration(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			now := s.Now()
			var applied Applied
			for k := from; k < to; k++ {
				action := []string{ActionCreate, ActionUpdate, ActionDelete}[k%3]
				applied.Log = append(applied.Log, LogEntry{Time: now, Action: action, Status: LogSuccess, Type: "user",
					Name: fmt.Sprintf("Ann Lee %d", k), DN: fmt.Sprintf("uid=al%d,ou=Sales %d,dc=corp,dc=example", k, k%7), Anchor: fmt.Sprint(k)})
			}
			ch := &CycleWrite{Generation: cfg.Generation, Cycle: Cycle{ConfigID: id, Trigger: "manual", StartedAt: now, FinishedAt: now},
				Changes: applied}
			if _, err := s.ApplyCycle(ctx, ch); err != nil {
				t.Fatal(err)
			}
		}
	}
	// scan is the answer without the index: every entry, filtered by hand.
	scan := func(q LogQuery) []int64 {
		all, err := s.logs(ctx, LogQuery{ConfigID: q.ConfigID, Action: q.Action, Text: q.Text, Before: q.Before, Limit: 1 << 20}, logScan, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range all[:min(len(all), q.Limit)] {
			out = append(out, e.ID)
		}
		return out
	}
	check := func(when string) {
		t.Helper()
		for _, q := range []LogQuery{
			{Text: "ann lee 1"}, {Text: "AL12,"}, {Text: "sales 3", Action: ActionUpdate}, {Text: "nobody"},
			{Text: "ou=sales", Limit: 7}, {Text: "ou=sales", Limit: 7, Before: 40}, {Text: "lee 2", Before: 30},
		} {
			q.ConfigID = ids[1]
			if q.Limit == 0 {
				q.Limit = 50
			}
			got, err := s.Logs(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []int64
			for _, e := range got {
				gotIDs = append(gotIDs, e.ID)
			}
			if want := scan(q); !slices.Equal(gotIDs, want) {
				t.Errorf("%s: Logs(%+v) = %v, want %v", when, q, gotIDs, want)
			}
		}
	}
	write(0, 30)
	check("nothing indexed")
	if n, err := s.IndexLogText(ctx, 25); err != nil || n != 25 {
		t.Fatalf("IndexLogText = %d, %v; want 25", n, err)
	}
	check("partly indexed")
	write(30, 40)
	check("indexed, then more written")
	for {
		n, err := s.IndexLogText(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	check("all indexed")
	if _, err := s.PruneLogs(ctx, s.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM provisioning_log_text WHERE provisioning_log_text MATCH '"ann"'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("text index after pruning everything: %d matches, %v", n, err)
	}
	if got, err := s.IntegrityCheck(ctx); err != nil || got != "ok" {
		t.Errorf("integrity check = %q, %v", got, err)
	}
}
