package engine

// The acceptor and learner side: every node runs it, whatever its role.

// heardLeaderRecently is leader stickiness: a follower that heard its
// leader within the (non-randomized) election timeout ignores other
// nodes' prepares, so a node that rejoins with a high ballot cannot depose
// a healthy leader. Liveness only: ignoring a prepare never breaks safety.
func (e *Engine) heardLeaderRecently() bool {
	return e.role == RoleFollower && e.leader != 0 && e.electionElapsed < e.cfg.ElectionTicks
}

func (e *Engine) handlePrepare(m Message) {
	e.prepareHandoff(m)
	switch {
	case m.Ballot < e.promised:
		e.send(Message{Type: MsgNack, To: m.From, Ballot: e.promised, Slot: m.Slot})
		return
	case m.Ballot == e.promised:
		if e.role != RoleFollower {
			return // our own ballot; cannot come from a peer
		}
		// A retransmitted prepare: promise again.
	default:
		// A hand-off Prepare names the ballot we promised, whose leader
		// dropped its lease before it sent MsgHandoff: neither stickiness
		// nor the lease window we keep for that leader holds it back.
		handedOff := e.handedOff(m)
		if m.From != e.leader && e.heardLeaderRecently() && !handedOff {
			return
		}
		if !handedOff && e.promiseBlocked(m.From) {
			return // a lease we acknowledged may still be held
		}
		if e.role == RoleLeader && e.leaderLive() {
			return
		}
		e.becomeFollower(m.Ballot, 0)
	}
	e.sendPromise(m.From, m.Slot)
}

// sendPromise queues, for after the next sync, a promise of ballot promised
// reporting every accepted entry at or above slot (and our snapshot if we
// compacted slots at or above it: those are chosen, and the candidate must
// learn them before it may fill anything there with a no-op).
func (e *Engine) sendPromise(to NodeID, slot Slot) {
	m := Message{Type: MsgPromise, To: to, Ballot: e.promised, Slot: slot, Commit: e.commit}
	if slot < e.log.start && e.log.start > 1 {
		snap, ok := e.latestSnapshot()
		if !ok {
			return // no promise; the candidate retries
		}
		m.Snapshot = &snap
	}
	m.Entries = e.log.copyRange(slot, e.log.last(), ^uint64(0))
	if bugPromiseBeforeSync {
		e.send(m)
		return
	}
	e.sendAfterSync(m)
}

// latestSnapshot returns the snapshot covering every slot below log.start.
func (e *Engine) latestSnapshot() (Snapshot, bool) {
	if e.installed != nil && e.installed.Slot+1 >= e.log.start {
		return *e.installed, true
	}
	snap, err := e.st.Snapshot()
	if err != nil || snap.Slot+1 < e.log.start {
		e.logger.Error("no snapshot covers the compacted log", "first_slot", e.log.start, "snapshot_slot", snap.Slot, "err", err)
		return Snapshot{}, false
	}
	return snap, true
}

// handleLeaderMsg handles what a leader sends: Accept (phase 2a), Commit
// (heartbeat, or a catch-up reply when it carries entries) and Snapshot.
// For all of them Slot is the leader's base: the first slot it proposed
// under its ballot.
func (e *Engine) handleLeaderMsg(m Message) {
	if m.Ballot < e.promised {
		e.send(Message{Type: MsgNack, To: m.From, Ballot: e.promised})
		return
	}
	if m.Ballot > e.promised || e.role != RoleFollower || e.leader != m.From {
		if e.role == RoleLeader {
			e.logger.Info("stepping down for a higher ballot", "ballot", e.ballot, "higher", m.Ballot)
		}
		e.becomeFollower(m.Ballot, m.From)
	}
	e.resetElectionTimer()
	e.heardRound(m.From)
	if e.ackBallot != m.Ballot {
		e.ackBallot = m.Ballot
		e.ackSlot = m.Slot - 1
		e.ackRound = 0
	}
	if m.Round > e.ackRound {
		e.ackRound = m.Round
	}
	e.ackTo = m.From
	// A push of chosen entries (thrifty.go) is answered by nothing: the
	// leader counts no vote for them, and learns how far we got from the
	// answers to its heartbeats.
	e.needAck = e.needAck || !m.Chosen

	switch m.Type {
	case MsgAccept:
		for _, en := range m.Entries {
			en.Ballot = m.Ballot
			if en.Slot < e.log.start || en.Type == 0 {
				continue
			}
			e.log.set(en)
			e.unstable = append(e.unstable, en)
			e.unstableVote = true
		}
	case MsgCommit:
		if len(m.Entries) > 0 {
			// A catch-up reply or a thrifty push: these entries are
			// chosen. A push continues where the previous one stopped,
			// or, the first after the leader went thrifty, after the
			// slots it sent us as Accepts: those we hold under its
			// ballot, and they are chosen up to the first one pushed.
			before := e.commit
			if m.Chosen && m.Ballot == e.promised {
				e.commitOwn(min(m.Entries[0].Slot-1, m.Commit), m.Ballot)
			}
			for _, en := range m.Entries {
				if en.Slot <= e.commit || en.Type == 0 {
					continue
				}
				if en.Slot != e.commit+1 || en.Slot > m.Commit {
					break
				}
				// Chosen: it may be written without a sync (Ready.MustSync),
				// and fetched again if a crash loses it.
				e.log.set(en)
				e.unstable = append(e.unstable, en)
				e.unstablePushed = e.unstablePushed || m.Chosen
				e.commit = en.Slot
			}
			// Only a reply that advanced us answers our request: a
			// duplicate or a stale one must not let learnCommit ask
			// again, or every duplicated reply would double the
			// requests in flight.
			if e.commit > before {
				e.catchupWait = 0
				e.applyConfThrough()
			}
		}
	case MsgSnapshot:
		if m.Snapshot != nil && m.Snapshot.Slot > e.commit {
			e.installSnapshot(*m.Snapshot)
			e.catchupWait = 0 // as for a catch-up reply: only when it advanced us
		}
	}
	e.advanceAck()
	e.learnCommit(m.Commit, m.Ballot)
}

// advanceAck moves the cumulative acknowledgement over every slot that now
// holds an entry of the leader's ballot. Slots at or below our commit index
// count too, whatever ballot we hold there (or none, once compacted): they
// are chosen, and Paxos makes the leader's value there the chosen one, so
// acknowledging them cannot let the leader commit a value that was not
// chosen. Without this, a follower holding an older-ballot entry in a slot
// the leader has already compacted could never acknowledge past it (the
// leader can no longer resend that slot, and a snapshot at or below our
// commit is of no use to us).
func (e *Engine) advanceAck() {
	if e.commit > e.ackSlot {
		e.ackSlot = e.commit
	}
	for {
		en := e.log.get(e.ackSlot + 1)
		if en == nil || en.Ballot != e.ackBallot {
			return
		}
		e.ackSlot++
	}
}

// learnCommit applies the leader's commit index c under ballot b. A slot s
// <= c is chosen here only if our entry for s has ballot b: the leader of b
// commits only values it proposed under b, and proposes one value per slot,
// so that entry is the chosen value. Anything else (a hole, an entry of an
// older ballot, a slot below the leader's base) is fetched with MsgCatchup.
func (e *Engine) learnCommit(c Slot, b Ballot) {
	if b != e.promised || e.role != RoleFollower {
		return
	}
	if c > e.leaderCommit {
		e.leaderCommit = c
	}
	e.commitOwn(e.leaderCommit, b)
	e.applyConfThrough()
	if e.commit < e.leaderCommit && e.catchupWait == 0 && e.leader != 0 {
		e.catchupWait = 2 * e.cfg.HeartbeatTicks
		e.send(Message{Type: MsgCatchup, To: e.leader, Ballot: e.promised, Slot: e.commit + 1})
	}
}

// commitOwn moves the commit index over the slots through c that hold an
// entry of ballot b, the ballot of the leader that said c is chosen
// (learnCommit).
func (e *Engine) commitOwn(c Slot, b Ballot) {
	for e.commit < c {
		en := e.log.get(e.commit + 1)
		if en == nil || (en.Ballot != b && !bugCommitAnyBallot) {
			break
		}
		e.commit++
	}
}

// installSnapshot jumps this node to snap (newer than its commit): the log
// below it is dropped, and the caller restores the state machine from it
// (Ready.Snapshot) before applying later Committed entries.
func (e *Engine) installSnapshot(snap Snapshot) {
	e.log.compact(snap.Slot)
	e.commit = max(e.commit, snap.Slot)
	e.applied = snap.Slot
	if e.confThrough < snap.Slot {
		e.confThrough = snap.Slot
		if !snap.Membership.IsZero() && !bugSnapshotDropsMembership {
			e.setConf(snap.Membership, snap.Slot)
		}
	}
	e.applyConfThrough()
	e.installed = &snap
	e.snapOut = &snap
	e.dropUnstableThrough(snap.Slot)
}

func (e *Engine) dropUnstableThrough(s Slot) {
	kept := e.unstable[:0]
	for _, en := range e.unstable {
		if en.Slot > s {
			kept = append(kept, en)
		}
	}
	e.unstable = kept
}
