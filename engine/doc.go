// Package engine is the Multi-Paxos protocol as a deterministic state machine.
//
// It does no I/O, starts no goroutines, reads no clock and no global random
// source: time is Tick, randomness comes from Config.Seed, durable state is
// read through Storage (only in New) and written back by the caller from
// Ready. One Engine is one node of one Paxos group (GroupID); a process may
// run many.
//
// # Protocol
//
// Ballots are round<<16|node, so a higher ballot always wins and no two
// nodes share one. A node whose election timeout (random in
// [ElectionTicks, 2*ElectionTicks)) passes without hearing a leader first
// asks every peer PrePrepare(b): would you promise b, a ballot above every
// one it has seen? A peer says yes (PrePromise) only if it would promise b
// and has not heard from a live leader within ElectionTicks (a leader that
// hears a majority says no too); a no carries its promise, so the asker
// learns how high it must bid. No one changes any state for this, not even
// the asker: only with yes from a majority, its own included, does it take
// a ballot above everything seen and run phase 1: Prepare(b, first
// unchosen slot) to every peer. (With Config.PrePrepare off it runs phase
// 1 at once; Campaign always does.) An acceptor with
// promised < b promises (after its new promise is durable) and reports
// every entry it accepted at or above that slot, plus its snapshot if it
// compacted slots there; otherwise it answers Nack(promised). With a
// majority of promises, its own durable promise included, the candidate
// leads: it re-proposes, under b, every slot from its first unchosen one
// through the highest reported, each with the value of the highest ballot
// reported for it, or a no-op.
//
// Phase 2 runs without phase 1 as long as the leader lasts: Propose assigns
// the next slot and the leader sends Accept(b, entries, commit index) at
// once, without waiting for earlier slots, up to MaxInflight uncommitted
// slots. An acceptor with promised <= b stores the entries and, once they
// are durable, answers one cumulative Accepted(b, S): every slot from the
// leader's first slot of b through S is durably accepted under b. The
// leader's commit index is the highest slot a majority acknowledged, its
// own durable copy counted only after Advance says so. Followers learn it
// from Accepts and heartbeats (MsgCommit), and treat a slot s <= commit as
// chosen only if their entry for s has the leader's ballot; other slots
// (holes, older ballots) they fetch with MsgCatchup, answered with chosen
// entries, or with a snapshot when the leader compacted them.
//
// Liveness: a follower that heard its leader within ElectionTicks ignores
// other nodes' prepares (stickiness), so a node rejoining with a high
// ballot does not depose a healthy leader; its Nacks instead make the
// leader, which still hears a majority, re-run phase 1 with a higher
// ballot. Pre-prepare keeps that from happening at all: a node cut off
// from a majority hears no yes, so it raises no ballot however long it is
// away, and back it simply follows the leader's next heartbeat. It costs
// an election one round trip. A leader that has not heard from a majority
// for ElectionTicks steps down, so clients on a minority side are
// redirected and nothing there commits.
//
// # Thrifty phase 2
//
// With Config.Thrifty, a leader of five voters or more sends its Accepts to
// a majority only: itself and the voters that acknowledged fastest while
// it sent to every peer. The other voters get each slot once it is chosen
// (MsgCommit with Chosen), write it without a sync and acknowledge nothing
// for it; a crash that loses it loses nothing any quorum counted, and the
// node fetches it again. A voter of the majority that leaves a slot
// uncommitted for ThriftyLateTicks swaps places with one of the others; a
// late write of the leader's own, a new ballot, a membership change and a
// hand-off make the leader send to every peer again. Details and the
// safety argument: thrifty.go.
//
// # Leadership hand-off
//
// TransferLeadership(to) on the leader hands its leadership to member to
// (a runtime uses it to give a group back to its preferred node). The
// leader stops proposing: Propose returns a *NotLeaderError naming the
// target, so the leader's last slot holds still. It keeps replicating as
// usual, and once the target acknowledged every slot through that last
// one it stops serving lease reads and sends MsgHandoff (again every
// heartbeat). The target, if it still follows that leader under that
// ballot, runs phase 1 at once, skipping the pre-prepare, with a ballot
// above every one it has seen; its Prepares carry Handoff, the ballot
// handed off, which makes followers that promised that ballot promise
// although they still hear its leader (stickiness), and makes the old
// leader promise and step down. Once it sent MsgHandoff, the old leader
// answers a higher ballot by following, not by re-running phase 1 over its
// target. If it still leads ElectionTicks after TransferLeadership, it
// gives up: it proposes again under its ballot if it never sent
// MsgHandoff, and otherwise first runs phase 1 under a new ballot, so that
// a late Prepare of its target no longer names the ballot its followers
// promised. Status.HandoffTo names the target meanwhile.
//
// Why it is safe: nothing in it is trusted. MsgHandoff only says "start
// phase 1 now", and the target wins, as any candidate, with a majority of
// durable promises, re-proposing the highest-ballot value each reported;
// so whatever the old leader got chosen stays chosen, whether or not the
// target really was up to date (that only makes its phase 1 short). The
// Handoff flag lifts stickiness and nothing else, and stickiness is a
// liveness rule: an acceptor still promises only a ballot above its
// promise. An old leader that proposed on after MsgHandoff would at worst
// see those proposals replaced by no-ops in the target's phase 1, to be
// retried by its clients (liveness again), which is why it stops first.
// Leases are the exception that needs care: followers promise a hand-off
// Prepare even within a lease they granted the old leader, so a leader
// that served lease reads once the target's phase 1 could begin might
// miss a write the target committed. Hence the lease is dropped before
// MsgHandoff goes out, and a leader that gave up a hand-off leases again
// only under a new ballot: a hand-off Prepare lifts stickiness only at an
// acceptor that promised exactly the ballot it names, and none does once
// the new ballot's phase 1 is through.
//
// # Membership
//
// The configuration (voters, whose majorities are every quorum, and
// learners, which get the log but never vote) is state chosen through
// the log: an EntryConfChange holds the whole new Membership. The design
// is single-server change, one at a time, with the fix that a new leader
// first commits an entry of its own ballot (Ongaro, "Consensus: Bridging
// Theory and Practice", Stanford PhD thesis, 2014, §4.1, and his
// correction of July 2015 on the raft-dev list, "bug in single-server
// membership changes"). Two configurations one node apart have
// intersecting majorities, so no joint quorums are needed as long as no
// two changes overlap; unlike Raft, a change here is in force once it is
// chosen, not once it is appended, which suits Paxos, where a follower
// holds values that may still be replaced.
//
// Which configuration decides what:
//
//   - A slot t is decided by Config(t), the membership of the last chosen
//     EntryConfChange below t (or of the snapshot, or of Config.Peers and
//     Learners): it is chosen once a majority of Config(t)'s voters
//     accepted it under one ballot.
//   - The pipeline. ProposeConfChange is refused while another change is
//     pending (ErrConfChangeInProgress) and before the leader committed an
//     entry of its ballot (ErrConfChangeTooEarly: its re-proposals, which
//     may hold a change of an earlier ballot, are then chosen, so its own
//     change is one node away from the configuration really in force).
//     The leader then stops proposing until every slot it proposed is
//     chosen, proposes the change in the next slot, and proposes again
//     once that slot is chosen. So a leader's uncommitted slots are the
//     change alone, or slots after it, never both: every slot it proposes
//     is decided by a configuration it knows to be in force. The cost is
//     one drained pipeline and one round trip per change. (The drain
//     implies the erratum's rule whenever the new leader re-proposed
//     anything; when it re-proposed nothing its commit index already
//     covers every chosen slot, as for the read floor. The rule is kept as
//     the erratum states it; the simulator does not catch its absence.) A new leader's
//     re-proposals may span changes of earlier ballots; its commit index
//     walks them, each segment by its own configuration (maybeCommit).
//   - Phase 1. Let C0 be the configuration in force at the candidate's
//     first unchosen slot (its commit index is chosen, so C0 is known),
//     and C1..Ck those that the values and snapshot its promises report
//     would bring into force above it, in slot order. It needs promises of
//     a majority of each of C0..C(k-1): a majority of Ci meets every
//     majority of Ci and of C(i+1), so it sees every value chosen above its
//     first unchosen slot even when it lags several changes behind. One
//     change behind, the common case, it needs C0's majority only. A
//     snapshot a promise carries may span several changes, so the
//     configuration it holds needs its own majority as well.
//   - Elections. Only voters of the configuration a node has in force
//     campaign, and pre-prepare counts voters' yeses; learners and removed
//     nodes never campaign but keep the acceptor's part (a Prepare gets a
//     promise, which counts only where the candidate's configurations
//     name them as voters). A node lagging behind the changes accepts
//     Prepares and leader messages from a node no configuration it knows
//     names (one such stranger at a time), since a later change may have
//     made that node a voter or its leader.
//   - Read-index rounds are confirmed by a majority of the configuration in
//     force and, while a change is being chosen, of the one it makes; no
//     read is answered before the read floor is committed, which also
//     covers changes a new leader re-proposed.
//   - Leases. A lease is backed by a majority of the voters in force, whose
//     promise windows keep any other candidate from a majority of that
//     configuration or of one a single change away. Two changes could
//     remove the backers (3 -> 5 voters by two adds, or 5 -> 3 by two
//     removals, leave majorities disjoint from the old ones), so each
//     change chosen at the leader ends its lease at once, and only rounds
//     it starts afterwards, counted in the new configuration, extend it.
//     No change is chosen behind its back: one of a lower ballot is a
//     re-proposal (below the read floor), and one of a higher ballot needs
//     promises from the lease's majority. (This is belt and braces: the
//     voters that chose the second change received the leader's messages
//     to do so, and each such message opens a promise window of its own
//     that outlasts the lease; the simulator does not catch a leader that
//     keeps its lease across changes, and this rule does not rely on
//     that.)
//
// Learners catch up as any follower (catch-up, snapshot); Promote is
// refused (ErrLearnerBehind) while the learner's acknowledgement is more
// than Config.PromoteLag slots behind the commit index, so promoting never
// stalls the group while a new voter copies the state. Removing the
// leader: the leader commits its removal under the old configuration (it
// is a voter for that slot), then steps down; a runtime that wants no
// election gap calls TransferLeadership first. A chosen change is sent to
// every member at once, the dropped ones included, so a removed node
// learns it (Status().Removed), and no longer campaigns. The runtime stops
// a removed node only once a majority of the new configuration hold the
// change's slot durably committed (their Status().Commit, after a synced
// Ready): a member that has not learnt it still needs a majority of the
// old configuration, the removed node included, to elect anyone. Ready.Membership reports each configuration as it comes into
// force (the runtime dials new members and records it with its
// snapshots: Snapshot.Membership), and New restores it from the stored
// snapshot's Membership and the log through the durable commit index.
//
// # The Ready contract
//
// The caller drives the engine from one goroutine: Tick on a timer, Step
// for each received message, Propose for each batch, and, whenever
// HasReady, rd := Ready() and then, for each rd, in this order:
//
//  1. Send rd.Messages. They may go out at once, before anything of rd is
//     durable: Prepares, the leader's Accepts and heartbeats (the leader
//     counts its own vote only after step 4), Nacks, catch-up replies, thrifty pushes and
//     snapshots (those carry chosen or durable state only), MsgHandoff
//     (its target trusts nothing in it), PrePrepares and PrePromises (they need no persistence at all: neither the asker
//     nor the answerer changes any state for them, durable or not, and a
//     yes lost in a crash only delays an election).
//  2. Apply rd.Committed to the state machine in slot order; they are
//     chosen, so this may also happen before step 3. If rd.Snapshot is
//     set, first restore the state machine from it: Committed then
//     continues at rd.Snapshot.Slot+1.
//     If rd.Membership is set, that configuration is in force once
//     rd.Committed is applied: record it with the snapshots taken from
//     then on and dial its members; a node it no longer names stops once
//     a majority of the new configuration committed it ("Membership").
//     Then take rd.Reads, in order: a Failed read is refused (its client
//     retries, or goes to the leader Status names); any other read Ctx
//     is served from the state machine once it has applied every slot
//     through its Index: at once if it already has, else held until a
//     later Ready's Committed reaches Index (a follower's read index may
//     be ahead of what it has learnt). Serving it earlier may miss a
//     completed write.
//  3. Persist, in one atomic write: rd.HardState if rd.SaveHardState,
//     rd.Snapshot (deleting every stored entry at or below its Slot), and
//     rd.Entries (each replacing a stored entry of the same Slot; a later
//     entry in the slice replaces an earlier one; entries at or below the
//     stored snapshot's Slot may be dropped). If rd.MustSync, wait until
//     it is durable; otherwise (only the commit index moved, and the
//     Entries, if any, are chosen: a catch-up reply, a thrifty leader's
//     push) it may be written without a sync of its own, still after
//     every earlier Ready's write: a later synced write makes it durable,
//     and a crash before that only loses commits and chosen entries the
//     node will learn and fetch again. An entry this node votes for (an
//     Accept's, or its own as leader) is in a synced Ready, always.
//  4. Send rd.AfterSync, and only now: Promises and Accepteds report
//     durable state; sent earlier, a crash could erase a promise or an
//     acceptance some proposer already counted, and two values could be
//     chosen for one slot.
//  5. Call Advance(rd). Readies must be Advanced once each, in the order
//     Ready returned them, and their writes must become durable in that
//     order too.
//
// Ready may be called again before the previous Ready was Advanced: a
// runtime can persist Ready n on a writer goroutine while the engine keeps
// stepping and produces Ready n+1 (group commit). The engine records each
// Ready it hands out and learns from Advance what became durable.
//
// After New, the first Ready carries Committed for every slot from the
// stored snapshot's Slot+1 through the durable commit index: the state
// machine lives in memory and is rebuilt from the snapshot plus the log.
//
// Compaction is the caller's: after it stored a snapshot of the state
// machine through slot s (s <= the last slot it applied) and truncated its
// log, it calls Compact(s); the engine forgets those entries and serves
// later catch-up below s with Storage.Snapshot.
//
// # Reads
//
// Read(ctx, mode) asks for a linearizable read that writes nothing: its
// answer, a ReadState in a later Ready's Reads, is an index I such that
// the state machine, once it has applied every slot through I, reflects
// every write that completed before Read was called. Every Read that
// returned nil gets exactly one answer. (A read through the log is the
// caller's: it proposes the read like a write.)
//
// ReadIndex. On the leader, I is its commit index when the read arrives,
// or its read floor if that is higher: the last slot it re-proposed when
// it won phase 1. Above its commit index only those slots can hold values
// chosen under earlier ballots (a majority's promises reported every slot
// accepted above its first unchosen one), so a new leader answers no read,
// by index or by lease, before it has committed its re-proposals, which
// are entries of its own ballot. It proposes no extra no-op for this: with
// nothing to re-propose, its commit index already covers everything
// chosen. Then it confirms that it still leads: every message a leader
// sends carries its latest read round; every heartbeat starts a round, and
// so does every Ready with reads waiting for one (carried by that Ready's
// Accepts if it has any, else by one heartbeat per peer), so all the reads
// queued between two Readies share one round. Followers echo the highest
// round they received in their Accepteds. A read waits for the first round
// started after it arrived; once a majority, the leader included,
// acknowledged that round under the leader's ballot, no majority had
// promised a higher ballot when the read arrived, so nothing committed
// before it is above I. No disk write, one round trip.
//
// ReadLease (lease.go). A follower that received a round of ballot b
// promises no ballot of another node for ElectionTicks of its own Ticks,
// and a restarted node none for ElectionTicks after New. So a majority's
// acknowledgement of a round the leader started at its tick t gives it a
// lease until t + floor(ElectionTicks*(1-MaxClockDrift)) -
// LeaseMarginTicks, during which no other leader can commit: a lease read
// is answered at once with I = the commit index. Outside the lease (or
// before the read floor is committed) it is a ReadIndex read.
//
// Follower reads. On a follower, Read forwards the read: MsgReadIndex asks
// the leader for a read index, which answers (MsgReadIndexResp) once it
// confirmed one as above (for a request whose reads all allow a lease,
// from its lease). One request is in flight at a time; reads queued
// meanwhile go in the next, because an answer to a request sent before
// they arrived could miss writes that completed before they did. The
// follower's caller then serves the read once it has applied through I.
//
// A read fails (ReadState.Failed) when the leader holding it steps down
// or re-runs phase 1, when a follower's leader changes, and when it is not
// confirmed within ElectionTicks: the caller retries, here or elsewhere.
//
// Time. Leases count Ticks, so with ReadLease the caller must Tick once per
// tick interval of a monotonic clock, catching up every interval it
// missed (a late timer, a process paused by SIGSTOP, a stopped VM) before
// it calls Step, Read or Ready again: a paused leader that resumed
// without counting the pause would believe in a lease that expired long
// ago. Ticks of different nodes may run at different rates only within
// MaxClockDrift. A runtime that cannot promise this uses ReadIndex, which
// depends on no clock.
//
// Leadership hand-off: followers honour a hand-off target's prepares
// inside the window they promised the old leader, so the old leader must
// call dropLease before it tells the target to campaign; Campaign, which
// also ignores the window, is for hand-off and tests only when leases are
// in use.
//
// # Ownership
//
// Data given to Propose and the Entries' and Snapshot's Data of a stepped
// Message are kept by the engine: the caller must not modify them after the
// call. Slices in a Ready are the caller's; the engine never modifies them
// afterwards, but Entries' Data may be shared between Entries, Messages and
// Committed of several Readies, so treat it as read-only.
package engine
