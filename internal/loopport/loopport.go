// Package loopport picks TCP ports on 127.0.0.1 for servers that are
// started a moment later, by another process or after a restart.
//
// A port the kernel hands out for 127.0.0.1:0 comes from the ephemeral
// range (/proc/sys/net/ipv4/ip_local_port_range), which is also where
// every outgoing connection takes its local port. Between the pick and
// the bind, a node's dial to a peer, or any other client on the machine,
// may take the picked port, and the node then fails with "address
// already in use" (seen in CI: a RESP port taken by a peer connection).
// So Free picks below the ephemeral range, where the kernel never
// assigns a port by itself; only a process that picks the same port in
// the same moment can collide, and the start is random to make that
// unlikely.
package loopport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowest is the lowest port Free picks: above the well-known and most
// registered service ports.
const lowest = 10000

// Free returns n distinct ports that were free on 127.0.0.1 a moment ago.
// It holds every listener open until all n are chosen, so it never
// returns one port twice. The ports lie below the ephemeral range when
// that range leaves room (at least 4n ports above lowest); otherwise
// they come from the kernel, as for 127.0.0.1:0.
func Free(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	lo, hi := lowest, ephemeralLow()
	if span := hi - lo; span >= 4*n {
		start := rand.IntN(span)
		for i := 0; i < span && len(ports) < n; i++ {
			p := lo + (start+i)%span
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				continue // in use: try the next one
			}
			ls = append(ls, l)
			ports = append(ports, p)
		}
	}
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// EphemeralLow is the lowest port of the kernel's ephemeral range, read
// from ip_local_port_range; 0 where it cannot be read (not Linux), so no
// port lies below it and Free leaves the choice to the kernel.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return lo
}
