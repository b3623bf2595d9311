//go:build !invariants

package invariants

import "testing"

// Without the tag the checks must be compiled out, or production pays for
// them.
func TestDisabledWithoutTag(t *testing.T) {
	if Enabled {
		t.Fatal("Enabled is true in a build without -tags invariants")
	}
}
