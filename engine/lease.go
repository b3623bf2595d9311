package engine

// Leader leases. A follower that acknowledges a round of ballot b promises
// (promiseBlocked) not to promise any other node's ballot until
// ElectionTicks of its own Ticks have passed since it received that
// round's message. So once a majority, the leader included, acknowledged
// a round the leader started at its tick t, no other ballot can gather a
// majority of promises, hence no other leader can commit anything, while
// the followers' windows last. Measured on the leader's clock, those
// windows last at least
//
//	leaseTicks = floor(ElectionTicks * (1 - MaxClockDrift)) - LeaseMarginTicks
//
// ticks from t: a follower's ElectionTicks take at least ElectionTicks*(1 -
// MaxClockDrift) of the leader's ticks when no clock runs more than
// 1/(1-MaxClockDrift) times as fast as another, and LeaseMarginTicks
// (at least 1) covers the discreteness of ticks: a round goes out between
// two leader ticks, a follower receives it just before its next Tick. The
// leader holds the lease while its tick count is below t + leaseTicks.
//
// The lease also needs the read floor (read.go): until the leader has
// committed what it re-proposed at election, its commit index may miss
// chosen values, lease or not.
//
// Three things break the followers' promise, and each is closed here:
//   - its own election timeout: at least ElectionTicks after the last
//     leader message (resetElectionTimer), so it never starts earlier;
//   - a restart, which forgets whom it acknowledged: New blocks every
//     promise for ElectionTicks when the node has promised any ballot
//     before (a node that never promised never acknowledged a leader);
//   - the liveness stickiness (heardLeaderRecently), which lapses when the
//     node stops being a follower or forgets its leader: promiseBlocked
//     is its own clock, reset only by a leader message.
//
// Campaign ignores the window (an explicit hand-off wants a new leader at
// once): the leader handing off must call dropLease before it tells the
// target to campaign, and nothing else may call Campaign while leases are
// used.

// leaseTicks is how long, in this node's ticks, a majority's
// acknowledgement of a round keeps its leader's lease.
func (e *Engine) leaseTicks() int {
	if bugLeaseNoDriftMargin {
		return e.cfg.ElectionTicks - e.cfg.LeaseMarginTicks
	}
	return int(float64(e.cfg.ElectionTicks)*(1-e.cfg.MaxClockDrift)) - e.cfg.LeaseMarginTicks
}

// extendLease moves the lease's end to what round cr, confirmed by a
// majority, gives. The send ticks of the latest len(roundTick) rounds are
// kept; an older confirmed round cannot extend a lease that a newer one
// already did.
func (e *Engine) extendLease(cr uint64) {
	if cr <= e.leaseRound || cr <= e.leaseMinRound || e.leaseDropped || e.round-cr >= uint64(len(e.roundTick)) {
		return
	}
	e.leaseRound = cr
	e.leaseUntil = e.roundTick[cr%uint64(len(e.roundTick))] + e.leaseTicks()
}

// leaseValid reports whether this leader may answer a read at once.
func (e *Engine) leaseValid() bool {
	return e.readsReady() && !e.leaseDropped && e.leaseRound > 0 && e.ticks < e.leaseUntil
}

// dropLease gives up the lease for the rest of this ballot: lease reads
// fall back to read index. A leader handing leadership off must call it
// before it tells the target to campaign at once, because that target's
// prepares are honoured by followers still inside the window they promised
// to this leader.
func (e *Engine) dropLease() {
	e.leaseDropped = true
	e.leaseUntil = 0
}

// resetLease clears the lease state for a new ballot.
func (e *Engine) resetLease() {
	e.leaseRound = 0
	e.leaseUntil = 0
	e.leaseDropped = false
	e.leaseMinRound = 0
}

// promiseBlocked is the followers' side of the lease: within ElectionTicks
// of its own ticks since it last received a message of a leader (or since
// a restart), a node promises no ballot of another node. The leader it
// acknowledged may still prepare a higher ballot: doing so, it stops
// leading the ballot whose lease it held.
func (e *Engine) promiseBlocked(from NodeID) bool {
	if bugLeaseIgnoresPromise {
		return false
	}
	return e.ticks < e.noPromiseUntil && (e.leaseHolder == 0 || from != e.leaseHolder)
}

// heardRound records, on receipt of a message of the leader of ballot b,
// the start of the window promiseBlocked keeps.
func (e *Engine) heardRound(from NodeID) {
	e.leaseHolder = from
	e.noPromiseUntil = e.ticks + e.cfg.ElectionTicks
}
