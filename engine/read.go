package engine

import "fmt"

// Linearizable reads without a log entry: read index, leases (lease.go)
// and follower reads. See doc.go's "Reads" for the protocol and the
// caller's part.

// ReadMode says how Read confirms that a read sees every write that
// completed before it. A read through the log is not the engine's: the
// caller proposes it like a write.
type ReadMode uint8

const (
	// ReadIndex confirms leadership with one round of heartbeats that a
	// majority acknowledges, after the read arrived: no disk write, one
	// round trip (shared by every read queued meanwhile).
	ReadIndex ReadMode = 1 + iota
	// ReadLease answers at once while the leader holds a lease (lease.go),
	// which trusts that Tick rates differ by at most
	// Config.MaxClockDrift; outside the lease it falls back to ReadIndex.
	ReadLease
)

func (m ReadMode) String() string {
	switch m {
	case ReadIndex:
		return "index"
	case ReadLease:
		return "lease"
	}
	return fmt.Sprintf("readmode(%d)", uint8(m))
}

// ReadState is the engine's answer to one Read.
type ReadState struct {
	// Ctx is the caller's id of the read, as given to Read.
	Ctx uint64
	// Index is the read index: once the state machine has applied every
	// slot through Index, a read of it is linearizable.
	Index Slot
	// Failed: the read was not confirmed (leadership lost, the leader
	// changed, or no confirmation within ElectionTicks). Index is 0; the
	// caller retries, here or at the leader Status names.
	Failed bool
}

// pendingRead is one read a leader holds until a majority has
// acknowledged a round sent after it arrived.
type pendingRead struct {
	ctx   uint64
	index Slot   // max(commit, readFloor) when it arrived
	round uint64 // the first round started after it arrived
	at    int    // tick it arrived, for the timeout
}

// remoteRead is the latest read-index request of one follower (at most
// one per peer is held: a newer one replaces it, so a flood of requests
// costs no memory).
type remoteRead struct {
	id    uint64 // the follower's request id; 0 when none is held
	index Slot
	round uint64
	at    int
}

// Read asks for a read index for the caller's read ctx (an opaque id,
// echoed in ReadState.Ctx). The answer comes in a later Ready's Reads,
// failed or not; every accepted Read gets exactly one answer. On the
// leader the read is queued (or, with ReadLease inside the lease,
// answered at once); on a follower it is forwarded to the leader (one
// request in flight at a time serves every read queued meanwhile). It
// returns a *NotLeaderError when this node knows no leader (a candidate,
// or a follower that has heard no leader yet), and ErrInvalidReadMode for
// a mode other than ReadIndex and ReadLease. It allocates nothing in
// steady state.
func (e *Engine) Read(ctx uint64, mode ReadMode) error {
	if mode != ReadIndex && mode != ReadLease {
		return fmt.Errorf("%w: %d", ErrInvalidReadMode, mode)
	}
	switch {
	case e.role == RoleLeader:
		if mode == ReadLease && e.leaseValid() {
			e.readStates = append(e.readStates, ReadState{Ctx: ctx, Index: e.commit})
			return nil
		}
		e.reads = append(e.reads, pendingRead{ctx: ctx, index: e.readIndexNow(), round: e.nextRound(), at: e.ticks})
		e.maybeReleaseReads()
		return nil
	case e.role == RoleFollower && e.leader != 0:
		e.forwardRead(ctx, mode)
		return nil
	}
	return &NotLeaderError{Leader: e.leader}
}

// readIndexNow is the read index of a read arriving now: every write that
// completed before it is at or below it. Above our commit index only the
// slots we re-proposed at election can hold values chosen before we led
// (the promises of a majority reported every accepted slot above our
// first unchosen one), so readFloor, the last of them, covers them.
func (e *Engine) readIndexNow() Slot {
	if bugReadBeforeOwnCommit {
		return e.commit
	}
	return max(e.commit, e.readFloor)
}

// nextRound is the round a read arriving now waits for: the next one to
// start. Messages of that round are sent after the read arrived, so a
// majority's acknowledgement of it shows that no higher ballot was
// promised by a majority before the read arrived.
func (e *Engine) nextRound() uint64 {
	e.wantRound = e.round + 1
	return e.wantRound
}

// startRound begins a new heartbeat round: every leader message from now
// on carries it, and followers echo the highest round they heard in their
// Accepteds.
func (e *Engine) startRound() {
	e.round++
	e.roundTick[e.round%uint64(len(e.roundTick))] = e.ticks
	if e.conf.Quorum() == 1 {
		e.maybeReleaseReads() // a group of one confirms on its own
	}
}

// maybeStartReadRound is Ready's part: reads that wait for a round not yet
// started get one now, carried by this Ready's Accepts when there are
// any, else by a heartbeat. One round serves every read queued since the
// previous one.
func (e *Engine) maybeStartReadRound() {
	if e.role != RoleLeader || e.wantRound <= e.round {
		return
	}
	e.startRound()
	if e.sentThrough >= e.log.last() {
		e.bcastHeartbeat()
	}
}

// confirmedRound is the highest round that a majority, this leader
// included (it is at its own latest round), acknowledged under its
// ballot: a majority of the configuration in force and, while a
// membership change is being chosen, of the one it makes too (doc.go,
// "Membership").
func (e *Engine) confirmedRound() uint64 {
	e.roundBuf = e.roundBuf[:0]
	if e.selfVoter {
		e.roundBuf = append(e.roundBuf, Slot(e.round))
	}
	for _, p := range e.peers {
		if p.voter {
			e.roundBuf = append(e.roundBuf, Slot(p.ackRound))
		}
	}
	q := e.conf.Quorum()
	if len(e.roundBuf) < q {
		return 0
	}
	cr := uint64(quorumSlot(e.roundBuf, q))
	for _, c := range e.leaderConfs {
		e.roundBuf = e.roundBuf[:0]
		for _, id := range c.m.Voters {
			if id == e.id {
				e.roundBuf = append(e.roundBuf, Slot(e.round))
			} else if p := e.peer(id); p != nil {
				e.roundBuf = append(e.roundBuf, Slot(p.ackRound))
			}
		}
		if len(e.roundBuf) < c.m.Quorum() {
			return 0
		}
		cr = min(cr, uint64(quorumSlot(e.roundBuf, c.m.Quorum())))
	}
	return cr
}

// readsReady reports whether this leader may answer reads at all: it has
// committed every slot it re-proposed at election, so its commit index
// covers every value chosen before it led.
func (e *Engine) readsReady() bool {
	return e.role == RoleLeader && (e.commit >= e.readFloor || bugReadBeforeOwnCommit)
}

// maybeReleaseReads answers every held read whose round a majority has
// acknowledged, and extends the lease. It runs whenever a round, an
// acknowledgement or the commit index moves.
func (e *Engine) maybeReleaseReads() {
	if e.role != RoleLeader {
		return
	}
	cr := e.confirmedRound()
	e.extendLease(cr)
	if !e.readsReady() {
		return
	}
	n := 0
	for n < len(e.reads) && e.reads[n].round <= cr {
		r := &e.reads[n]
		e.readStates = append(e.readStates, ReadState{Ctx: r.ctx, Index: r.index})
		n++
	}
	e.dropReads(n)
	for i := range e.peers {
		p := &e.peers[i]
		if p.read.id != 0 && p.read.round <= cr {
			e.send(Message{Type: MsgReadIndexResp, To: p.id, Ballot: e.ballot, Round: p.read.id, Commit: p.read.index})
			p.read = remoteRead{}
		}
	}
}

// dropReads removes the first n held reads, keeping the array.
func (e *Engine) dropReads(n int) {
	if n == 0 {
		return
	}
	k := copy(e.reads, e.reads[n:])
	e.reads = e.reads[:k]
}

// expireReads fails the held reads that waited ElectionTicks: a majority
// that has not answered in that long may never answer (a lost round is
// not resent; the caller's retry starts a new one).
func (e *Engine) expireReads() {
	n := 0
	for n < len(e.reads) && e.ticks-e.reads[n].at >= e.cfg.ElectionTicks {
		e.readStates = append(e.readStates, ReadState{Ctx: e.reads[n].ctx, Failed: true})
		n++
	}
	e.dropReads(n)
	for i := range e.peers {
		p := &e.peers[i]
		if p.read.id != 0 && e.ticks-p.read.at >= e.cfg.ElectionTicks {
			e.send(Message{Type: MsgReadIndexResp, To: p.id, Ballot: e.ballot, Round: p.read.id, Reject: true})
			p.read = remoteRead{}
		}
	}
}

// failLeaderReads fails every read a leader holds: it stops leading, so it
// can confirm none of them. Followers whose requests it held are told, so
// they retry at once instead of at their timeout.
func (e *Engine) failLeaderReads() {
	for _, r := range e.reads {
		e.readStates = append(e.readStates, ReadState{Ctx: r.ctx, Failed: true})
	}
	e.reads = e.reads[:0]
	for i := range e.peers {
		p := &e.peers[i]
		if p.read.id != 0 {
			e.send(Message{Type: MsgReadIndexResp, To: p.id, Ballot: e.ballot, Round: p.read.id, Reject: true})
			p.read = remoteRead{}
		}
	}
	e.wantRound = 0
}

// ackRoundNow acknowledges the read round an Accepted m reports at once,
// in a message of its own, when m itself must wait for this Ready's sync:
// otherwise every read whose round rides on Accepts would wait for a
// follower's disk. The early message is an Accepted of Slot 0, which
// claims no slot (so it is safe before the sync; a leader's match never
// moves down, and Commit 0 says nothing). Its round is as true as on m:
// the follower received it under m.Ballot without having promised
// higher. Each round is acknowledged early at most once.
func (e *Engine) ackRoundNow(m Message) {
	if !e.unstableVote && e.snapOut == nil {
		return // nothing to sync: m goes out as soon as the Ready is handled
	}
	if m.Round == 0 || (e.earlyBallot == m.Ballot && m.Round <= e.earlyRound) {
		return
	}
	e.earlyBallot, e.earlyRound = m.Ballot, m.Round
	early := Message{Type: MsgAccepted, To: m.To, Ballot: m.Ballot, Round: m.Round}
	if bugEarlyRoundAckClaimsSlot {
		early.Slot, early.Commit = m.Slot, m.Commit
	}
	e.send(early)
}

// handleReadIndex is the leader's side of a follower read: m.Round is the
// follower's request id; the answer carries the read index in Commit, or
// Reject when this node cannot confirm one.
func (e *Engine) handleReadIndex(p *peer, m Message) {
	if m.Ballot > e.promised && e.role != RoleFollower {
		e.stepDownFor(m.Ballot)
	}
	if e.role != RoleLeader {
		e.send(Message{Type: MsgReadIndexResp, To: m.From, Ballot: e.promised, Round: m.Round, Reject: true})
		return
	}
	if p.read.id == m.Round {
		return // a duplicate of the request we hold
	}
	if m.Lease && e.leaseValid() {
		e.send(Message{Type: MsgReadIndexResp, To: m.From, Ballot: e.ballot, Round: m.Round, Commit: e.commit})
		return
	}
	p.read = remoteRead{id: m.Round, index: e.readIndexNow(), round: e.nextRound(), at: e.ticks}
	e.maybeReleaseReads()
}

// forwardRead queues a follower's read for the next request to the
// leader. Reads queued while a request is in flight go in the one after:
// the answer to a request sent before they arrived may miss writes that
// completed before they did.
func (e *Engine) forwardRead(ctx uint64, mode ReadMode) {
	e.fwdQueued = append(e.fwdQueued, ctx)
	if mode == ReadIndex {
		e.fwdQueuedIndex = true
	}
}

// maybeSendReadRequest is Ready's part on a follower: with no request in
// flight, the queued reads go to the leader in one. It asks for a lease
// answer only if every read in it allows one.
func (e *Engine) maybeSendReadRequest() {
	if e.fwdID != 0 || len(e.fwdQueued) == 0 {
		return
	}
	if e.role != RoleFollower || e.leader == 0 {
		e.failForwardedReads()
		return
	}
	e.fwdNext++
	if e.fwdNext == 0 {
		e.fwdNext++
	}
	e.fwdID, e.fwdTo, e.fwdAt = e.fwdNext, e.leader, e.ticks
	e.fwdSent, e.fwdQueued = e.fwdQueued, e.fwdSent[:0]
	lease := !e.fwdQueuedIndex
	e.fwdQueuedIndex = false
	e.send(Message{Type: MsgReadIndex, To: e.fwdTo, Ballot: e.promised, Round: e.fwdID, Lease: lease})
}

// handleReadIndexResp answers the reads of our request in flight.
func (e *Engine) handleReadIndexResp(m Message) {
	if e.fwdID == 0 || m.Round != e.fwdID || m.From != e.fwdTo {
		return // stale, duplicated, or for a request we gave up on
	}
	for _, ctx := range e.fwdSent {
		if m.Reject {
			e.readStates = append(e.readStates, ReadState{Ctx: ctx, Failed: true})
		} else {
			e.readStates = append(e.readStates, ReadState{Ctx: ctx, Index: m.Commit})
		}
	}
	e.fwdSent = e.fwdSent[:0]
	e.fwdID = 0
}

// expireForwardedReads fails a request that got no answer within
// ElectionTicks (lost, or the leader is gone); reads queued behind it go
// out in the next request.
func (e *Engine) expireForwardedReads() {
	if e.fwdID == 0 || e.ticks-e.fwdAt < e.cfg.ElectionTicks {
		return
	}
	for _, ctx := range e.fwdSent {
		e.readStates = append(e.readStates, ReadState{Ctx: ctx, Failed: true})
	}
	e.fwdSent = e.fwdSent[:0]
	e.fwdID = 0
}

// failForwardedReads fails every read a follower forwarded or queued: the
// leader they were for is no longer ours.
func (e *Engine) failForwardedReads() {
	for _, ctx := range e.fwdSent {
		e.readStates = append(e.readStates, ReadState{Ctx: ctx, Failed: true})
	}
	for _, ctx := range e.fwdQueued {
		e.readStates = append(e.readStates, ReadState{Ctx: ctx, Failed: true})
	}
	e.fwdSent, e.fwdQueued = e.fwdSent[:0], e.fwdQueued[:0]
	e.fwdQueuedIndex = false
	e.fwdID = 0
}
