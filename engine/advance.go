package engine

import (
	"fmt"

	"github.com/mpaxos/mpaxos/internal/invariants"
)

// HasReady reports whether Ready would return anything to do.
func (e *Engine) HasReady() bool {
	return len(e.unstable) > 0 || len(e.msgs) > 0 || len(e.afterSync) > 0 ||
		e.snapOut != nil || e.commit > e.applied ||
		e.hardState() != e.hsEmitted || e.confChanged ||
		(e.role == RoleLeader && (e.sentThrough < e.log.last() || e.wantRound > e.round ||
			(e.thr.on && (e.thr.pushDue || !e.thriftyAllowed())))) ||
		len(e.readStates) > 0 || (e.fwdID == 0 && len(e.fwdQueued) > 0) ||
		e.wantAck()
}

func (e *Engine) hardState() HardState { return HardState{Promised: e.promised, Commit: e.commit} }

func (e *Engine) wantAck() bool {
	return e.needAck && e.role == RoleFollower && e.ackTo != 0 && e.ackBallot == e.promised
}

// Ready returns what the engine asks the caller to do now and hands that
// work over: the next Ready holds only newer work. Call it when HasReady
// says there is something (an empty Ready must still be Advanced). It may
// be called again
// before the previous Ready was Advanced (the caller may persist one Ready
// while it prepares the next); every Ready must be Advanced exactly once,
// in the order they were returned. The slices in a Ready belong to the
// caller; the engine never modifies them afterwards.
func (e *Engine) Ready() Ready {
	e.maybeStartReadRound()
	e.thriftyReady()
	e.bcastAccept()
	e.maybeSendReadRequest()
	if e.wantAck() {
		// Reports entries of this Ready or earlier ones, hence AfterSync.
		e.needAck = false
		m := Message{Type: MsgAccepted, To: e.ackTo, Ballot: e.ackBallot, Slot: e.ackSlot, Commit: e.commit, Round: e.ackRound}
		if bugAckBeforeSync {
			e.send(m)
		} else {
			e.ackRoundNow(m)
			e.sendAfterSync(m)
		}
	}
	var rd Ready
	if hs := e.hardState(); hs != e.hsEmitted {
		rd.HardState, rd.SaveHardState = hs, true
		rd.MustSync = hs.Promised != e.hsEmitted.Promised
		e.hsEmitted = hs
	}
	// Chosen entries alone (a catch-up reply, a thrifty push) need no
	// sync of their own: a crash that loses them loses nothing that was
	// counted, and the node fetches them again. A vote (an Accept's
	// entries, the leader's own) always does.
	vote := e.unstableVote
	if bugThriftyUnsyncedAccept && e.unstablePushed {
		vote = false
	}
	rd.Entries, e.unstable = e.unstable, nil
	e.unstableVote, e.unstablePushed = false, false
	rd.Snapshot, e.snapOut = e.snapOut, nil
	if vote || rd.Snapshot != nil {
		rd.MustSync = true
	}
	rd.Messages, e.msgs = e.msgs, nil
	rd.AfterSync, e.afterSync = e.afterSync, nil
	rd.Reads, e.readStates = e.readStates, nil
	if e.confChanged {
		m := e.conf
		rd.Membership = &m
		e.confChanged = false
	}
	if e.commit > e.applied {
		rd.Committed = make([]Entry, 0, e.commit-e.applied)
		for s := e.applied + 1; s <= e.commit; s++ {
			en := e.log.get(s)
			if en == nil {
				panic(fmt.Sprintf("engine: node %d: committed slot %d (commit %d) missing from the log [%d, %d]", e.id, s, e.commit, e.log.start, e.log.last()))
			}
			rd.Committed = append(rd.Committed, *en)
		}
		e.applied = e.commit
	}
	rec := pendingReady{promised: e.promised}
	if e.role == RoleLeader {
		rec.leader = e.ballot
		rec.selfAck = e.log.last()
		if bugCountSelfEarly && rec.selfAck > e.selfMatch {
			e.selfMatch = rec.selfAck
			e.maybeCommit()
		}
	}
	e.pending = append(e.pending, rec)
	if invariants.Enabled {
		e.checkInvariants()
	}
	return rd
}

// Advance tells the engine that the oldest Ready not yet Advanced is
// durable: its HardState, Entries and Snapshot are on stable storage (and
// its AfterSync messages may now be sent). Only then does a candidate count
// its own promise and a leader its own acceptance.
func (e *Engine) Advance(rd Ready) {
	if len(e.pending) == 0 {
		panic(fmt.Sprintf("engine: node %d: Advance without an outstanding Ready", e.id))
	}
	rec := e.pending[0]
	// pendingReady holds no pointers: shift in place so the queue's array
	// is reused (it holds a handful of records at most).
	n := copy(e.pending, e.pending[1:])
	e.pending = e.pending[:n]
	if rec.promised > e.durablePromised {
		e.durablePromised = rec.promised
	}
	switch e.role {
	case RoleCandidate:
		if e.durablePromised == e.ballot {
			e.selfPromise()
		}
	case RoleLeader:
		if rec.leader == e.ballot && rec.selfAck > e.selfMatch {
			e.selfMatch = rec.selfAck
			e.maybeCommit()
		}
	}
}

// Compact drops the in-memory entries at or below through, after the caller
// stored a snapshot of the state machine through that slot (so
// Storage.Snapshot returns it) and truncated its log. Later catch-up below
// through is served with that snapshot. through must not exceed the slots
// already handed out in Committed.
func (e *Engine) Compact(through Slot) error {
	if through > e.applied {
		return fmt.Errorf("%w: through %d, applied %d", errCompactAhead, through, e.applied)
	}
	if through < e.log.start {
		return nil
	}
	e.log.compact(through)
	e.dropUnstableThrough(through)
	if e.installed != nil && e.installed.Slot <= through {
		e.installed = nil
	}
	return nil
}
