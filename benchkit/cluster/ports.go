package cluster

import (
	"fmt"

	"github.com/mpaxos/mpaxos/internal/loopport"
)

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1 a
// moment ago (loopport.Free). They lie below the kernel's ephemeral
// range, so a node's own dial to a peer cannot take one before its
// owner binds it. Another process may still take a port first; the node
// then fails to start and the cluster reports that node's log.
func FreePorts(n int) ([]int, error) {
	ports, err := loopport.Free(n)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return ports, nil
}
