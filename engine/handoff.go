package engine

import (
	"errors"
	"fmt"
)

// Leadership hand-off: a leader gives its leadership to a chosen member
// (the runtime returns a group to its preferred node after a failover).
//
//  1. TransferLeadership(to) on the leader: from now on Propose refuses
//     (a *NotLeaderError naming the target), so the leader's last slot is
//     fixed, and the leader keeps replicating as usual.
//  2. Once the target's cumulative acknowledgement under the leader's
//     ballot reaches that last slot, the leader stops serving lease reads
//     (dropLease) and sends MsgHandoff, again every heartbeat until the
//     hand-off ends.
//  3. The target, if it still follows that leader under that ballot, runs
//     a full phase 1 at once with a ballot above every one it has seen.
//     Its Prepares carry Handoff, the ballot handed off, which makes
//     followers that promised that ballot and still hear its leader
//     promise anyway (they would ignore an ordinary Prepare:
//     stickiness), and makes that leader promise and step down.
//  4. If the old leader still leads ElectionTicks after step 1, it gives up.
//     If it never sent MsgHandoff (the target did not catch up), no
//     hand-off Prepare can exist and it proposes again under its ballot.
//     Otherwise it runs phase 1 again, under a new ballot: a late Prepare
//     of the target names the old ballot, which then no longer lifts
//     anyone's stickiness, so no lease the leader takes afterwards can be
//     overridden by it.
//
// Safety does not rest on the hand-off: MsgHandoff only says "start phase
// 1 now"; the target trusts nothing in it, and wins, as any candidate,
// only with a majority of durable promises whose reported values it
// re-proposes. Handoff only lifts stickiness, which is a liveness rule;
// an acceptor still promises only a ballot above its promise. Being up to
// date makes the target's phase 1 short (it holds every slot the old
// leader proposed), it is not what makes it correct. Leases are where
// stickiness does matter for safety, hence dropLease before MsgHandoff,
// and a new ballot after a hand-off that may have started a campaign.

// The hand-off's refusals (TransferLeadership); a node that is not the
// leader gets a *NotLeaderError, as from Propose.
var (
	// ErrTransferToSelf: the target is the leader itself.
	ErrTransferToSelf = errors.New("engine: hand-off target is this node")
	// ErrUnknownNode: the target is not a member of the group.
	ErrUnknownNode = errors.New("engine: hand-off target is not a member of the group")
	// ErrTransferInProgress: an earlier hand-off still runs; it ends
	// within ElectionTicks (Status().HandoffTo is 0 again).
	ErrTransferInProgress = errors.New("engine: a leadership hand-off is already in progress")
)

// handoff is a leader's hand-off in progress; the zero value is none.
type handoff struct {
	to      NodeID // the target
	elapsed int    // ticks since TransferLeadership
	sent    bool   // MsgHandoff went out: the target may be campaigning
}

// TransferLeadership starts handing this leader's leadership off to member
// to (see handoff.go). It returns a *NotLeaderError on a node that is not
// the leader, ErrTransferToSelf when to is this node, ErrUnknownNode when
// to is not a member, and ErrTransferInProgress while another hand-off
// runs. A nil error means the hand-off started, not that it will succeed:
// Status().HandoffTo is the target until it ends, by this node no longer
// leading (the target, or someone else, took over) or by its giving up
// after ElectionTicks.
func (e *Engine) TransferLeadership(to NodeID) error {
	switch {
	case e.role != RoleLeader:
		return &NotLeaderError{Leader: e.leader}
	case to == e.id:
		return fmt.Errorf("%w: node %d", ErrTransferToSelf, to)
	case !e.conf.IsVoter(to):
		return fmt.Errorf("%w: node %d is no voter of %v", ErrUnknownNode, to, e.conf)
	case e.xfer.to != 0:
		return fmt.Errorf("%w: to node %d", ErrTransferInProgress, e.xfer.to)
	}
	e.xfer = handoff{to: to}
	e.logger.Info("handing leadership off", "ballot", e.ballot, "to", to, "slot", e.log.last())
	e.maybeSendHandoff()
	return nil
}

// maybeSendHandoff tells the target to campaign once it acknowledged every
// slot we proposed. Called when the hand-off starts and whenever the
// target's acknowledgement advances.
func (e *Engine) maybeSendHandoff() {
	if e.xfer.to == 0 || e.xfer.sent {
		return
	}
	p := e.peer(e.xfer.to)
	if p == nil {
		// A membership change removed the target: nothing was sent.
		e.xfer = handoff{}
		return
	}
	if p.match < e.log.last() {
		return
	}
	e.xfer.sent = true
	e.sendHandoff()
}

func (e *Engine) sendHandoff() {
	// The target's phase 1 may end our leadership without our hearing of
	// it: lease reads must stop before it can start.
	e.dropLease()
	e.send(Message{Type: MsgHandoff, To: e.xfer.to, Ballot: e.ballot, Slot: e.base, Commit: e.commit})
}

// tickHandoff runs on every leader tick: it gives up a hand-off that took
// ElectionTicks, and otherwise repeats a MsgHandoff every heartbeat (it may
// have been lost; a target that already campaigns ignores it). It reports
// whether this node stopped leading (it runs phase 1 again).
func (e *Engine) tickHandoff() bool {
	if e.xfer.to == 0 {
		return false
	}
	e.xfer.elapsed++
	if e.xfer.elapsed < e.cfg.ElectionTicks {
		if e.xfer.sent && e.xfer.elapsed%e.cfg.HeartbeatTicks == 0 {
			e.sendHandoff()
		}
		return false
	}
	if !e.xfer.sent {
		e.logger.Info("hand-off timed out before the target caught up; proposing again", "ballot", e.ballot, "to", e.xfer.to)
		e.xfer = handoff{}
		return false
	}
	e.logger.Info("hand-off timed out; re-running phase 1 to void the target's", "ballot", e.ballot, "to", e.xfer.to)
	e.campaign()
	return true
}

// handleHandoff runs phase 1 at once if the message comes from the leader
// we follow under the ballot we promised; a stale or replayed one (of an
// older ballot, or arriving once we campaign) is ignored.
func (e *Engine) handleHandoff(m Message) {
	if e.role != RoleFollower || m.Ballot != e.promised || m.From != e.leader {
		return
	}
	if bugHandoffSkipsPhase1 {
		e.leadWithoutPhase1()
		return
	}
	e.logger.Info("leadership handed to us; starting phase 1", "from", m.From, "ballot", m.Ballot)
	e.handoffFrom = m.Ballot
	e.campaign()
	e.handoffFrom = 0
}

// handedOff reports whether m is a Prepare of a hand-off of the ballot we
// promised: an acceptor promises it although it still hears that ballot's
// leader.
func (e *Engine) handedOff(m Message) bool {
	return m.Handoff != 0 && m.Handoff == e.promised
}

// prepareHandoff runs before handlePrepare's own checks. A leader that
// told m's sender to campaign, and gets its hand-off Prepare, steps down
// for it although it still hears a majority; handlePrepare then promises
// it as a follower's repeated Prepare.
func (e *Engine) prepareHandoff(m Message) {
	if bugHandoffPromisesLower && m.Handoff != 0 && m.Ballot < e.promised {
		e.promised = m.Ballot
		e.becomeFollower(m.Ballot, 0)
		return
	}
	if e.role == RoleLeader && e.xfer.sent && m.From == e.xfer.to && m.Handoff == e.ballot && m.Ballot > e.promised {
		e.logger.Info("stepping down for the hand-off's target", "ballot", e.ballot, "to", m.From, "higher", m.Ballot)
		e.becomeFollower(m.Ballot, 0)
	}
}

// leadWithoutPhase1 is bugHandoffSkipsPhase1: the target trusts the
// hand-off message and leads under a new ballot of its own at once, as if
// a majority had promised it, re-proposing its own log.
func (e *Engine) leadWithoutPhase1() {
	e.ballot = nextBallot(max(e.maxSeen, e.promised), e.id)
	e.maxSeen, e.promised = e.ballot, e.ballot
	e.role = RoleCandidate
	e.proposals = make(map[Slot]Entry)
	for s := max(e.commit+1, e.log.start); s <= e.log.last(); s++ {
		if en := e.log.get(s); en != nil {
			e.proposals[s] = *en
		}
	}
	e.becomeLeader()
}
