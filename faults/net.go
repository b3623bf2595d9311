package faults

import (
	"fmt"
	"slices"
	"time"
)

// MaxDelay bounds an injected delay and its jitter, in the schedule
// (delay=D~J) and at the node's POST /faults alike. Every delayed frame
// waits in the sender's memory, so a delay is bounded like any other
// buffer; a minute is far beyond any round trip the protocol tolerates
// (a fault run measures recovery in seconds), so nothing useful is above
// it, and a typo such as 1000h is refused instead of silently wedging a
// link for weeks.
const MaxDelay = time.Minute

// NetSpec is the fault setting of one node's transport hook (the node's
// POST /faults): what happens to the messages it sends to its peers. A
// symmetric partition is both sides blocking each other; a one-way fault is
// one side blocking the other. The zero NetSpec is a healthy network.
//
// A NetSpec replaces the node's previous setting. On net/transport's Faults
// hook of node self it is: Heal(); OneWay(self, b) for each b in Block;
// Delay(Delay, Jitter); DropRate(Loss). Delay and loss act on the messages
// each node sends, so a delay of D adds 2D to a round trip. Its JSON form
// (e.g. {"block":[2,3],"delay_ns":5000000,"loss":0.02}; {} heals) can be
// the body of the node's POST /faults.
type NetSpec struct {
	// Block lists the peers this node's messages to are dropped, sorted.
	Block []NodeID `json:"block,omitempty"`
	// Delay and Jitter: every message sent waits Delay plus a uniform
	// random [0, Jitter). In JSON, nanoseconds.
	Delay  time.Duration `json:"delay_ns,omitempty"`
	Jitter time.Duration `json:"jitter_ns,omitempty"`
	// Loss is the fraction of messages dropped at random, in [0, 1].
	Loss float64 `json:"loss,omitempty"`
}

// IsZero reports whether s is a healthy network.
func (s NetSpec) IsZero() bool {
	return len(s.Block) == 0 && s.Delay == 0 && s.Jitter == 0 && s.Loss == 0
}

// Equal reports whether s and o set the same faults.
func (s NetSpec) Equal(o NetSpec) bool {
	return slices.Equal(s.Block, o.Block) && s.Delay == o.Delay && s.Jitter == o.Jitter && s.Loss == o.Loss
}

func (s NetSpec) String() string {
	if s.IsZero() {
		return "healthy"
	}
	return fmt.Sprintf("block %v delay %v~%v loss %g", s.Block, s.Delay, s.Jitter, s.Loss)
}

// netFault is one active network fault: per node, what it adds to that
// node's NetSpec.
type netFault struct {
	rec  int // index in Runner.records
	spec map[NodeID]NetSpec
}

// combine merges the active faults into one NetSpec per node: blocks are
// united, the largest delay and jitter win, and independent losses compose
// (1 - product of the pass rates).
func combine(members []NodeID, active []netFault) map[NodeID]NetSpec {
	out := make(map[NodeID]NetSpec, len(members))
	for _, id := range members {
		var s NetSpec
		for _, f := range active {
			c, ok := f.spec[id]
			if !ok {
				continue
			}
			for _, b := range c.Block {
				if !slices.Contains(s.Block, b) {
					s.Block = append(s.Block, b)
				}
			}
			s.Delay = max(s.Delay, c.Delay)
			s.Jitter = max(s.Jitter, c.Jitter)
			// 1 - (1-a)(1-b), written so that one loss alone
			// passes through exactly.
			s.Loss = s.Loss + c.Loss - s.Loss*c.Loss
		}
		slices.Sort(s.Block)
		out[id] = s
	}
	return out
}

// blockBetween returns the specs that cut every link between the nodes of
// a and those of b, in both directions.
func blockBetween(a, b []NodeID) map[NodeID]NetSpec {
	spec := make(map[NodeID]NetSpec)
	for _, x := range a {
		spec[x] = NetSpec{Block: slices.Clone(b)}
	}
	for _, y := range b {
		spec[y] = NetSpec{Block: slices.Clone(a)}
	}
	return spec
}
