package engine

import (
	"cmp"
	"slices"
)

// Thrifty phase 2 (Config.Thrifty). A leader of at least thriftyMinVoters
// voters sends its Accepts to a majority only, itself and the
// quorum-1 voters that acknowledged fastest recently (the thrifty
// majority); the others ("lazy" voters) get each chosen slot pushed once
// it is committed (MsgCommit with Chosen and the entries), which they
// write without a sync of their own and answer with no Accepted. At five
// voters that takes two of five syncs and two of four acknowledgements off
// every batch.
//
// Why it is safe: it changes who is asked, not what counts. A slot is
// still chosen once a majority durably accepted it under the ballot, the
// leader's own durable copy included, and a lazy voter's copy is never a
// vote: it holds only chosen values (at or below the commit index the
// leader sent), so a crash that erases it erases nothing any quorum
// counted, and the node fetches it again (MsgCatchup, as any follower with
// a hole). What a lazy voter reports in a Promise is the chosen value
// under the ballot that chose it, which every higher ballot proposes too.
// Its Accepteds (answers to heartbeats, sent after whatever it wrote) may
// cover pushed slots, which are already committed at the leader, so the
// commit index cannot move on them. Readies that hold a vote (an Accept's
// entries, the leader's own) are synced whole, even if they hold pushed
// entries too (bugThriftyUnsyncedAccept is that mistake).
//
// Which voters: the leader starts every ballot sending to every peer, and
// each time its commit index moves, credits the voters whose
// acknowledgement had reached it (they were among the fastest). After
// thriftyProbe such moves it picks the quorum-1 voters with the highest
// credit (ties to the lower id) and keeps that choice, but for swaps, until
// it falls back.
// Learners always get Accepts (they never vote, and the leader needs their
// acknowledged slot to promote them).
//
// Lateness: when a slot stays uncommitted for ThriftyLateTicks Ticks, each
// thrifty voter that has not acknowledged it (slow, partitioned, down)
// swaps places with a lazy voter (one heard from within a heartbeat
// first, then the best credit, then the one lazy the longest), which gets
// Accepts for every uncommitted slot it did not acknowledge; the late
// one's credit is halved. The cost of a stall is then at most
// ThriftyLateTicks of commit latency, where sending to every peer would
// have hidden it: the tail latency is what thrifty trades for the syncs.
//
// Falling back: the leader sends to every peer again, from the first slot
// it did not push to each lazy voter, when its own write is the late one
// (three followers can then commit without it) or more voters are late
// than lazy ones wait, while a membership change is pending or being
// chosen (quorums are per configuration, and the change's slot needs the
// new configuration's votes too), while a hand-off runs (its target must
// acknowledge every slot, so it gets Accepts), and on every new ballot
// (becomeLeader starts with every peer). After a fall-back it probes
// again before it picks.

// thriftyMinVoters is the smallest configuration in which the leader goes
// thrifty: at three voters a majority is all but one peer and the saving
// one follower's sync. (Config.thriftyMinVoters overrides it in tests.)
const thriftyMinVoters = 5

// thriftyProbe is how many moves of the commit index, with every peer
// sent to, the leader watches before it picks its thrifty majority.
// (Config.thriftyProbe overrides it in tests.)
const thriftyProbe = 16

// thriftyState is the leader's thrifty phase 2 state for its ballot.
type thriftyState struct {
	on      bool    // Accepts go to the thrifty majority only
	probe   int     // commit moves watched since every peer was last sent to
	pushDue bool    // the commit index moved while on: push to lazy voters
	late    []Slot  // sentThrough at each of the last ThriftyLateTicks Ticks (ring)
	buf     []Entry // the entries of the latest push, from slot bufLo on,
	bufLo   Slot    // shared by the lazy voters that stand at the same slot
}

// thriftyReset starts a ballot's leadership sending to every peer.
func (e *Engine) thriftyReset() {
	late := e.thr.late
	clear(late)
	e.thr = thriftyState{late: late}
	for i := range e.peers {
		p := &e.peers[i]
		p.lazy, p.pushed, p.fast, p.lazyAt = false, 0, 0, 0
	}
}

// thriftyAllowed reports whether the leader may go (or stay) thrifty now.
func (e *Engine) thriftyAllowed() bool {
	return e.cfg.Thrifty && e.role == RoleLeader && e.selfVoter &&
		len(e.conf.Voters) >= cmp.Or(e.cfg.thriftyMinVoters, thriftyMinVoters) &&
		len(e.leaderConfs) == 0 && e.confPend == nil && e.xfer.to == 0
}

// thriftyCommitted is maybeCommit's hook: the commit index moved to c.
func (e *Engine) thriftyCommitted(c Slot) {
	if !e.cfg.Thrifty {
		return
	}
	if e.thr.on {
		e.thr.pushDue = true
		return
	}
	for i := range e.peers {
		p := &e.peers[i]
		p.fast -= p.fast >> 3
		if p.voter && p.match >= c {
			p.fast += 1 << 8 >> 3
		}
	}
	e.thr.probe++
	if e.thr.probe >= cmp.Or(e.cfg.thriftyProbe, thriftyProbe) && e.thriftyAllowed() {
		e.thriftyPick()
	}
}

// betterSwap reports whether lazy voter p should take a late voter's place
// before q: one heard from within a heartbeat first (it answers every
// heartbeat; one that did not is likely cut off too), then the better
// credit, then the one lazy the longest, so that equals take turns.
func (e *Engine) betterSwap(p, q *peer) bool {
	ph, qh := p.idle <= e.cfg.HeartbeatTicks, q.idle <= e.cfg.HeartbeatTicks
	switch {
	case ph != qh:
		return ph
	case p.fast != q.fast:
		return p.fast > q.fast
	}
	return p.lazyAt < q.lazyAt
}

// thriftyPick makes the quorum-1 fastest voters the thrifty majority and
// the other voters lazy.
func (e *Engine) thriftyPick() {
	ids := make([]int, 0, len(e.peers))
	for i := range e.peers {
		if e.peers[i].voter {
			ids = append(ids, i)
		}
	}
	keep := e.conf.Quorum() - 1
	if keep >= len(ids) {
		return
	}
	slices.SortStableFunc(ids, func(a, b int) int {
		pa, pb := &e.peers[a], &e.peers[b]
		switch {
		case pa.fast != pb.fast:
			if pa.fast > pb.fast {
				return -1
			}
			return 1
		case pa.id < pb.id:
			return -1
		case pa.id > pb.id:
			return 1
		}
		return 0
	})
	for k, i := range ids {
		p := &e.peers[i]
		p.lazy = k >= keep
		p.lazyAt = e.ticks
		// It has been sent every slot through sentThrough as Accepts;
		// pushes continue from there.
		p.pushed = e.sentThrough
	}
	e.thr.on = true
	e.thr.pushDue = true
	clear(e.thr.late)
	e.logger.Debug("thrifty majority picked", "ballot", e.ballot)
}

// thriftyFallBack sends to every peer again: each lazy voter gets Accepts
// for the slots it was not pushed.
func (e *Engine) thriftyFallBack() {
	if !e.thr.on || e.role != RoleLeader {
		// Only a leader sends Accepts (a candidate's would carry its
		// new ballot, never promised by a majority, and the old base);
		// becomeLeader starts afresh.
		e.thr.on = false
		return
	}
	e.thr.on = false
	e.thr.probe = 0
	e.thr.pushDue = false
	for i := range e.peers {
		p := &e.peers[i]
		if !p.lazy {
			continue
		}
		p.lazy = false
		p.progressed = true // give it a heartbeat before the stall timer resends
		e.sendUnpushed(p)
	}
	e.logger.Debug("thrifty: sending to every peer", "ballot", e.ballot, "commit", e.commit, "sent", e.sentThrough)
}

// sendUnpushed sends a lazy voter that turns thrifty (or an ordinary peer
// again) Accepts for every slot it has neither acknowledged nor been
// pushed: pushed may run past the commit index for slots it was sent as
// Accepts before it turned lazy, which it may never have received (a
// late voter is swapped out for being slow), so only slots at or below
// the commit index count as pushed.
func (e *Engine) sendUnpushed(p *peer) {
	if from := max(p.match, min(p.pushed, e.commit)) + 1; from <= e.sentThrough {
		e.sendAccepts(p.id, from, e.sentThrough)
	}
}

// thriftyTick acts when a slot sent ThriftyLateTicks Ticks ago is still
// not committed: it swaps each thrifty voter that has not acknowledged it
// for a lazy one, or falls back when our own write is the late one.
func (e *Engine) thriftyTick() {
	if !e.cfg.Thrifty {
		return
	}
	n := e.cfg.ThriftyLateTicks
	if len(e.thr.late) != n {
		e.thr.late = make([]Slot, n)
	}
	i := e.ticks % n
	if late := e.thr.late[i]; e.thr.on && e.commit < late {
		if e.selfMatch < late || !e.thriftySwap(late) {
			e.thriftyFallBack()
		}
		// The voters swapped in get ThriftyLateTicks of their own.
		clear(e.thr.late)
	}
	e.thr.late[i] = e.sentThrough
}

// thriftySwap replaces every thrifty voter that has not acknowledged slot
// late by the lazy voter with the best credit, which gets Accepts for every
// slot it was not pushed; the one replaced turns lazy, its credit halved
// so that a voter late again and again sinks below the others. It reports
// false when there are more late voters than lazy ones to take their
// place.
func (e *Engine) thriftySwap(late Slot) bool {
	var slow []int
	lazy := 0
	for i := range e.peers {
		p := &e.peers[i]
		if p.voter && !p.lazy && p.match < late {
			slow = append(slow, i)
		}
		if p.lazy {
			lazy++
		}
	}
	if len(slow) > lazy {
		return false
	}
	for _, si := range slow {
		best := -1
		for i := range e.peers {
			if p := &e.peers[i]; p.lazy && (best < 0 || e.betterSwap(p, &e.peers[best])) {
				best = i
			}
		}
		if best < 0 {
			return false
		}
		in, out := &e.peers[best], &e.peers[si]
		in.lazy = false
		in.progressed = true // a heartbeat before the stall timer resends
		e.sendUnpushed(in)
		out.lazy = true
		out.lazyAt = e.ticks
		out.fast >>= 1
		// It was sent every slot through sentThrough as Accepts.
		out.pushed = e.sentThrough
	}
	e.logger.Debug("thrifty: late voters swapped", "ballot", e.ballot, "late", late, "swapped", len(slow))
	return true
}

// thriftyReady runs before a leader's Ready is cut: it falls back if
// thrifty is no longer allowed, and pushes newly chosen slots to the lazy
// voters.
func (e *Engine) thriftyReady() {
	if !e.thr.on {
		return
	}
	if !e.thriftyAllowed() {
		e.thriftyFallBack()
		return
	}
	if !e.thr.pushDue {
		return
	}
	e.thr.pushDue = false
	e.thr.buf, e.thr.bufLo = nil, 0
	for i := range e.peers {
		p := &e.peers[i]
		if p.lazy {
			e.push(p)
		}
	}
	e.thr.buf = nil
}

// push sends p the chosen slots after p.pushed, in messages of at most
// MaxMsgBytes; lazy voters usually stand at the same slot, so they share
// one copy of the entries.
func (e *Engine) push(p *peer) {
	through := e.commit
	if bugThriftyPushesSent {
		through = e.sentThrough
	}
	for p.pushed < through {
		lo := p.pushed + 1
		if lo < e.log.start {
			// Compacted: the peer will ask (MsgCatchup) and get the
			// snapshot; push what follows it.
			lo = e.log.start
		}
		ents := e.thr.buf
		if e.thr.bufLo != lo || len(ents) == 0 {
			ents = e.log.copyRange(lo, through, e.cfg.MaxMsgBytes)
			e.thr.buf, e.thr.bufLo = ents, lo
		}
		if len(ents) == 0 {
			return
		}
		last := ents[len(ents)-1].Slot
		e.send(Message{Type: MsgCommit, To: p.id, Ballot: e.ballot, Slot: e.base, Commit: last, Round: e.round, Entries: ents, Chosen: true})
		p.pushed = last
	}
}

// commitFor is the commit index the leader tells p: a lazy voter learns
// commits only as far as they were pushed, so a heartbeat that overtakes
// a push does not make it ask for slots already on their way.
func (e *Engine) commitFor(p *peer) Slot {
	if p.lazy && p.pushed < e.commit {
		return p.pushed
	}
	return e.commit
}
