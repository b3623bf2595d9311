package engine

// Pre-prepare: the Paxos analogue of Raft's pre-vote. A node whose election
// timeout passes does not raise its ballot at once; it first asks every
// peer "would you promise ballot b?" (MsgPrePrepare) and runs phase 1 only
// when a majority, itself included, answers yes (MsgPrePromise). Nothing
// changes at either end while it asks: the candidate keeps its promise and
// its highest ballot seen, the answerers record nothing (not even the
// ballot asked about), so neither message needs persistence.
//
// An answerer says yes only if it would promise b (b is above its promise)
// and it has not heard from a live leader within the election timeout (the
// same stickiness that makes it ignore prepares; a leader that still hears
// a majority says no too). So a node cut off from the others asks in vain
// without raising any ballot, and when it rejoins it follows the leader's
// next heartbeat instead of Nacking it into a new phase 1; while a leader
// is needed (it crashed, or lost its majority), a majority stops hearing
// it and says yes. Liveness only: phase 1 decides safety as before, and a
// lost or refused pre-prepare merely waits for the next timeout.

// prePrepare asks every peer whether it would promise a ballot above every
// ballot this node has seen. It starts from a follower with no leader: a
// candidate whose phase 1 stalled asks again too, without its ballot.
func (e *Engine) prePrepare() {
	e.becomeFollower(e.promised, 0)
	e.preBallot = nextBallot(max(e.maxSeen, e.promised), e.id)
	if bugPrePrepareRaisesBallot {
		e.promised = e.preBallot
		e.maxSeen = e.preBallot
	}
	e.preVotes = 1 // our own (only voters ask): we heard no leader and promised below preBallot
	for i := range e.peers {
		e.peers[i].prePromised = false
	}
	e.logger.Debug("asking whether a majority would promise", "ballot", e.preBallot)
	for _, p := range e.peers {
		e.send(Message{Type: MsgPrePrepare, To: p.id, Ballot: e.preBallot, Slot: e.commit + 1})
	}
}

// wouldPromise is the answer to a pre-prepare of ballot b from node from:
// handlePrepare would promise b, and no live leader was heard within the
// election timeout.
func (e *Engine) wouldPromise(b Ballot, from NodeID) bool {
	if bugPrePromiseIgnoresLeader {
		return b > e.promised
	}
	switch {
	case b <= e.promised:
		return false
	case from != e.leader && e.heardLeaderRecently():
		return false
	case e.promiseBlocked(from):
		return false
	case e.role == RoleLeader && e.leaderLive():
		return false
	}
	return true
}

// handlePrePrepare answers without changing any state: a yes echoes the
// ballot asked about; a no carries our promise (Reject), so a node that
// fell behind the others' ballots learns how high it must bid.
func (e *Engine) handlePrePrepare(m Message) {
	if e.wouldPromise(m.Ballot, m.From) {
		e.send(Message{Type: MsgPrePromise, To: m.From, Ballot: m.Ballot, Slot: m.Slot, Commit: e.commit})
		return
	}
	e.send(Message{Type: MsgPrePromise, To: m.From, Ballot: e.promised, Slot: m.Slot, Commit: e.commit, Reject: true})
}

// handlePrePromise counts a yes to our current pre-prepare and, with a
// majority, starts phase 1. campaign picks its ballot afresh, above
// preBallot and anything seen since.
func (e *Engine) handlePrePromise(p *peer, m Message) {
	if m.Reject {
		if m.Ballot > e.maxSeen {
			e.maxSeen = m.Ballot
		}
		return
	}
	if e.preBallot == 0 || e.role != RoleFollower || m.Ballot != e.preBallot || p.prePromised {
		return
	}
	p.prePromised = true
	if p.voter {
		e.preVotes++
	}
	if e.preVotes >= e.conf.Quorum() {
		e.campaign()
	}
}
