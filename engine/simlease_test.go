package engine

import (
	"fmt"
	"testing"
)

// Lease scenarios: a leader serving lease reads is cut off while the rest
// elect a new leader and commit writes; every read the old leader answers
// must still be linearizable with them. Clients read only from the old
// leader (by lease) and write only to the leader of the rest.

// leaseScenario plays one seed of a lease scenario. With drift, node 1's
// clock runs at half the others' rate (MaxClockDrift 0.5, ElectionTicks
// 20): only the drift factor keeps its lease shorter than the followers'
// promise. With restart (5 nodes), nodes 4 and 5 never hear node 1, node 1
// is cut off and node 2, one of the nodes its lease counts on, restarts at
// once: only its restart window keeps it from completing 4's majority.
func leaseScenario(t testing.TB, seed uint64, drift, restart bool) (err error) {
	nodes := 3
	if restart {
		nodes = 5
	}
	o := scenarioOptions(nodes, false)
	o.election, o.heartbeat = 20, 2
	o.directReads, o.readModes, o.readTarget = 1, []ReadMode{ReadLease}, 1
	o.clients = 6
	if drift {
		o.drift = 0.5
		o.rates = make([]float64, nodes)
		for i := range o.rates {
			o.rates[i] = 1
		}
		o.rates[0] = 0.5
	}
	s := newSim(t, seed, o, *simTrace)
	defer s.protect(&err)
	s.nodes[0].eng.Campaign()
	if err := s.until(10*o.election, "node 1 leads", func() bool { return s.leaderAmong(s.peers...) == 1 }); err != nil {
		return err
	}
	s.o.writeTarget = 1
	if err := s.commitOne("first commit"); err != nil {
		return err
	}
	rest := s.peers[1:]
	if restart {
		for _, p := range []NodeID{4, 5} {
			s.cut[[2]NodeID{1, p}], s.cut[[2]NodeID{p, 1}] = true, true
		}
		for range 3 * o.election {
			s.step()
		}
	}
	// Let leases run a while, then cut node 1 off at a point the seed
	// picks.
	for range 5 + s.r.IntN(20) {
		if s.r.IntN(2) == 0 {
			s.issue(1)
		}
		s.step()
	}
	s.isolate(1)
	if restart {
		s.crash(s.nodes[1])
		s.start(s.nodes[1])
	}
	for range 6 * o.election {
		s.o.writeTarget = s.leaderAmong(rest...)
		if s.o.writeTarget == 0 {
			s.o.writeTarget = rest[0]
		}
		s.issue(2)
		s.step()
	}
	if s.chk.err != nil {
		return s.chk.err
	}
	clear(s.cut)
	s.o.writeTarget, s.o.readTarget = 0, 0
	if err := s.until(o.settleTicks, "convergence", s.converged); err != nil {
		return err
	}
	if err := s.checkClients(); err != nil {
		return fmt.Errorf("tick %d: %w", s.now, err)
	}
	return nil
}

func checkLeaseDrift(t testing.TB, seed uint64) error   { return leaseScenario(t, seed, true, false) }
func checkLeaseRestart(t testing.TB, seed uint64) error { return leaseScenario(t, seed, false, true) }

// The lease scenarios pass with the engine as it is (their planted bugs
// are in TestSimCatchesPlantedBugs).
func TestSimLeaseScenarios(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		if err := checkLeaseDrift(t, seed); err != nil {
			t.Fatalf("drift, seed %d: %v", seed, err)
		}
		if err := checkLeaseRestart(t, seed); err != nil {
			t.Fatalf("restart, seed %d: %v", seed, err)
		}
	}
}
