package engine

// Planted protocol bugs, off in every build. Tests in this package switch
// one on to prove the simulator's checks can fail (simbugs_test.go). They
// are unexported vars so nothing outside the package can touch them.
var (
	// bugIgnorePromisedValues: a new leader re-proposes its own log (or
	// no-ops), not the highest-ballot values the promises reported.
	bugIgnorePromisedValues bool
	// bugForgetPromise: an acceptor restarts with Promised = 0.
	bugForgetPromise bool
	// bugCountSelfEarly: the leader counts its own vote for a slot when it
	// hands the entry out in Ready, before the entry is durable.
	bugCountSelfEarly bool
	// bugCommitAnyBallot: a follower applies the leader's commit index to
	// whatever entry it holds, of any ballot.
	bugCommitAnyBallot bool
	// bugPromiseBeforeSync: Promises go out in Ready.Messages, before the
	// promise and the reported entries are durable.
	bugPromiseBeforeSync bool
	// bugAckBeforeSync: Accepteds go out in Ready.Messages, before the
	// acknowledged entries are durable.
	bugAckBeforeSync bool
	// bugEarlyRoundAckClaimsSlot: the early acknowledgement of a read
	// round (ackRoundNow) carries the Accepted's slot and commit, so the
	// leader counts entries the follower has not synced yet.
	bugEarlyRoundAckClaimsSlot bool
	// bugThriftyUnsyncedAccept: a Ready that holds chosen entries pushed
	// by a thrifty leader is written without a sync even when it holds an
	// Accept's entries too, so the Accepted that follows acknowledges
	// votes that a crash can still erase.
	bugThriftyUnsyncedAccept bool
	// bugThriftyPushesSent: a thrifty leader pushes every slot it sent,
	// up to sentThrough, not only the chosen ones, as chosen.
	bugThriftyPushesSent bool
	// bugPrePromiseIgnoresLeader: an acceptor says yes to a pre-prepare
	// even though it heard from a live leader within the election timeout.
	bugPrePromiseIgnoresLeader bool
	// bugPrePrepareRaisesBallot: a node raises its promise to the ballot
	// it asks about before a majority said yes.
	bugPrePrepareRaisesBallot bool
	// bugHandoffSkipsPhase1: a hand-off's target trusts MsgHandoff and
	// leads under a new ballot at once, without phase 1.
	bugHandoffSkipsPhase1 bool
	// bugHandoffPromisesLower: an acceptor promises a Handoff Prepare even
	// when its ballot is below the one it promised, lowering its promise.
	bugHandoffPromisesLower bool
	// bugLeaseNoDriftMargin: a lease lasts ElectionTicks - margin
	// leader ticks, as if every clock ran at the same rate.
	bugLeaseNoDriftMargin bool
	// bugReadBeforeOwnCommit: a new leader answers reads before it has
	// committed what it re-proposed at election, at its commit index.
	bugReadBeforeOwnCommit bool
	// bugLeaseIgnoresPromise: an acceptor keeps no lease window of its
	// own: it promises whenever liveness stickiness lets it (at once
	// after a restart).
	bugLeaseIgnoresPromise bool
	// bugReadBeforeApply is the caller's bug, planted in the simulator's
	// runtime: a read is answered from the state machine as it is, before
	// it has applied through the read's Index.
	bugReadBeforeApply bool
	// bugTwoConfChanges: a leader proposes a membership change while
	// another is in flight, without draining its pipeline, and counts
	// every in-flight slot by the latest configuration it proposed, as
	// if each change took effect when appended (single-server changes
	// without the one-at-a-time rule).
	bugTwoConfChanges bool
	// bugConfChangeKeepsOldVoters: once a change is chosen the leader
	// keeps counting the acknowledgements of the old configuration's
	// voters (a removed node's included) against the new majority.
	bugConfChangeKeepsOldVoters bool
	// bugLearnerVotes: learners' acknowledgements and promises count
	// toward quorums as if they were voters.
	bugLearnerVotes bool
	// bugPhase1OwnConfOnly: a candidate needs a majority of the
	// configuration in force at its first unchosen slot only, not of
	// those the promised values bring into force after it.
	bugPhase1OwnConfOnly bool
	// bugSnapshotDropsMembership: a node installing a snapshot keeps
	// its own configuration instead of the snapshot's.
	bugSnapshotDropsMembership bool
)
