package loopport

import (
	"net"
	"strconv"
	"testing"
)

// Ports from 127.0.0.1:0 lie in the ephemeral range, where a peer's
// outgoing connection can take one before the node binds it (CI:
// "resp: listen tcp 127.0.0.1:37261: bind: address already in use").
func TestFreeAvoidsEphemeralRange(t *testing.T) {
	eph := ephemeralLow()
	if eph-lowest < 4*40 {
		t.Skipf("ephemeral range starts at %d: no room below it", eph)
	}
	ports, err := Free(40)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p < lowest || p >= eph {
			t.Fatalf("port %d outside [%d, %d): an outgoing connection may take it", p, lowest, eph)
		}
		if seen[p] {
			t.Fatalf("port %d returned twice: %v", p, ports)
		}
		seen[p] = true
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ports[0]))
	if err != nil {
		t.Fatalf("picked port not bindable: %v", err)
	}
	l.Close()
}

// A port in use is skipped.
func TestFreeSkipsBusyPorts(t *testing.T) {
	held, err := Free(1)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(held[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 20; i++ {
		ports, err := Free(50)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if p == held[0] {
				t.Fatalf("Free returned port %d, which is in use", p)
			}
		}
	}
}
