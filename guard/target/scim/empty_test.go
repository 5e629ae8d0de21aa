package scim_test

import (
	"testing"

	"github.com/syncguard/syncguard/guard/target"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
)

// TestEmpty: a service is empty until it holds a user or a group.
func TestEmpty(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts scimtest.Options
		want bool
	}{
		{"nothing", scimtest.Options{}, true},
		{"a user", scimtest.Options{Users: []scimtest.User{{UserName: "ann"}}}, false},
		{"a group", scimtest.Options{Groups: []scimtest.Group{{DisplayName: "Staff"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWriter(t, scimtest.Start(t, tc.opts))
			if got, err := w.Empty(t.Context()); err != nil || got != tc.want {
				t.Errorf("Empty = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	srv := scimtest.Start(t, scimtest.Options{})
	srv.FailNext(1, "GET", "/Users", scimtest.Fault{Status: 503})
	if _, err := newWriter(t, srv).Empty(t.Context()); target.Classify(err) == nil || !target.Classify(err).Transient {
		t.Errorf("Empty on a 503 = %v, want a transient error", err)
	}
}
