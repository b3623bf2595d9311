package engine

import (
	"fmt"
	"hash/fnv"
	"math/bits"
)

// checker holds the simulator's own account of the run, built from what
// nodes made durable and what they applied, never from engine internals,
// and reports the first safety violation.
type checker struct {
	quorum int
	// For every (slot, ballot): the one value accepted there, and which
	// acceptors hold it durably (bit i-1 for node i). A value is chosen
	// once a majority durably accepted it under one ballot.
	valueAt   map[slotBallot]uint64
	acceptors map[slotBallot]uint32
	chosen    map[Slot]uint64
	// The applied log every node must agree with: value hashes, and the
	// state-machine hash after each slot (index 0 is slot 0: the empty
	// state).
	applied []uint64
	smHash  []uint64
	// Who led each ballot (node and incarnation).
	leaders    map[Ballot][2]int
	newLeaders int
	err        error
}

type slotBallot struct {
	s Slot
	b Ballot
}

func newChecker(n int) *checker {
	return &checker{
		quorum:    quorumSize(n),
		valueAt:   make(map[slotBallot]uint64),
		acceptors: make(map[slotBallot]uint32),
		chosen:    make(map[Slot]uint64),
		smHash:    []uint64{0},
		leaders:   make(map[Ballot][2]int),
	}
}

func (c *checker) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

func valueHash(en *Entry) uint64 {
	h := fnv.New64a()
	h.Write([]byte{byte(en.Type)})
	h.Write(en.Data)
	return h.Sum64()
}

func mixHash(state, v uint64) uint64 {
	state ^= v
	state *= 0x100000001b3
	return bits.RotateLeft64(state, 17) + 0x9e3779b97f4a7c15
}

// durableAccept records that node holds en durably.
func (c *checker) durableAccept(node NodeID, en *Entry) {
	k := slotBallot{en.Slot, en.Ballot}
	v := valueHash(en)
	if old, ok := c.valueAt[k]; ok && old != v {
		c.fail("slot %d ballot %v: two different values accepted under one ballot (node %d)", en.Slot, en.Ballot, node)
		return
	}
	c.valueAt[k] = v
	c.acceptors[k] |= 1 << (node - 1)
	if bits.OnesCount32(c.acceptors[k]) >= c.quorum {
		if old, ok := c.chosen[en.Slot]; ok && old != v {
			c.fail("slot %d: a second value chosen under ballot %v (value %x, earlier %x)", en.Slot, en.Ballot, v, old)
			return
		}
		c.chosen[en.Slot] = v
	}
}

// apply records that node applied en right after its state reached
// en.Slot-1, and returns the node's new state hash.
func (c *checker) apply(node NodeID, state uint64, en *Entry) uint64 {
	v := valueHash(en)
	if ch, ok := c.chosen[en.Slot]; !ok {
		c.fail("node %d applied slot %d (ballot %v), which no majority durably accepted", node, en.Slot, en.Ballot)
	} else if ch != v {
		c.fail("node %d applied slot %d value %x, but %x was chosen", node, en.Slot, v, ch)
	}
	s := int(en.Slot)
	if s > len(c.applied)+1 {
		c.fail("node %d applied slot %d beyond the longest applied prefix %d", node, s, len(c.applied))
		return state
	}
	if c.smHash[s-1] != state {
		c.fail("node %d applied slot %d on a state that differs from every other node's", node, s)
	}
	if s <= len(c.applied) {
		if c.applied[s-1] != v {
			c.fail("node %d applied slot %d value %x, others applied %x", node, s, v, c.applied[s-1])
		}
		return c.smHash[s]
	}
	c.applied = append(c.applied, v)
	c.smHash = append(c.smHash, mixHash(state, v))
	return c.smHash[s]
}

// restore checks a snapshot a node restored its state machine from.
func (c *checker) restore(node NodeID, slot Slot, state uint64) {
	if int(slot) >= len(c.smHash) || c.smHash[slot] != state {
		c.fail("node %d restored a snapshot at slot %d that matches no applied prefix", node, slot)
	}
}

// leader records that node (in incarnation inc) leads ballot b, and checks
// that no one else did and that a majority durably promised it.
func (c *checker) leader(node NodeID, inc int, b Ballot, durablePromised []Ballot) {
	who := [2]int{int(node), inc}
	if old, ok := c.leaders[b]; ok && old != who {
		c.fail("ballot %v led by node %d (incarnation %d) and node %d (incarnation %d)", b, old[0], old[1], who[0], who[1])
		return
	}
	if _, ok := c.leaders[b]; !ok {
		c.newLeaders++
	}
	c.leaders[b] = who
	n := 0
	for _, p := range durablePromised {
		if p >= b {
			n++
		}
	}
	if n < c.quorum {
		c.fail("node %d leads ballot %v but only %d nodes durably promised it", node, b, n)
	}
}
