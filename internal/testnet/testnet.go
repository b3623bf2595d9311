// Package testnet holds what tests of several packages need to run
// servers on loopback.
package testnet

import (
	"testing"

	"github.com/mpaxos/mpaxos/internal/loopport"
)

// FreePorts reserves n distinct loopback ports (loopport.Free: below the
// ephemeral range, so no outgoing connection takes one). They are
// released before the caller's servers bind them; a collision shows up
// as a clear bind error.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := loopport.Free(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}
