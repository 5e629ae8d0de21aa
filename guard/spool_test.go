package guard

import (
	"testing"

	"github.com/syncguard/syncguard/store"
)

// The spool that holds a cycle's new objects (directory text) is its
// owner's alone, whatever the umask; what goes in comes out in anchor
// order.
func TestSpoolOwnerOnly(t *testing.T) {
	t.Parallel()
	sp, err := newSpool()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	fi, err := sp.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("spool file mode %04o, want 0600", perm)
	}
	for _, a := range []string{"b", "a"} {
		if err := sp.put(&store.TargetObject{Anchor: a, Type: "user", DN: "uid=" + a, Name: a}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for o, err := range sp.all() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, o.Anchor)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("spool gave %q, want [a b]", got)
	}
}
