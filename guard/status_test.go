package guard

import (
	"testing"

	"github.com/syncguard/syncguard/store"
)

// TestStatusText: every status is worded as SPEC's status table says, in
// one place for the portal and the command line.
func TestStatusText(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{
		store.StatusHealthy:     "Healthy",
		store.StatusQuarantined: "Delete threshold exceeded",
		store.StatusError:       "Error",
		StatusRunning:           "Running",
		"":                      "Not run yet",
		"not_run":               "Not run yet",
	} {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%q) = %q, want %q", code, got, want)
		}
	}
}
