// Package testnet holds what tests of several packages need to run
// servers on loopback.
package testnet

import (
	"net"
	"testing"
)

// FreePorts reserves n distinct loopback ports. They are released before
// the caller's servers bind them; a collision shows up as a clear bind
// error.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
