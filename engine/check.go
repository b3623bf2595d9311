package engine

import "fmt"

// checkInvariants panics, with the offending values, if the engine's own
// state is inconsistent. It runs on every Ready under the invariants build
// tag (the simulator and CI); it walks the log, so it is too slow otherwise.
func (e *Engine) checkInvariants() {
	if e.applied > e.commit {
		panic(fmt.Sprintf("engine: node %d: applied %d > commit %d", e.id, e.applied, e.commit))
	}
	if e.commit+1 < e.log.start {
		panic(fmt.Sprintf("engine: node %d: commit %d below log start %d", e.id, e.commit, e.log.start))
	}
	if e.durablePromised > e.promised {
		panic(fmt.Sprintf("engine: node %d: durable promise %v above promise %v", e.id, e.durablePromised, e.promised))
	}
	if n := len(e.log.ents); n > 0 && e.log.ents[n-1].Type == 0 {
		panic(fmt.Sprintf("engine: node %d: log ends in a hole at slot %d", e.id, e.log.last()))
	}
	for s := max(e.log.start, e.applied+1); s <= e.commit; s++ {
		if e.log.get(s) == nil {
			panic(fmt.Sprintf("engine: node %d: committed slot %d is a hole", e.id, s))
		}
	}
	if e.preBallot != 0 {
		// Asking changes nothing: a pre-candidate is a follower that
		// knows no leader and has promised below what it asks about.
		if e.role != RoleFollower || e.leader != 0 || (e.preBallot <= e.promised && !bugPrePrepareRaisesBallot) {
			panic(fmt.Sprintf("engine: node %d: asking for %v as %v of leader %d with promise %v", e.id, e.preBallot, e.role, e.leader, e.promised))
		}
	}
	if e.role == RoleLeader {
		if e.ballot != e.promised {
			panic(fmt.Sprintf("engine: node %d: leader of %v has promised %v", e.id, e.ballot, e.promised))
		}
		if e.ballot.Node() != e.id {
			panic(fmt.Sprintf("engine: node %d leads with ballot %v of another node", e.id, e.ballot))
		}
		for s := max(e.base, e.commit, e.log.start); s <= e.log.last(); s++ {
			en := e.log.get(s)
			if en == nil || en.Ballot != e.ballot {
				panic(fmt.Sprintf("engine: node %d: leader of %v: slot %d (base %d) not proposed under its ballot: %+v", e.id, e.ballot, s, e.base, en))
			}
		}
	}
}
