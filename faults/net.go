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

	// The settings below only the kernel layer has (KernelOnly kinds);
	// they are never sent to a node's hook, hence no JSON.

	// ClientCut drops every packet between the node and the clients.
	ClientCut bool `json:"-"`
	// Blackhole drops every packet to and from the node, peers' and
	// clients' alike, without a reset.
	Blackhole bool `json:"-"`
	// Dup is the fraction of the node's packets sent twice, in [0, 1].
	Dup float64 `json:"-"`
	// Rate limits the node's link, each way, in bits per second; 0 is no
	// limit.
	Rate uint64 `json:"-"`
	// Flap takes the node's link down for Flap, up for Flap, in turn; 0
	// leaves it up.
	Flap time.Duration `json:"-"`
}

// IsZero reports whether s is a healthy network.
func (s NetSpec) IsZero() bool { return s.Equal(NetSpec{}) }

// KernelOnly reports whether s sets anything the transport's hook cannot
// do.
func (s NetSpec) KernelOnly() bool {
	return s.ClientCut || s.Blackhole || s.Dup != 0 || s.Rate != 0 || s.Flap != 0
}

// Equal reports whether s and o set the same faults.
func (s NetSpec) Equal(o NetSpec) bool {
	return slices.Equal(s.Block, o.Block) && s.Delay == o.Delay && s.Jitter == o.Jitter && s.Loss == o.Loss &&
		s.ClientCut == o.ClientCut && s.Blackhole == o.Blackhole && s.Dup == o.Dup && s.Rate == o.Rate && s.Flap == o.Flap
}

func (s NetSpec) String() string {
	if s.IsZero() {
		return "healthy"
	}
	str := fmt.Sprintf("block %v delay %v~%v loss %g", s.Block, s.Delay, s.Jitter, s.Loss)
	if s.KernelOnly() {
		str += fmt.Sprintf(" clientcut %v blackhole %v dup %g rate %d flap %v", s.ClientCut, s.Blackhole, s.Dup, s.Rate, s.Flap)
	}
	return str
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
			s.Dup = s.Dup + c.Dup - s.Dup*c.Dup
			s.ClientCut = s.ClientCut || c.ClientCut
			s.Blackhole = s.Blackhole || c.Blackhole
			if c.Rate != 0 && (s.Rate == 0 || c.Rate < s.Rate) {
				s.Rate = c.Rate // the narrowest limit wins
			}
			s.Flap = max(s.Flap, c.Flap)
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
