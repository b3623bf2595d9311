package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Leadership hand-offs in the simulator. While faults are injected, a seed
// with hand-offs on (simOptions.handoff, per tick) asks a random up node,
// usually the leader, to hand off to a random target: another member that
// may be crashed, paused, partitioned away or behind, the node itself, or
// a node that is not a member; hand-offs start during elections and while
// an earlier one runs too. The answer must be exactly the one the engine's
// state calls for, and every check of the run (agreement, linearizability,
// exactly-once, liveness after the heal) holds with hand-offs in it.
//
// Hand-off decisions draw from their own random source, so a seed's other
// options (simOptions) are the same with hand-offs on or off.

// handoffRates are the per-tick hand-off probabilities a seed draws from.
var handoffRates = []float64{0, 0.003, 0.01}

// handoffRate draws the seed's hand-off probability per tick.
func handoffRate(seed uint64) float64 {
	return handoffRates[rand.New(rand.NewPCG(seed, 0x4a0d)).IntN(len(handoffRates))]
}

// maybeHandoff starts a hand-off with probability o.handoff.
func (s *sim) maybeHandoff() {
	if s.o.handoff == 0 || s.hr.Float64() >= s.o.handoff {
		return
	}
	var leaders, up []*simNode
	for _, n := range s.nodes {
		if n.up && !s.paused(n) {
			up = append(up, n)
			if n.eng.Status().Role == RoleLeader {
				leaders = append(leaders, n)
			}
		}
	}
	if len(up) == 0 {
		return
	}
	from := up[s.hr.IntN(len(up))]
	if len(leaders) > 0 && s.hr.IntN(4) != 0 {
		from = leaders[s.hr.IntN(len(leaders))]
	}
	// Mostly a member; now and then one past the last.
	to := NodeID(1 + s.hr.IntN(s.o.nodes))
	if s.hr.IntN(20) == 0 {
		to = NodeID(s.o.nodes + 1)
	}
	s.transfer(from, to)
}

// transfer asks from to hand off to to, and checks the answer against
// what from's state calls for.
func (s *sim) transfer(from *simNode, to NodeID) error {
	before := from.eng.Status()
	err := from.eng.TransferLeadership(to)
	after := from.eng.Status()
	s.tracef("node %d: hand off to %d (as %v, hand-off to %d running): %v", from.id, to, before.Role, before.HandoffTo, err)
	var nle *NotLeaderError
	var want string
	switch {
	case before.Role != RoleLeader:
		if !errors.As(err, &nle) || nle.Leader != before.Leader {
			want = fmt.Sprintf("a *NotLeaderError naming %d", before.Leader)
		}
	case to == from.id:
		if !errors.Is(err, ErrTransferToSelf) {
			want = "ErrTransferToSelf"
		}
	case !before.Membership.IsVoter(to):
		if !errors.Is(err, ErrUnknownNode) {
			want = "ErrUnknownNode"
		}
	case before.HandoffTo != 0:
		if !errors.Is(err, ErrTransferInProgress) || after.HandoffTo != before.HandoffTo {
			want = "ErrTransferInProgress, the running hand-off kept"
		}
	default:
		if err != nil || after.HandoffTo != to {
			want = fmt.Sprintf("nil, and a hand-off to %d running", to)
		}
		if err == nil {
			s.stats.handoffs++
			s.lastHandoff = simHandoff{to: to, from: from.id, at: s.now}
			if perr := from.eng.Propose([]byte("x")); !errors.As(perr, &nle) || nle.Leader != to {
				s.chk.fail("node %d: Propose during a hand-off to %d returned %v, want a *NotLeaderError naming %d", from.id, to, perr, to)
			}
		}
	}
	if want != "" {
		s.chk.fail("node %d (%v, hand-off to %d running): TransferLeadership(%d) returned %v (hand-off to %d after), want %s", from.id, before.Role, before.HandoffTo, to, err, after.HandoffTo, want)
	}
	return err
}

// simHandoff is the latest hand-off a leader accepted.
type simHandoff struct {
	to, from NodeID
	at       int
}

// noteLeader counts a hand-off as completed when its target is the next
// node to lead a new ballot, within two election timeouts.
func (s *sim) noteLeader(id NodeID) {
	h := s.lastHandoff
	if h.to == 0 {
		return
	}
	if id == h.to && s.now-h.at <= 2*s.o.electionTicks() {
		s.stats.handoffsDone++
	}
	s.lastHandoff = simHandoff{}
}

// handoffOptions: a quiet network of n nodes, with the clients' commands
// in flight throughout.
func handoffScenario(t testing.TB, seed uint64, nodes int) (*sim, error) {
	s := newSim(t, seed, scenarioOptions(nodes, seed%2 == 0), false)
	if err := s.until(50*scenarioElection, "first leader", func() bool { return s.leaderAmong(s.peers...) != 0 }); err != nil {
		return s, err
	}
	return s, s.commitOne("first commit")
}

// TestSimHandoff: on a quiet network, a leader hands off to each other
// member in turn, with commands in flight: each time the target leads
// within two election timeouts (a full phase 1 with a higher ballot), the
// old leader follows it, and every command commits once; the run ends
// converged, linearizable and exactly-once.
func TestSimHandoff(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		for _, nodes := range []int{2, 3, 5} {
			if err := handoffRound(t, seed, nodes); err != nil {
				t.Errorf("seed %d, %d nodes: %v", seed, nodes, err)
			}
		}
	}
}

func handoffRound(t testing.TB, seed uint64, nodes int) (err error) {
	s, err := handoffScenario(t, seed, nodes)
	defer s.protect(&err)
	if err != nil {
		return err
	}
	for i := 0; i < 2*nodes; i++ {
		old := s.leaderAmong(s.peers...)
		to := NodeID(1 + (int(old)+i%(nodes-1))%nodes)
		ballot := s.nodes[old-1].eng.Status().Ballot
		s.newBatch(2) // in flight while the hand-off runs
		if err := s.transfer(s.nodes[old-1], to); err != nil {
			return fmt.Errorf("hand-off %d from %d to %d: %v", i, old, to, err)
		}
		if err := s.until(2*scenarioElection, fmt.Sprintf("node %d leads after a hand-off from %d", to, old), func() bool {
			st := s.nodes[to-1].eng.Status()
			return st.Role == RoleLeader && st.Ballot > ballot
		}); err != nil {
			return err
		}
		if err := s.until(scenarioElection, fmt.Sprintf("node %d follows node %d", old, to), func() bool {
			st := s.nodes[old-1].eng.Status()
			return st.Role == RoleFollower && st.Leader == to
		}); err != nil {
			return err
		}
		if err := s.commitOne(fmt.Sprintf("commit under node %d", to)); err != nil {
			return err
		}
	}
	if err := s.until(s.o.settleTicks, "convergence", s.converged); err != nil {
		return err
	}
	if s.stats.handoffsDone != 2*nodes {
		return fmt.Errorf("%d hand-offs completed by the simulator's count, want %d", s.stats.handoffsDone, 2*nodes)
	}
	return s.checkClients()
}

// TestSimHandoffAborts: a hand-off to a target that is cut off cannot
// finish; the leader gives up within ElectionTicks and commits again:
// under the same ballot if the target never caught up (no hand-off
// Prepare can exist), else after a phase 1 of its own under a higher one.
func TestSimHandoffAborts(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		for _, nodes := range []int{3, 5} {
			for _, caughtUp := range []bool{true, false} {
				if err := handoffAbort(t, seed, nodes, caughtUp); err != nil {
					t.Errorf("seed %d, %d nodes, target caught up %v: %v", seed, nodes, caughtUp, err)
				}
			}
		}
	}
}

func handoffAbort(t testing.TB, seed uint64, nodes int, caughtUp bool) (err error) {
	s, err := handoffScenario(t, seed, nodes)
	defer s.protect(&err)
	if err != nil {
		return err
	}
	old := s.leaderAmong(s.peers...)
	to := NodeID(1 + int(old)%nodes)
	n := s.nodes[old-1]
	if err := s.until(scenarioElection, fmt.Sprintf("node %d acknowledges every slot", to), func() bool {
		st := n.eng.Status()
		for _, m := range st.Match {
			if m.ID == to {
				return m.Match >= st.LastSlot
			}
		}
		return false
	}); err != nil {
		return err
	}
	s.isolate(to)
	if !caughtUp {
		if err := s.commitOne("commit without the target"); err != nil {
			return err
		}
	}
	ballot := n.eng.Status().Ballot
	if err := s.transfer(n, to); err != nil {
		return err
	}
	s.newBatch(1)
	// tickHandoff gives up on the ElectionTicks-th tick after the start.
	for range scenarioElection - 1 {
		s.step()
		if st := n.eng.Status(); st.HandoffTo != to || n.eng.CanPropose() {
			return fmt.Errorf("tick %d: hand-off ended early: %+v, can propose %v", s.now, st, n.eng.CanPropose())
		}
	}
	if err := s.until(1, "the leader gives up", func() bool { return n.eng.Status().HandoffTo == 0 }); err != nil {
		return err
	}
	leads := func() bool {
		st := n.eng.Status()
		return st.Role == RoleLeader && (st.Ballot == ballot) != caughtUp
	}
	if err := s.until(scenarioElection, fmt.Sprintf("node %d leads again (ballot %v, a new one: %v)", old, ballot, caughtUp), leads); err != nil {
		return err
	}
	if err := s.commitOne("commit after giving up"); err != nil {
		return err
	}
	if !leads() {
		return fmt.Errorf("after the commit: %+v", n.eng.Status())
	}
	clear(s.cut)
	if err := s.until(s.o.settleTicks, "convergence", s.converged); err != nil {
		return err
	}
	return s.checkClients()
}

// handoffStormRate is the per-tick hand-off probability of a storm run: a
// hand-off starts every 20 ticks or so, so they overlap elections, catch
// targets mid-campaign and chain (a target that just took over is asked
// to hand off again while the previous phase 1's messages are in flight).
const handoffStormRate = 0.05

// runHandoffStorm plays seed with its options, but hand-offs at the storm
// rate.
func runHandoffStorm(t testing.TB, seed uint64) error {
	_, err := playHandoffStorm(t, seed)
	return err
}

func playHandoffStorm(t testing.TB, seed uint64) (simStats, error) {
	o := optionsForSeed(seed)
	o.handoff = handoffStormRate
	s := newSim(t, seed, o, *simTrace)
	err := s.run()
	if err != nil && *simTrace {
		tail := s.trace[max(0, len(s.trace)-400):]
		t.Logf("trace (last %d events):\n%s", len(tail), strings.Join(tail, "\n"))
	}
	return s.stats, err
}

// TestSimHandoffStorm runs seeds with hand-offs at the storm rate, under
// every check of TestSim (its performance means excepted: a storm changes
// leaders on purpose), or only -sim.seed.
func TestSimHandoffStorm(t *testing.T) {
	var sum simSummary
	failed := 0
	first, last := uint64(1), uint64(simStormSeeds)
	if *simSeed != 0 {
		first, last = *simSeed, *simSeed
	}
	for seed := first; seed <= last; seed++ {
		st, err := playHandoffStorm(t, seed)
		if err != nil {
			failed++
			t.Errorf("seed %d: %v\nreplay: go test -tags invariants -run 'TestSimHandoffStorm$' ./engine/ -sim.seed=%d -sim.trace", seed, err, seed)
			if failed >= 5 {
				t.Fatal("stopping after 5 failing seeds")
			}
			continue
		}
		sum.add(optionsForSeed(seed), st)
	}
	t.Logf("%d storm seeds: %s", last-first+1, sum.String())
	if *simSeed == 0 && failed == 0 && sum.handoffsDone == 0 {
		t.Fatal("no hand-off completed in a storm")
	}
}

// simStormSeeds is how many seeds TestSimHandoffStorm runs.
const simStormSeeds = 500
