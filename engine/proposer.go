package engine

// The proposer side: candidate (phase 1) and leader (phase 2).

// selfPromise counts our own promise, once Advance says it is durable.
func (e *Engine) selfPromise() {
	if e.selfVoted {
		return
	}
	e.selfVoted = true
	e.votes++
	for s := max(e.prepareSlot, e.log.start); s <= e.log.last(); s++ {
		if en := e.log.get(s); en != nil {
			e.mergeProposal(*en)
		}
	}
	e.maybeWin()
}

func (e *Engine) mergeProposal(en Entry) {
	if cur, ok := e.proposals[en.Slot]; !ok || en.Ballot > cur.Ballot {
		e.proposals[en.Slot] = en
	}
}

func (e *Engine) handlePromise(p *peer, m Message) {
	if e.role != RoleCandidate || m.Ballot != e.ballot || p.promised {
		return
	}
	p.promised = true
	e.votes++
	for _, en := range m.Entries {
		if en.Slot >= e.prepareSlot && en.Type != 0 {
			e.mergeProposal(en)
		}
	}
	if m.Snapshot != nil && m.Snapshot.Slot > e.commit && (e.bestSnap == nil || m.Snapshot.Slot > e.bestSnap.Slot) {
		snap := *m.Snapshot
		e.bestSnap = &snap
	}
	e.maybeWin()
}

func (e *Engine) maybeWin() {
	if e.selfVoted && e.phase1Quorum() {
		e.becomeLeader()
	}
}

// becomeLeader ends phase 1: a majority promised ballot. Every slot from
// our first unchosen slot through the highest any promise reported is
// proposed again under ballot, with the value of the highest ballot that
// any promise reported for it (the Paxos rule that keeps a chosen value
// chosen), or a no-op where no one reported a value.
func (e *Engine) becomeLeader() {
	if e.bestSnap != nil && e.bestSnap.Slot > e.commit {
		// A member compacted slots we never learned: they are chosen and
		// only in its snapshot.
		e.installSnapshot(*e.bestSnap)
	}
	e.role = RoleLeader
	e.leader = e.id
	e.base = e.commit + 1
	last := e.log.last()
	for s := range e.proposals {
		last = max(last, s)
	}
	for s := e.base; s <= last; s++ {
		en := Entry{Slot: s, Ballot: e.ballot, Type: EntryNoop}
		best, ok := e.proposals[s]
		if bugIgnorePromisedValues {
			best, ok = Entry{}, false
			if own := e.log.get(s); own != nil {
				best, ok = *own, true
			}
		}
		if ok {
			en.Type, en.Data = best.Type, best.Data
		}
		e.log.set(en)
		e.unstable = append(e.unstable, en)
		e.unstableVote = true
	}
	e.proposals = nil
	e.bestSnap = nil
	e.leaderConfs = nil
	for s := e.base; s <= last; s++ {
		if en := e.log.get(s); en != nil && en.Type == EntryConfChange {
			if m, err := ParseMembership(en.Data); err == nil {
				e.leaderConfs = append(e.leaderConfs, confAt{slot: s, m: m})
			}
		}
	}
	e.rebuildPeers()
	e.sentThrough = e.base - 1
	e.selfMatch = e.base - 1
	for i := range e.peers {
		p := &e.peers[i]
		p.match = e.base - 1
		p.acked = 0
		p.idle = 0
		p.progressed = false
		p.stalled = 0
		p.dupAcks = 0
		p.fastResent = 0
		p.ackRound = 0
		p.read = remoteRead{}
	}
	e.thriftyReset()
	e.round, e.wantRound = 0, 0
	e.reads = e.reads[:0]
	e.readFloor = max(e.log.last(), e.commit)
	e.resetLease()
	e.heartbeatElapsed = 0
	e.logger.Info("became leader", "ballot", e.ballot, "base", e.base, "reproposed", last+1-e.base)
	// Tell everyone now, even when there is nothing to re-propose, so they
	// stop campaigning and learn our base.
	e.startRound()
	e.bcastHeartbeat()
	e.maybeCommit() // a 1-node group may commit at once
}

// leaderLive reports whether a majority (us included) was heard from
// within the election timeout.
func (e *Engine) leaderLive() bool {
	n := 0
	if e.selfVoter {
		n++
	}
	for _, p := range e.peers {
		if p.voter && p.idle < e.cfg.ElectionTicks {
			n++
		}
	}
	return n >= e.conf.Quorum()
}

func (e *Engine) tickLeader() {
	for i := range e.peers {
		e.peers[i].idle++
	}
	if !e.leaderLive() {
		// Check quorum: on the minority side of a partition, stop
		// accepting proposals so clients go elsewhere.
		e.logger.Info("stepping down: no majority heard", "ballot", e.ballot)
		e.becomeFollower(e.promised, 0)
		return
	}
	e.thriftyTick()
	e.expireReads()
	if e.tickHandoff() {
		return
	}
	e.heartbeatElapsed++
	if e.heartbeatElapsed < e.cfg.HeartbeatTicks {
		return
	}
	e.heartbeatElapsed = 0
	// Every heartbeat is a read round: its acknowledgements renew the
	// lease and confirm the reads queued before it.
	e.startRound()
	e.bcastHeartbeat()
	for i := range e.peers {
		p := &e.peers[i]
		if p.lazy {
			continue // gets pushes, not Accepts: nothing to resend
		}
		if p.progressed || p.match >= e.sentThrough {
			p.stalled = 0
		} else {
			p.stalled++
		}
		p.progressed = false
		if p.stalled >= 1 {
			// Accepts or their acknowledgements were lost: resend from
			// the first slot the peer has not acknowledged.
			p.stalled = 0
			e.sendAccepts(p.id, p.match+1, e.sentThrough)
		}
	}
}

func (e *Engine) bcastHeartbeat() {
	for i := range e.peers {
		p := &e.peers[i]
		e.send(Message{Type: MsgCommit, To: p.id, Ballot: e.ballot, Slot: e.base, Commit: e.commitFor(p), Round: e.round})
	}
}

// sendAccepts sends peer to the slots lo..hi of our log (one message, at
// most MaxMsgBytes of data), or our snapshot if lo was compacted.
func (e *Engine) sendAccepts(to NodeID, lo, hi Slot) {
	if lo < e.log.start {
		e.sendSnapshot(to)
		return
	}
	ents := e.log.copyRange(lo, hi, e.cfg.MaxMsgBytes)
	if len(ents) == 0 {
		return
	}
	e.send(Message{Type: MsgAccept, To: to, Ballot: e.ballot, Slot: e.base, Commit: e.commit, Round: e.round, Entries: ents})
}

func (e *Engine) sendSnapshot(to NodeID) {
	snap, ok := e.latestSnapshot()
	if !ok {
		return
	}
	e.send(Message{Type: MsgSnapshot, To: to, Ballot: e.ballot, Slot: e.base, Commit: e.commit, Round: e.round, Snapshot: &snap})
}

// bcastAccept broadcasts the slots proposed since the last broadcast: one
// copy of the entries shared by every peer's message, split at
// MaxMsgBytes.
func (e *Engine) bcastAccept() {
	if e.role != RoleLeader {
		return
	}
	last := e.log.last()
	for e.sentThrough < last {
		ents := e.log.copyRange(e.sentThrough+1, last, e.cfg.MaxMsgBytes)
		if len(ents) == 0 {
			panic("engine: leader log has a hole below its last slot")
		}
		for _, p := range e.peers {
			if p.lazy {
				continue // outside the thrifty majority: pushed once chosen
			}
			e.send(Message{Type: MsgAccept, To: p.id, Ballot: e.ballot, Slot: e.base, Commit: e.commit, Round: e.round, Entries: ents})
		}
		e.sentThrough = ents[len(ents)-1].Slot
	}
}

func (e *Engine) handleAccepted(p *peer, m Message) {
	if m.Ballot > e.ballot && e.role != RoleFollower {
		e.stepDownFor(m.Ballot)
		return
	}
	if e.role != RoleLeader || m.Ballot != e.ballot {
		return
	}
	if m.Round > p.ackRound && m.Round <= e.round {
		p.ackRound = m.Round
		e.maybeReleaseReads()
	}
	p.acked = max(p.acked, m.Slot)
	if m.Slot > p.match {
		p.match = m.Slot
		p.progressed = true
		p.dupAcks = 0
		e.maybeCommit()
		if p.id == e.xfer.to {
			e.maybeSendHandoff()
		}
		return
	}
	// Fast retransmit: a follower answers every Accept once it is durable,
	// and its acknowledgement is cumulative, so acknowledgements that stop
	// short of slots we sent mean an Accept was lost. Resend from the hole
	// now instead of waiting heartbeats for the stall timer; several in a
	// row are required because an answer to a heartbeat can legitimately
	// trail Accepts still in flight.
	if m.Slot == p.match && p.match < e.sentThrough && !p.lazy {
		p.dupAcks++
		if p.dupAcks >= fastRetransmitAcks && p.fastResent != p.match+1 {
			p.dupAcks = 0
			p.fastResent = p.match + 1
			e.sendAccepts(p.id, p.match+1, e.sentThrough)
		}
	}
}

// fastRetransmitAcks is how many non-advancing acknowledgements in a row
// make the leader resend a peer's missing slots.
const fastRetransmitAcks = 3

// maybeCommit advances the commit index to the highest slot a majority
// acknowledged under our ballot, our own durable copy included. Each slot
// counts by the configuration in force at it: up to and including a
// membership change in the log, the one before it; once the change is
// chosen, the one it makes, for the slots after it.
func (e *Engine) maybeCommit() bool {
	moved := false
	for e.role == RoleLeader {
		c := e.quorumMatch()
		if len(e.leaderConfs) > 0 {
			if bugTwoConfChanges {
				c = e.quorumMatchOf(e.leaderConfs[len(e.leaderConfs)-1].m)
			} else {
				c = min(c, e.leaderConfs[0].slot)
			}
		}
		if c <= e.commit {
			break
		}
		e.commit = c
		moved = true
		if len(e.leaderConfs) == 0 || e.leaderConfs[0].slot > c {
			if e.confThrough < c && !e.logHasConfChange(e.confThrough+1, c) {
				e.confThrough = c // steady state: nothing to scan for
			}
			e.applyConfThrough()
			break
		}
		e.applyConfThrough() // a change is chosen: count by it from here on
		if e.role == RoleLeader {
			// Tell the members now, not at the next Accept or heartbeat:
			// new ones are waiting to be dialled, removed ones to stop.
			e.bcastHeartbeat()
		}
	}
	if !moved {
		return false
	}
	e.thriftyCommitted(e.commit)
	e.maybeProposeConf()
	if e.role == RoleLeader && (len(e.reads) > 0 || e.commit >= e.readFloor) {
		e.maybeReleaseReads() // the read floor may just have been reached
	}
	return true
}

// logHasConfChange reports whether a leader's log holds a membership
// change in [lo, hi]: only a change it proposed or re-proposed can be
// there, so it asks leaderConfs and needs no scan.
func (e *Engine) logHasConfChange(lo, hi Slot) bool {
	for _, c := range e.leaderConfs {
		if c.slot >= lo && c.slot <= hi {
			return true
		}
	}
	return false
}

// quorumMatch is the highest slot a majority of the configuration in
// force acknowledged under our ballot (0 if it has too few voters we
// know of).
func (e *Engine) quorumMatch() Slot {
	e.matchBuf = e.matchBuf[:0]
	if e.selfVoter {
		e.matchBuf = append(e.matchBuf, e.selfMatch)
	}
	for _, p := range e.peers {
		if p.voter {
			e.matchBuf = append(e.matchBuf, p.match)
		}
	}
	if q := e.conf.Quorum(); len(e.matchBuf) >= q {
		return quorumSlot(e.matchBuf, q)
	}
	return 0
}

// quorumMatchOf is quorumMatch for the voters of m.
func (e *Engine) quorumMatchOf(m Membership) Slot {
	e.matchBuf = e.matchBuf[:0]
	for _, id := range m.Voters {
		if id == e.id {
			e.matchBuf = append(e.matchBuf, e.selfMatch)
		} else if p := e.peer(id); p != nil {
			e.matchBuf = append(e.matchBuf, p.match)
		}
	}
	if q := m.Quorum(); len(e.matchBuf) >= q {
		return quorumSlot(e.matchBuf, q)
	}
	return 0
}

func (e *Engine) handleNack(m Message) {
	if e.role == RoleFollower || m.Ballot <= e.ballot {
		return
	}
	e.stepDownFor(m.Ballot)
}

// stepDownFor reacts to proof that some member promised a ballot above
// ours. A leader that still hears a majority re-runs phase 1 at once with a
// higher ballot (its followers keep following it, so this only costs one
// round trip, and it unblocks a member that rejoined with a high ballot);
// otherwise, or once it told a hand-off's target to campaign (whose ballot
// this likely is), it becomes a follower and waits for the election
// timeout.
func (e *Engine) stepDownFor(b Ballot) {
	if b > e.maxSeen {
		e.maxSeen = b
	}
	if e.role == RoleLeader && e.leaderLive() && !e.xfer.sent {
		e.logger.Info("nacked by a higher ballot; re-running phase 1", "ballot", e.ballot, "higher", b)
		e.campaign()
		return
	}
	e.becomeFollower(e.promised, 0)
}

// handleCatchup answers a follower that misses chosen slots from m.Slot on
// with as many of them as fit in one message, or our snapshot when they
// were compacted.
func (e *Engine) handleCatchup(m Message) {
	if e.role != RoleLeader {
		return
	}
	if m.Ballot > e.ballot {
		e.stepDownFor(m.Ballot)
		return
	}
	if m.Slot > e.commit {
		return
	}
	if m.Slot < e.log.start {
		e.sendSnapshot(m.From)
		return
	}
	ents := e.log.copyRange(m.Slot, e.commit, e.cfg.MaxMsgBytes)
	e.send(Message{Type: MsgCommit, To: m.From, Ballot: e.ballot, Slot: e.base, Commit: e.commit, Round: e.round, Entries: ents})
}
