package engine

import (
	"errors"
	"fmt"
)

// Gray failures and storage faults in the simulator, drawn per seed while
// faults are injected:
//
//   - a paused node (a long GC pause, a stopped VM) neither ticks nor
//     handles messages nor completes syncs for 20..200 ticks; what is sent
//     to it waits, and it resumes with whatever it believed (a paused
//     leader still thinks it leads);
//   - one node's disk is slow: its syncs take 10..40 ticks more;
//   - a message is replayed, a copy delivered 100..500 ticks later,
//     long after the ballot it carries was superseded;
//   - nodes snapshot and compact while Readies are still being synced, as
//     the runtime does;
//   - a Storage read fails: New must return ErrStorage (the node stays
//     down and tries again later), and a failed Snapshot read while
//     serving a promise or a lagging follower must cost only liveness.

// errSimStorage is the storage faults' error.
var errSimStorage = errors.New("sim: injected storage read error")

func (s *sim) paused(n *simNode) bool { return s.now < n.pausedUntil }

func (s *sim) grayFaults() {
	if s.o.pause > 0 && s.r.Float64() < s.o.pause {
		n := s.nodes[s.r.IntN(len(s.nodes))]
		if n.up && !s.paused(n) {
			n.pausedUntil = s.now + 20 + s.r.IntN(181)
			s.stats.pauses++
			s.tracef("node %d paused until %d", n.id, n.pausedUntil)
		}
	}
}

func (s *sim) unpauseAll() {
	for _, n := range s.nodes {
		n.pausedUntil = 0
	}
}

// storageFault is every memStorage's fault hook: while faults are
// injected, a read fails with probability storageFault.
func (s *sim) storageFault(op string) error {
	if !s.faulting || s.o.storageFault == 0 || s.r.Float64() >= s.o.storageFault {
		return nil
	}
	s.stats.storageFaults++
	return fmt.Errorf("%w: %s", errSimStorage, op)
}
