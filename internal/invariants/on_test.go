//go:build invariants

package invariants

import "testing"

// The build tag and the constant must agree, or a CI run with -tags
// invariants would silently check nothing.
func TestEnabledWithTag(t *testing.T) {
	if !Enabled {
		t.Fatal("Enabled is false in a build with -tags invariants")
	}
}
