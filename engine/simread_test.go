package engine

import (
	"errors"
	"math/rand/v2"
)

// Reads without the log and clocks that run at different rates, in the
// simulator.
//
// A seed draws the share of gets its clients issue through Engine.Read
// instead of the log (none, half, nine in ten) and the modes they use
// (ReadIndex, ReadLease or both), sent to the node the clients believe
// leads or, one time in four, to a random node (a follower read). A
// client retries a read that failed at once, and one that got no answer
// 30 ticks after it was sent. The simulated runtime serves a read once
// its node's state machine has applied through the read's Index, and the
// history of reads and writes must be linearizable together (porcupine,
// per key: simclient_test.go).
//
// Each node's clock runs at its own rate in [1-drift, 1] ticks per
// simulator step (one node at each end), drift being the seed's
// Config.MaxClockDrift, so leases are tested at the edge of their
// assumption. A paused node's clock runs on while it is paused when its
// seed uses leases: it resumes by catching up every tick it missed before
// it handles anything, as doc.go requires of a runtime. (Other seeds keep
// the clock of a paused node stopped: a leader that resumes believing
// what it did is the harder case for everything but a lease.)

// simReadWait is a read answered with an index its node has not applied.
type simReadWait struct {
	op    *simOp
	index Slot
}

// drawReads draws the read and clock options of a seed.
func (o *simOptions) drawReads(r *rand.Rand) {
	o.directReads = []float64{0, 0.5, 0.9}[r.IntN(3)]
	o.readModes = [][]ReadMode{{ReadIndex}, {ReadLease}, {ReadIndex, ReadLease}}[r.IntN(3)]
	o.drift = []float64{0, 0.05, 0.1, 0.25}[r.IntN(4)]
	if o.drift == 0 || o.nodes < 2 {
		return
	}
	o.rates = make([]float64, o.nodes)
	for i := range o.rates {
		o.rates[i] = 1 - o.drift*r.Float64()
	}
	fast := r.IntN(o.nodes)
	slow := (fast + 1 + r.IntN(o.nodes-1)) % o.nodes
	o.rates[fast], o.rates[slow] = 1, 1-o.drift
}

// leases reports whether the seed's clients may read by lease.
func (o *simOptions) leases() bool {
	if o.directReads == 0 {
		return false
	}
	for _, m := range o.readModes {
		if m == ReadLease {
			return true
		}
	}
	return false
}

// drawReadMode decides how a new command reads: 0 for a put or a get
// through the log, else the ReadMode of a get through Read.
func (s *sim) drawReadMode(put bool) ReadMode {
	if put || s.o.directReads == 0 || s.r.Float64() >= s.o.directReads {
		return 0
	}
	return s.o.readModes[s.r.IntN(len(s.o.readModes))]
}

// tick advances n's clock by one simulator step at its rate.
func (s *sim) tick(n *simNode) {
	rate := 1.0
	if s.o.rates != nil {
		rate = s.o.rates[n.id-1]
	}
	n.clock += rate
	due := int(n.clock)
	n.clock -= float64(due)
	if s.paused(n) {
		if s.o.leases() {
			n.missed += due
		}
		return
	}
	for range due {
		n.eng.Tick()
	}
}

// catchUp gives every node that resumed from a pause the ticks it missed,
// before it takes any call or message (the runtime's duty, doc.go).
func (s *sim) catchUp() {
	for _, n := range s.nodes {
		if n.up && n.missed > 0 && !s.paused(n) {
			s.tracef("node %d resumes: %d ticks missed", n.id, n.missed)
			for range n.missed {
				n.eng.Tick()
			}
			n.missed = 0
		}
	}
}

// runReads sends every get through Read whose client has waited 30 ticks
// (or whose last attempt failed) to a node: the read target of a
// scenario, else the node believed to lead or a random one.
func (s *sim) runReads() {
	for i := range s.clients {
		op := s.clients[i].cur
		if op == nil || op.mode == 0 || s.now-op.lastSent < 30 {
			continue
		}
		target := s.o.readTarget
		if target == 0 {
			target = s.hint
			if target == 0 || s.r.IntN(4) == 0 {
				target = NodeID(1 + s.r.IntN(len(s.nodes)))
			}
		}
		n := s.nodes[target-1]
		// A paused process takes no calls: its clock is behind until it
		// resumes and catches up.
		if !n.up || s.paused(n) {
			continue
		}
		s.readCtx++
		err := n.eng.Read(s.readCtx, op.mode)
		var nle *NotLeaderError
		switch {
		case err == nil:
			s.tracef("client %d: read %d (key %d, %v) on node %d", op.client, s.readCtx, op.key, op.mode, target)
			s.reading[s.readCtx] = op
			op.lastSent, op.target = s.now, target
		case errors.As(err, &nle):
			if s.o.readTarget == 0 {
				s.hint = nle.Leader
			}
		default:
			s.chk.fail("node %d: Read: %v", target, err)
		}
	}
}

// readsAnswered takes a Ready's Reads on node n (after its Committed were
// applied) and serves every read whose index n has applied.
func (s *sim) readsAnswered(n *simNode, rs []ReadState) {
	for _, r := range rs {
		op := s.reading[r.Ctx]
		delete(s.reading, r.Ctx)
		s.tracef("node %d answers read %d: %+v (applied %d)", n.id, r.Ctx, r, n.smSlot)
		if op == nil || op.done {
			continue // an earlier attempt's answer, or a later one's
		}
		if r.Failed {
			op.lastSent = -1000 // retry now
			continue
		}
		s.stats.reads++
		if bugReadBeforeApply || n.smSlot >= r.Index {
			s.serveRead(n, op)
			continue
		}
		n.readWait = append(n.readWait, simReadWait{op: op, index: r.Index})
	}
	kept := n.readWait[:0]
	for _, w := range n.readWait {
		switch {
		case w.op.done:
		case n.smSlot >= w.index:
			s.serveRead(n, w.op)
		default:
			kept = append(kept, w)
		}
	}
	n.readWait = kept
}

// serveRead answers op from n's state machine as it is now.
func (s *sim) serveRead(n *simNode, op *simOp) {
	op.done, op.out, op.ret = true, n.kv.vals[op.key], s.now
	s.clients[op.client].cur = nil
	s.history = append(s.history, op)
	delete(s.pending, op.id)
}
