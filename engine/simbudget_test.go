package engine

import (
	"strings"
	"testing"
)

// The simulator's bounds on work: per seed, ticks and messages; per node,
// messages in flight.

// simWork is what one seed may do: ticks and messages sent (copies
// included). A run that goes over fails at once with its seed, instead of
// spinning on (a message storm grows the network without bound) and losing
// the failures other seeds already found.
type simWork struct{ ticks, msgs int }

// budget is a generous multiple of what today's engine needs: a run has
// faultTicks of faults, then two phases of at most settleTicks each; a
// node sends a few messages per peer per tick at most.
func (s *sim) budget() simWork {
	ticks := s.o.faultTicks + 2*s.o.settleTicks + 10
	if s.o.budgetTicks > 0 {
		ticks = s.o.budgetTicks
	}
	if s.o.budgetMsgs > 0 {
		return simWork{ticks: ticks, msgs: s.o.budgetMsgs}
	}
	n := s.o.slotCount()
	return simWork{ticks: ticks, msgs: simMsgsPerNodeTick * n * n * ticks}
}

// simMsgsPerNodeTick bounds, with budget, the messages of a run per node
// per peer per tick. Today's engine stays below 1 (the largest measured
// over 20,000 seeds was about 0.3).
const simMsgsPerNodeTick = 2

// inflightLimit bounds the messages one node has in the network at once:
// per peer, a few copies of a full pipeline window (a leader resends a
// stalled follower's window every heartbeat, and with a heartbeat of one
// tick and small messages several windows are in flight before the first
// acknowledgement returns) plus simInflightPerPeer others (a new leader
// whose own commit index lagged re-proposes every slot above it at once,
// one message per slot when MaxMsgBytes is small: about 100 per peer in
// the worst of 100,000 seeds). A message storm grows without bound and
// crosses it.
func (s *sim) inflightLimit() int {
	return max(1, s.o.slotCount()-1) * (4*s.o.maxInflight + simInflightPerPeer)
}

// simPausedBacklog is how many messages a link holds for a paused node.
const simPausedBacklog = 32

// simInflightPerPeer: the per-peer part of the in-flight bound that does
// not scale with the window.
const simInflightPerPeer = 160

// A seed that goes over its work budget fails at once, naming the budget,
// instead of running on.
func TestSimWorkBudget(t *testing.T) {
	o := optionsForSeed(3)
	o.budgetMsgs = 200
	s := newSim(t, 3, o, false)
	err := s.run()
	if err == nil || !strings.Contains(err.Error(), "work budget") {
		t.Fatalf("a run over a 200-message budget: %v, want a work budget failure", err)
	}
	if s.stats.sent > o.budgetMsgs+simMsgsPerNodeTick*o.nodes*o.nodes*10 {
		t.Fatalf("the run went on to %d messages after its budget of %d", s.stats.sent, o.budgetMsgs)
	}
}
