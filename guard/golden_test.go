package guard

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/planner.golden with the current plan")

// TestPlannerGolden: planning testdata/planner.ldif gives what
// testdata/planner.golden recorded, for the plannerVersion it names. A
// stored digest skips planning for records that match it; it is only
// right while the planner plans those records as it did, and plannerVersion
// (part of the digest's fingerprint) is what says it does not. So when the
// plan of the same records changes, this fails until plannerVersion is
// bumped in digest.go; then `go test ./guard -run TestPlannerGolden -update`
// records the new plan.
func TestPlannerGolden(t *testing.T) {
	t.Parallel()
	const golden = "testdata/planner.golden"
	got := planGolden(t, "testdata/planner.ldif", []string{"ou=sales,dc=corp,dc=example"})
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	want := string(b)
	version := func(s string) string { v, _, _ := strings.Cut(s, "\n"); return v }
	switch {
	case got == want:
	case version(got) == version(want):
		t.Errorf("planning testdata/planner.ldif changed, but %s as before: a digest stored by the old planner "+
			"would skip planning records this one plans differently. Bump plannerVersion in guard/digest.go, then run "+
			"go test ./guard -run TestPlannerGolden -update.\n%s", version(got), difference(got, want))
	case strings.TrimPrefix(got, version(got)) == strings.TrimPrefix(want, version(want)):
		t.Errorf("plannerVersion changed (%s, the golden file has %s) but the plan did not: run with -update to record it",
			version(got), version(want))
	default:
		t.Errorf("plannerVersion was bumped (%s): run go test ./guard -run TestPlannerGolden -update to record the new plan.\n%s",
			version(got), difference(strings.TrimPrefix(got, version(got)), strings.TrimPrefix(want, version(want))))
	}
}

// planGolden plans an LDIF file against an empty target directory and
// writes down everything planning decided: per object its anchor, type,
// DN, name, content hash and attributes, after the planner version.
func planGolden(t *testing.T, path string, scope []string) string {
	t.Helper()
	p := NewPlanner(scope, map[string]string{}, nil, nil)
	if err := (&ldifSource{path: path}).Read(t.Context(), nil, p.Add); err != nil {
		t.Fatal(err)
	}
	plan, err := p.Finish(t.Context(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range plan.Creates {
		o := c.Object
		lines = append(lines, strings.Join([]string{o.Anchor, o.Type, o.DN, o.Name, o.Hash, o.Encoded}, "\t"))
	}
	slices.Sort(lines)
	return fmt.Sprintf("plannerVersion %q\nread %d, in scope %d\n%s\n", plannerVersion, plan.Read, plan.InScope, strings.Join(lines, "\n"))
}

// difference names the lines only one of got and want holds.
func difference(got, want string) string {
	var b strings.Builder
	only := func(label, a, b2 string) {
		other := strings.Split(b2, "\n")
		for _, l := range strings.Split(a, "\n") {
			if !slices.Contains(other, l) && b.Len() < 4000 {
				fmt.Fprintf(&b, "\n %s %q", label, l)
			}
		}
	}
	only("planned now:   ", got, want)
	only("planned before:", want, got)
	return b.String()
}
