package check

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// NodeState is one node's state machine fingerprint at the end of a run.
type NodeState struct {
	Node uint64
	// Applied is the slot the state machine has applied through.
	Applied uint64
	// Hash is the state machine's hash there (sm.Applier.Hash: the machine's and its sessions').
	Hash uint64
}

// HashReport is what CompareHashes found.
type HashReport struct {
	Nodes int
	// Comparable: every node had applied through the same slot, Slot.
	// Hashes taken at different slots say nothing; the caller should
	// wait for the nodes to catch up and ask again.
	Comparable bool
	Slot       uint64
	// Agree: comparable and every hash equal.
	Agree bool
	// Detail lists the nodes per slot (not comparable) or per hash
	// (disagreeing), for the report.
	Detail string
}

// OK reports whether the state machines were compared and agree.
func (r HashReport) OK() bool { return r.Agree }

// String is the state-machine line of a benchmark report.
func (r HashReport) String() string {
	switch {
	case r.Nodes == 0:
		return "state machines: no node to compare"
	case !r.Comparable:
		return "state machines: not compared, nodes at different slots: " + r.Detail
	case r.Agree:
		return fmt.Sprintf("state machines: identical on %d nodes at slot %d", r.Nodes, r.Slot)
	}
	return fmt.Sprintf("state machines: DIFFER at slot %d: %s", r.Slot, r.Detail)
}

// CompareHashes checks that every node's state machine is the same, at the
// same applied slot.
func CompareHashes(states []NodeState) HashReport {
	r := HashReport{Nodes: len(states)}
	if len(states) == 0 {
		return r
	}
	group := func(key func(NodeState) uint64, format string) (int, string) {
		by := map[uint64][]uint64{}
		for _, s := range states {
			by[key(s)] = append(by[key(s)], s.Node)
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(by)) {
			nodes := by[k]
			slices.Sort(nodes)
			parts = append(parts, fmt.Sprintf("nodes %v "+format, nodes, k))
		}
		return len(by), strings.Join(parts, "; ")
	}
	if n, detail := group(func(s NodeState) uint64 { return s.Applied }, "at slot %d"); n > 1 {
		r.Detail = detail
		return r
	}
	r.Comparable, r.Slot = true, states[0].Applied
	n, detail := group(func(s NodeState) uint64 { return s.Hash }, "hash %016x")
	r.Agree = n == 1
	if !r.Agree {
		r.Detail = detail
	}
	return r
}
