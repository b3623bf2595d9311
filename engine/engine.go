package engine

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
)

// Role is what a node currently does in its group.
type Role uint8

// The roles. Every node is always an acceptor and a learner; Role says
// whether it also proposes.
const (
	RoleFollower Role = iota
	RoleCandidate
	RoleLeader
)

func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// peer is what this node tracks about one other member.
type peer struct {
	id NodeID
	// Leader state, valid for the current ballot only.
	match Slot // highest cumulative slot the peer acknowledged under ballot
	// acked is the highest slot the peer itself reported under ballot (0
	// before its first Accepted). match starts at the leader's guess (the
	// slot before its ballot's base, which every voter that promised
	// holds), which is no promise about a learner added since: a
	// promotion goes by acked.
	acked      Slot
	idle       int  // ticks since the peer last sent us anything
	progressed bool // match advanced since the last heartbeat
	stalled    int  // heartbeats in a row without progress
	// dupAcks counts Accepteds in a row that did not advance match while
	// later slots were outstanding: the peer holds a hole (a lost Accept).
	dupAcks int
	// fastResent is match+1 when we last resent from there on dupAcks, so
	// one hole is resent once; a lost resend falls back to the stall timer.
	fastResent Slot
	// Candidate state.
	promised bool
	// Pre-prepare state: this peer said yes to preBallot.
	prePromised bool
	// voter: it votes in the configuration in force (membership.go);
	// stranger: no configuration we know names it, it leads us or asked
	// for our promise (addStranger).
	voter, stranger bool
	// Leader read state (read.go): the highest round the peer
	// acknowledged under ballot, and its latest read-index request.
	ackRound uint64
	read     remoteRead
	// Thrifty phase 2 (thrifty.go), leader state for the current ballot:
	// lazy, the peer is a voter outside the thrifty majority and gets no
	// Accepts; pushed, the highest chosen slot sent to it (or, from the
	// pick or a swap on, sent to it as Accepts); fast, how often it was among the
	// acknowledgements that moved the commit index (an EWMA, 1<<8 each);
	// lazyAt, the tick it last turned lazy.
	lazy   bool
	pushed Slot
	fast   uint32
	lazyAt int
}

// pendingReady is the engine's record of one Ready handed out and not yet
// Advanced: what becomes durable when it is.
type pendingReady struct {
	promised Ballot // Promised as of that Ready
	leader   Ballot // ballot we led when it was made (0 if not leading)
	selfAck  Slot   // with leader: every slot from base through selfAck is in it or earlier
}

// Engine is one node of one Multi-Paxos group, as a deterministic state
// machine. It is not safe for concurrent use: one goroutine drives it.
// See doc.go for the protocol and the Ready contract.
type Engine struct {
	cfg    Config
	id     NodeID
	peers  []peer // every member except this node (rebuildPeers)
	st     Storage
	rng    *rand.Rand
	logger *slog.Logger

	role     Role
	promised Ballot // highest ballot promised or accepted under (in memory)
	ballot   Ballot // own ballot as candidate or leader
	leader   NodeID // leader of ballot promised, once heard from; 0 unknown
	maxSeen  Ballot // highest ballot seen in any message
	commit   Slot
	applied  Slot // highest slot handed out in Committed (or snapshot)
	log      memLog

	electionElapsed    int
	randomizedElection int
	heartbeatElapsed   int
	// ticks counts every Tick since New: the clock of leases and read
	// timeouts.
	ticks int

	// Follower: the cumulative acknowledgement of the leader's ballot.
	ackBallot    Ballot
	ackSlot      Slot // every slot from the leader's base through ackSlot holds an ackBallot entry
	ackTo        NodeID
	needAck      bool
	leaderCommit Slot   // highest commit index heard under promised
	catchupWait  int    // ticks before another MsgCatchup may go out
	ackRound     uint64 // highest read round received under ackBallot
	// earlyRound is the latest read round acknowledged ahead of a sync
	// (ackRoundNow), under earlyBallot.
	earlyBallot Ballot
	earlyRound  uint64

	// Lease promise (lease.go): no promise to another node than
	// leaseHolder before tick noPromiseUntil.
	leaseHolder    NodeID
	noPromiseUntil int

	// Follower reads (read.go): the request in flight (fwdID, 0 when
	// none) and the reads it serves, and the reads queued for the next.
	fwdID          uint64
	fwdNext        uint64
	fwdTo          NodeID
	fwdAt          int
	fwdSent        []uint64
	fwdQueued      []uint64
	fwdQueuedIndex bool // some queued read needs ReadIndex

	// Pre-prepare (preprepare.go): the ballot we asked a majority to
	// promise, 0 when not asking, and how many said yes (us included).
	preBallot Ballot
	preVotes  int

	// Candidate.
	prepareSlot Slot
	votes       int
	selfVoted   bool
	proposals   map[Slot]Entry // highest-ballot entry per slot from promises
	bestSnap    *Snapshot      // newest snapshot a promise carried

	// Leader.
	base        Slot // first slot proposed under ballot
	sentThrough Slot // highest slot broadcast in an Accept
	selfMatch   Slot // highest slot of ours durable under ballot
	matchBuf    []Slot

	// Leader: a hand-off in progress (handoff.go). handoffFrom is, while
	// a campaign a MsgHandoff started sends its Prepares, the ballot
	// handed off.
	xfer        handoff
	handoffFrom Ballot
	// Leader reads (read.go, lease.go). round is the latest read round
	// started under ballot, roundTick the tick each of the latest rounds
	// started at; reads wait in order of arrival for a majority's
	// acknowledgement of round wantRound or later. readFloor is the last
	// slot re-proposed at election: no read is answered before it is
	// committed.
	round        uint64
	wantRound    uint64
	roundTick    [64]int
	roundBuf     []Slot
	reads        []pendingRead
	readFloor    Slot
	leaseRound   uint64 // highest round that extended the lease
	leaseUntil   int    // the lease holds while ticks < leaseUntil
	leaseDropped bool

	// Leader: thrifty phase 2 (thrifty.go).
	thr thriftyState

	// Latest snapshot installed from a leader and maybe not yet durable.
	installed *Snapshot

	// Output not yet handed out in a Ready. unstableVote: some entry in
	// unstable is a vote (ours as leader, or an Accept's), not only a
	// chosen entry, so the Ready must sync.
	hsEmitted    HardState
	unstable     []Entry
	unstableVote bool
	// unstablePushed: some entry in unstable came in a push of chosen
	// entries (only bugThriftyUnsyncedAccept reads it).
	unstablePushed bool
	snapOut        *Snapshot
	msgs           []Message
	afterSync      []Message
	readStates     []ReadState
	pending        []pendingReady

	durablePromised Ballot

	// Membership (membership.go). conf is the configuration in force
	// after every chosen slot through confThrough (the commit index),
	// chosen at confSlot (0: Config's). A leader's leaderConfs are the
	// changes in its log above its commit index, in slot order, and
	// confPend a requested change waiting for the pipeline to drain.
	conf          Membership
	confSlot      Slot
	confThrough   Slot
	confChanged   bool // not yet handed out in Ready.Membership
	confPend      *Membership
	leaderConfs   []confAt
	selfVoter     bool
	removed       bool
	leaseMinRound uint64 // rounds at or below it extend no lease: started before the latest change
}

// New returns the engine of node cfg.ID, restarted from what st holds
// durably. The first Ready carries Committed for every slot from the
// snapshot's Slot+1 through the durable commit index.
func New(cfg Config, st Storage) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:    cfg,
		id:     cfg.ID,
		st:     st,
		rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.ID))),
		logger: cfg.Logger,
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	e.logger = e.logger.With("node", cfg.ID, "group", cfg.Group)
	e.fwdNext = e.rng.Uint64()

	hs, err := st.InitialState()
	if err != nil {
		return nil, fmt.Errorf("%w: initial state: %w", ErrStorage, err)
	}
	snap, err := st.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot: %w", ErrStorage, err)
	}
	first, err := st.FirstSlot()
	if err != nil {
		return nil, fmt.Errorf("%w: first slot: %w", ErrStorage, err)
	}
	last, err := st.LastSlot()
	if err != nil {
		return nil, fmt.Errorf("%w: last slot: %w", ErrStorage, err)
	}
	if first != snap.Slot+1 {
		return nil, fmt.Errorf("%w: first slot %d does not follow snapshot slot %d", ErrStorage, first, snap.Slot)
	}
	e.log.start = first
	for lo := first; lo <= last; {
		ents, err := st.Entries(lo, last+1, cfg.MaxMsgBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: entries [%d, %d]: %w", ErrStorage, lo, last, err)
		}
		if len(ents) == 0 {
			break
		}
		for _, en := range ents {
			if en.Slot < lo || en.Slot > last || en.Type == 0 {
				return nil, fmt.Errorf("%w: entries [%d, %d] returned slot %d type %d", ErrStorage, lo, last, en.Slot, en.Type)
			}
			e.log.set(en)
		}
		lo = ents[len(ents)-1].Slot + 1
	}
	e.promised = hs.Promised
	if bugForgetPromise {
		e.promised = 0
	}
	e.maxSeen = e.promised
	e.durablePromised = e.promised
	e.commit = max(hs.Commit, snap.Slot)
	for s := snap.Slot + 1; s <= e.commit; s++ {
		if e.log.get(s) == nil {
			return nil, fmt.Errorf("%w: slot %d is at or below the durable commit %d but not stored", ErrStorage, s, e.commit)
		}
	}
	e.applied = snap.Slot
	e.conf = cfg.initialMembership()
	if !snap.Membership.IsZero() {
		e.conf, e.confSlot = snap.Membership, snap.Slot
	}
	e.confThrough = snap.Slot
	e.applyConfThrough()
	e.rebuildPeers()
	e.removed = !e.conf.Contains(e.id)
	// The configuration restored is Status's; Ready.Membership reports
	// only changes from now on.
	e.confChanged = false
	e.hsEmitted = HardState{Promised: e.promised, Commit: e.commit}
	e.becomeFollower(e.promised, 0)
	if e.promised != 0 {
		// It may have acknowledged a leader's round just before it
		// stopped, and forgot whom: keep that lease's promise.
		e.noPromiseUntil = cfg.ElectionTicks
	}
	return e, nil
}

// Tick advances the engine's clock by one tick.
//
// Leases count Ticks: with ReadLease, the caller must Tick once per tick
// interval of a monotonic clock, catching up every interval it missed
// (a timer that fired late, a process paused by SIGSTOP or a stopped VM)
// before it calls Step, Read or Ready again; see doc.go.
func (e *Engine) Tick() {
	e.ticks++
	switch e.role {
	case RoleLeader:
		e.tickLeader()
	default:
		e.expireForwardedReads()
		if e.catchupWait > 0 {
			e.catchupWait--
		}
		e.electionElapsed++
		if !e.selfVoter {
			// Learners and removed nodes never campaign; the count
			// still lapses their stickiness, so they promise to a
			// candidate once their leader is gone.
			return
		}
		if e.electionElapsed >= e.randomizedElection || (len(e.conf.Voters) == 1 && e.role == RoleFollower) {
			e.startElection()
		}
	}
}

// Campaign starts phase 1 now with a ballot higher than any seen, without
// a pre-prepare (an explicit hand-off or a test knows a leader is wanted).
func (e *Engine) Campaign() { e.campaign() }

// Propose appends data (a batch of commands, opaque to the engine) to the
// log at the next free slot. The engine retains data: the caller must not
// modify it afterwards. It returns a *NotLeaderError (errors.Is
// ErrNotLeader) on a node that is not an active leader, and ErrPipelineFull
// when MaxInflight slots are uncommitted or a membership change holds
// proposals back (ProposeConfChange). While a hand-off runs
// (TransferLeadership) it returns a *NotLeaderError naming the target,
// which leads next unless the hand-off fails; a failed one ends within
// ElectionTicks, after which this node proposes again (once more leader,
// after a phase 1 of its own if the target may have started one).
func (e *Engine) Propose(data []byte) error {
	if e.role != RoleLeader {
		return &NotLeaderError{Leader: e.leader}
	}
	if e.xfer.to != 0 {
		return &NotLeaderError{Leader: e.xfer.to}
	}
	last := e.log.last()
	if int(last-e.commit) >= e.cfg.MaxInflight || e.confBlocksProposals() {
		return ErrPipelineFull
	}
	en := Entry{Slot: last + 1, Ballot: e.ballot, Type: EntryBatch, Data: data}
	e.log.set(en)
	e.unstable = append(e.unstable, en)
	e.unstableVote = true
	return nil
}

// CanPropose reports whether Propose would accept a batch now.
func (e *Engine) CanPropose() bool {
	return e.role == RoleLeader && e.xfer.to == 0 && int(e.log.last()-e.commit) < e.cfg.MaxInflight && !e.confBlocksProposals()
}

// Step feeds the engine one message from a peer. The engine keeps
// m.Entries' Data (and m.Snapshot's) beyond the call: the caller must not
// reuse those bytes. It returns ErrBadMessage (wrapped) for a message of
// another group, from a non-member or addressed to another node.
func (e *Engine) Step(m Message) error {
	if m.Group != e.cfg.Group {
		return fmt.Errorf("%w: group %d, this engine runs group %d", ErrBadMessage, m.Group, e.cfg.Group)
	}
	if m.To != 0 && m.To != e.id {
		return fmt.Errorf("%w: addressed to node %d, this is node %d", ErrBadMessage, m.To, e.id)
	}
	p := e.peer(m.From)
	if p == nil {
		switch m.Type {
		case MsgPrepare, MsgPrePrepare, MsgAccept, MsgCommit, MsgSnapshot:
			if m.From != 0 && m.From != e.id {
				// A leader or candidate of a configuration this
				// node has not learnt yet.
				p = e.addStranger(m.From)
			}
		}
	}
	if p == nil {
		return fmt.Errorf("%w: sender %d is not a peer of node %d", ErrBadMessage, m.From, e.id)
	}
	p.idle = 0
	// A pre-prepare and its answer change no state (preprepare.go): the
	// ballot they name is only asked about. A refusal's ballot is learnt
	// in handlePrePromise.
	if m.Ballot > e.maxSeen && m.Type != MsgPrePrepare && m.Type != MsgPrePromise {
		e.maxSeen = m.Ballot
	}
	switch m.Type {
	case MsgPrepare:
		e.handlePrepare(m)
	case MsgPromise:
		e.handlePromise(p, m)
	case MsgNack:
		e.handleNack(m)
	case MsgAccept, MsgCommit, MsgSnapshot:
		e.handleLeaderMsg(m)
	case MsgAccepted:
		e.handleAccepted(p, m)
	case MsgCatchup:
		e.handleCatchup(m)
	case MsgPrePrepare:
		e.handlePrePrepare(m)
	case MsgPrePromise:
		e.handlePrePromise(p, m)
	case MsgHandoff:
		e.handleHandoff(m)
	case MsgReadIndex:
		e.handleReadIndex(p, m)
	case MsgReadIndexResp:
		e.handleReadIndexResp(m)
	default:
		return fmt.Errorf("%w: unknown message type %d", ErrBadMessage, m.Type)
	}
	return nil
}

func (e *Engine) peer(id NodeID) *peer {
	for i := range e.peers {
		if e.peers[i].id == id {
			return &e.peers[i]
		}
	}
	return nil
}

func (e *Engine) send(m Message) {
	m.Group = e.cfg.Group
	m.From = e.id
	if e.msgs == nil {
		// Ready hands the slice over; size the next one for a broadcast.
		e.msgs = make([]Message, 0, 2*len(e.peers)+1)
	}
	e.msgs = append(e.msgs, m)
}

func (e *Engine) sendAfterSync(m Message) {
	m.Group = e.cfg.Group
	m.From = e.id
	e.afterSync = append(e.afterSync, m)
}

func (e *Engine) resetElectionTimer() {
	e.electionElapsed = 0
	e.randomizedElection = e.cfg.ElectionTicks + e.rng.IntN(e.cfg.ElectionTicks)
}

// becomeFollower makes this node a follower under ballot b (raised into
// promised if higher) of leader (0 if not known yet).
func (e *Engine) becomeFollower(b Ballot, leader NodeID) {
	if e.role != RoleFollower || e.leader != leader {
		e.logger.Debug("becoming follower", "ballot", b, "leader", leader)
	}
	if b > e.promised {
		e.promised = b
	}
	if e.role == RoleLeader {
		e.failLeaderReads()
	}
	if e.leader != leader || e.role != RoleFollower {
		e.failForwardedReads()
	}
	e.role = RoleFollower
	e.leader = leader
	e.ballot = 0
	e.xfer = handoff{}
	e.preBallot = 0
	e.proposals = nil
	e.bestSnap = nil
	e.catchupWait = 0
	e.confPend = nil
	e.leaderConfs = nil
	e.resetElectionTimer()
}

// startElection is what an election timeout does: ask first (pre-prepare)
// when Config.PrePrepare is on and there is anyone to ask, else run phase 1.
func (e *Engine) startElection() {
	if e.cfg.PrePrepare && len(e.peers) > 0 {
		e.prePrepare()
		return
	}
	e.campaign()
}

// campaign starts phase 1: a ballot higher than any seen, promised to
// ourselves, and a Prepare to every peer. Our own promise counts once it is
// durable (Advance).
func (e *Engine) campaign() {
	if !e.selfVoter {
		return // learners and removed nodes never campaign
	}
	if e.role == RoleLeader {
		e.failLeaderReads()
	}
	e.failForwardedReads()
	e.ballot = nextBallot(max(e.maxSeen, e.promised), e.id)
	e.maxSeen = e.ballot
	e.promised = e.ballot
	e.role = RoleCandidate
	e.leader = 0
	e.preBallot = 0
	e.xfer = handoff{}
	e.prepareSlot = e.commit + 1
	e.votes = 0
	e.selfVoted = false
	e.proposals = make(map[Slot]Entry)
	e.bestSnap = nil
	for i := range e.peers {
		e.peers[i].promised = false
	}
	e.resetElectionTimer()
	e.logger.Info("starting phase 1", "ballot", e.ballot, "slot", e.prepareSlot)
	for _, p := range e.peers {
		e.send(Message{Type: MsgPrepare, To: p.id, Ballot: e.ballot, Slot: e.prepareSlot, Handoff: e.handoffFrom})
	}
	if e.durablePromised == e.ballot {
		e.selfPromise()
	}
}

// Status is a snapshot of the engine's state for metrics and tests.
type Status struct {
	ID       NodeID
	Role     Role
	Ballot   Ballot // own ballot when candidate or leader, else the promised one
	Promised Ballot
	Leader   NodeID // known leader, 0 if none
	Commit   Slot
	Applied  Slot // highest slot handed out in Ready.Committed
	LastSlot Slot // highest slot in the in-memory log
	// Match is, on a leader, each peer's acknowledged slot under the
	// current ballot (this node's own durable slot included); nil otherwise.
	Match []PeerMatch
	// HandoffTo is, on a leader, the target of a hand-off in progress
	// (TransferLeadership); 0 when none.
	HandoffTo NodeID
	// Membership is the configuration in force (after slot Commit), and
	// MembershipSlot the slot that chose it (0: Config's). Its slices are
	// shared: read-only.
	Membership     Membership
	MembershipSlot Slot
	// PendingConf is, on a leader, the configuration a membership change
	// in progress leads to; zero when none.
	PendingConf Membership
	// Removed: this node is no member of the configuration in force. It
	// no longer campaigns; the runtime should stop it.
	Removed bool
}

// PeerMatch is one member's acknowledged slot, as the leader sees it.
type PeerMatch struct {
	ID    NodeID
	Match Slot
}

// Status returns the engine's current state.
func (e *Engine) Status() Status {
	var s Status
	e.StatusInto(&s)
	return s
}

// StatusInto is Status written into s, reusing s.Match's array: a caller
// that asks every loop pass allocates nothing.
func (e *Engine) StatusInto(s *Status) {
	*s = Status{
		ID: e.id, Role: e.role, Ballot: e.promised, Promised: e.promised,
		Leader: e.leader, Commit: e.commit, Applied: e.applied, LastSlot: e.log.last(),
		Match: s.Match[:0], HandoffTo: e.xfer.to,
		Membership: e.conf, MembershipSlot: e.confSlot, Removed: e.removed,
	}
	if e.role == RoleLeader {
		s.PendingConf = e.pendingConf()
	}
	if e.role != RoleFollower {
		s.Ballot = e.ballot
	}
	if e.role == RoleLeader {
		s.Match = append(s.Match, PeerMatch{ID: e.id, Match: e.selfMatch})
		for _, p := range e.peers {
			s.Match = append(s.Match, PeerMatch{ID: p.id, Match: p.match})
		}
	} else {
		s.Match = nil
	}
}
