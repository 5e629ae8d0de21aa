package ldap

import (
	"testing"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/guard/target"
)

// TestEmpty: a directory is empty until a user or group lives below the
// target base; a base that does not exist yet is empty too.
func TestEmpty(t *testing.T) {
	slapdtest.Require(t)
	srv, w := newTarget(t)
	if got, err := w.Empty(t.Context()); err != nil || !got {
		t.Fatalf("Empty of a fresh directory = %v, %v", got, err)
	}
	missing := newWriter(t, srv, func(c *Config) { c.TargetBaseDN = "ou=Nowhere," + targetBase })
	if got, err := missing.Empty(t.Context()); err != nil || !got {
		t.Errorf("Empty below a missing base = %v, %v", got, err)
	}
	if _, err := w.Put(t.Context(), user("uid=ann,ou=Sales,"+sourceBase, "uid", "ann", "cn", "Ann", "sn", "Lee"), "", target.CreateFirst); err != nil {
		t.Fatal(err)
	}
	if got, err := w.Empty(t.Context()); err != nil || got {
		t.Errorf("Empty with a user = %v, %v", got, err)
	}
	srv.Stop()
	if _, err := w.Empty(t.Context()); target.Classify(err) == nil || !target.Classify(err).Transient {
		t.Errorf("Empty with the server down = %v, want a transient error", err)
	}
}
