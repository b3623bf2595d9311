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
	// confs are the configurations in force, from the applied log: the
	// initial one at slot 0, then each chosen EntryConfChange at its slot.
	// Slot t is decided by the last one at a slot below t.
	confs []confAt
	// For every (slot, ballot): the one value accepted there, and which
	// acceptors hold it durably (bit i-1 for node i). A value is chosen
	// once a majority of the voters in force at its slot durably
	// accepted it under one ballot; a slot above the applied prefix is
	// judged once the prefix below it is applied (its configuration is
	// known then).
	valueAt   map[slotBallot]uint64
	acceptors map[slotBallot]uint32
	ballotsAt map[Slot][]Ballot
	chosen    map[Slot]uint64
	// The applied log every node must agree with: value hashes, and the
	// state-machine hash after each slot (index 0 is slot 0: the empty
	// state).
	applied []uint64
	smHash  []uint64
	// Who led each ballot (node and incarnation).
	leaders    map[Ballot][2]int
	leaderConf map[Ballot][2]Membership
	newLeaders int
	err        error
}

type slotBallot struct {
	s Slot
	b Ballot
}

func newChecker(initial Membership) *checker {
	return &checker{
		confs:      []confAt{{slot: 0, m: initial}},
		valueAt:    make(map[slotBallot]uint64),
		acceptors:  make(map[slotBallot]uint32),
		ballotsAt:  make(map[Slot][]Ballot),
		chosen:     make(map[Slot]uint64),
		smHash:     []uint64{0},
		leaders:    make(map[Ballot][2]int),
		leaderConf: make(map[Ballot][2]Membership),
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
	if _, ok := c.acceptors[k]; !ok {
		c.ballotsAt[en.Slot] = append(c.ballotsAt[en.Slot], en.Ballot)
	}
	c.valueAt[k] = v
	c.acceptors[k] |= 1 << (node - 1)
	if int(en.Slot) <= len(c.applied)+1 {
		c.judge(k)
	}
}

// confAt returns the configuration that decides slot t: t-1 must be
// applied.
func (c *checker) confAt(t Slot) Membership {
	m := c.confs[0].m
	for _, ca := range c.confs {
		if ca.slot < t {
			m = ca.m
		}
	}
	return m
}

// voterMask is m's voters as acceptor bits.
func voterMask(m Membership) uint32 {
	var b uint32
	for _, id := range m.Voters {
		b |= 1 << (id - 1)
	}
	return b
}

// judge records k's value as chosen if a majority of the voters in force
// at its slot durably accepted it.
func (c *checker) judge(k slotBallot) {
	m := c.confAt(k.s)
	if bits.OnesCount32(c.acceptors[k]&voterMask(m)) < m.Quorum() {
		return
	}
	v := c.valueAt[k]
	if old, ok := c.chosen[k.s]; ok && old != v {
		c.fail("slot %d: a second value chosen under ballot %v (value %x, earlier %x, voters %v)", k.s, k.b, v, old, m.Voters)
		return
	}
	c.chosen[k.s] = v
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
	if en.Type == EntryConfChange {
		m, err := ParseMembership(en.Data)
		if err != nil {
			c.fail("node %d applied slot %d: %v", node, s, err)
		} else {
			c.confs = append(c.confs, confAt{slot: en.Slot, m: m})
		}
	}
	// The slot above is now judged by a known configuration.
	next := en.Slot + 1
	for _, b := range c.ballotsAt[next] {
		c.judge(slotBallot{next, b})
	}
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
		// A majority of the configuration in force at the end of the
		// applied log when it is first seen leading must have promised
		// it: phase 1 reaches every configuration chosen above its first
		// unchosen slot.
		// (or of the one before it, whose majorities meet its own).
		c.leaderConf[b] = [2]Membership{c.confAt(Slot(len(c.applied)) + 1), c.confs[max(0, len(c.confs)-2)].m}
	}
	c.leaders[b] = who
	ms := c.leaderConf[b]
	for _, m := range ms {
		n := 0
		for i, p := range durablePromised {
			if p >= b && m.IsVoter(NodeID(i+1)) {
				n++
			}
		}
		if n >= m.Quorum() {
			return
		}
	}
	c.fail("node %d leads ballot %v but no majority of %v or %v durably promised it", node, b, ms[0].Voters, ms[1].Voters)
}
