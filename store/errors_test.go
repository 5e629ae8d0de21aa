package store

import (
	"errors"
	"fmt"
	"testing"
)

// TestErrorCodes: an error with a code keeps its code and its message for
// people through wrapping, and matches the bare error of its code only.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	taken := Errorf(Conflict, "a configuration named %q already exists", "corp")
	for _, tt := range []struct {
		name     string
		err      error
		code     string
		message  string
		conflict bool
		notFound bool
	}{
		{"with a message", taken, Conflict, `a configuration named "corp" already exists`, true, false},
		{"wrapped", fmt.Errorf("store: create configuration: %w", taken), Conflict, `a configuration named "corp" already exists`, true, false},
		{"bare, wrapped", fmt.Errorf("store: cycle 12: %w", ErrNotFound), NotFound, "", false, true},
		{"internal", errors.New("disk I/O error"), "", "", false, false},
		{"nil", nil, "", "", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
			if got := errors.Is(tt.err, ErrConflict); got != tt.conflict {
				t.Errorf("errors.Is(err, ErrConflict) = %v, want %v", got, tt.conflict)
			}
			if got := errors.Is(tt.err, ErrNotFound); got != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tt.notFound)
			}
		})
	}
	other := Errorf(Conflict, "another conflict")
	if errors.Is(other, taken) || errors.Is(taken, other) {
		t.Error("two conflicts with their own messages match each other")
	}
	if got, want := fmt.Sprint(fmt.Errorf("store: cycle 12: %w", ErrNotFound)), "store: cycle 12: not found"; got != want {
		t.Errorf("bare error reads %q, want %q", got, want)
	}
}
