package engine

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// The phases of a simulated run after setup: faults, a minority cut off,
// the heal, and the wait for convergence.

// run plays the seed: faults, then healing and a bounded wait for every
// pending command to commit and every node to apply the same log.
func (s *sim) run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic at tick %d: %v\n%s", s.now, r, debug.Stack())
		}
	}()
	s.faulting = true
	for s.now < s.o.faultTicks && s.chk.err == nil {
		s.step()
	}
	if s.chk.err != nil {
		return fmt.Errorf("tick %d: %w", s.now, s.chk.err)
	}
	s.faulting = false
	clear(s.cut)
	s.unpauseAll()
	s.restartDue(true)
	if err := s.minorityCutOff(); err != nil {
		return err
	}
	clear(s.cut)
	healed := s.now
	for s.chk.err == nil {
		if s.converged() {
			s.stats.settle = s.now - healed
			s.stats.ticks = s.now
			s.stats.applied = len(s.chk.applied)
			s.stats.leaders = s.chk.newLeaders
			s.stats.ops = len(s.history)
			return s.checkClients()
		}
		if s.now-healed > s.o.settleTicks {
			return fmt.Errorf("liveness: %d commands still pending %d ticks after healing (applied: %v)", len(s.pending), s.o.settleTicks, s.appliedSlots())
		}
		s.step()
	}
	return fmt.Errorf("tick %d: %w", s.now, s.chk.err)
}

// minorityCutOff is the availability check: with every node up and a
// minority cut off from the rest (both ways, no other faults), the majority
// side must commit every pending command within settleTicks, and after
// three election timeouts no node of the minority may still be leader
// (check quorum), so none of them takes proposals.
func (s *sim) minorityCutOff() error {
	minority := make([]bool, len(s.nodes))
	if s.o.members {
		// A minority of the configuration in force and of any that a
		// change still in some log may bring into force meanwhile.
		voters, size := s.cutCandidates()
		if size < 3 || len(voters) == 0 {
			return nil
		}
		for _, i := range s.r.Perm(len(voters))[:min(len(voters), (size-1)/2)] {
			minority[voters[i]-1] = true
		}
	} else {
		if len(s.nodes) < 3 {
			return nil
		}
		for _, i := range s.r.Perm(len(s.nodes))[:(len(s.nodes)-1)/2] {
			minority[i] = true
		}
	}
	for i, a := range s.peers {
		for j, b := range s.peers {
			if minority[i] != minority[j] {
				s.cut[[2]NodeID{a, b}] = true
			}
		}
	}
	s.tracef("minority %v cut off", minority)
	s.newBatch(3)
	start := s.now
	for s.chk.err == nil && len(s.pending) > 0 {
		if s.now-start > s.o.settleTicks {
			return fmt.Errorf("availability: %d commands pending %d ticks after cutting off minority %v (applied: %v)", len(s.pending), s.o.settleTicks, minority, s.appliedSlots())
		}
		s.step()
		if s.now-start >= 3*s.config(1, 0).ElectionTicks {
			for i, n := range s.nodes {
				if minority[i] && n.eng.Status().Role == RoleLeader {
					return fmt.Errorf("availability: node %d still leads from the minority side %d ticks after the cut", n.id, s.now-start)
				}
			}
		}
	}
	if s.chk.err != nil {
		return fmt.Errorf("tick %d: %w", s.now, s.chk.err)
	}
	s.stats.majority = s.now - start
	return nil
}

func (s *sim) appliedSlots() string {
	var b strings.Builder
	for _, n := range s.nodes {
		if !n.up {
			fmt.Fprintf(&b, "\n  node %d down", n.id)
			continue
		}
		st := n.eng.Status()
		fmt.Fprintf(&b, "\n  node %d applied %d: %+v", n.id, n.smSlot, st)
		e := n.eng
		fmt.Fprintf(&b, "\n    ack %v/%d to %d need %v, leaderCommit %d, log [%d..%d]", e.ackBallot, e.ackSlot, e.ackTo, e.needAck, e.leaderCommit, e.log.start, e.log.last())
		fmt.Fprintf(&b, "\n    reads: floor %d, round %d (want %d), %d held, lease until %d at tick %d, forwarded %d/%d", e.readFloor, e.round, e.wantRound, len(e.reads), e.leaseUntil, e.ticks, len(e.fwdSent), len(e.fwdQueued))
		for sl := max(e.log.start, e.commit); sl <= e.log.last(); sl++ {
			if en := e.log.get(sl); en != nil {
				fmt.Fprintf(&b, " %d:%v", sl, en.Ballot)
			}
		}
	}
	return b.String()
}

func (s *sim) converged() bool {
	if len(s.pending) > 0 {
		return false
	}
	want := Slot(len(s.chk.applied))
	for _, n := range s.nodes {
		if s.o.members && (n.out || !s.latestConf().Contains(n.id)) {
			continue // no member: nothing to apply
		}
		if n.smSlot != want {
			return false
		}
	}
	return true
}
