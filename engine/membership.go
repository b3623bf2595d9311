package engine

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Membership change: the configuration is state chosen through the log
// (doc.go, "Membership"). An EntryConfChange's Data is the whole new
// Membership, not a delta, so applying one is a replacement: a node that
// replays the log from any starting configuration ends in the same one.

// Membership is a group's configuration: the voters, whose majorities are
// every quorum, and the learners, which receive the log but never vote.
// Both lists are sorted and disjoint. The slices of a Membership handed out
// by the engine (Status, Ready) are shared: treat them as read-only.
type Membership struct {
	Voters   []NodeID
	Learners []NodeID
	// Addrs maps members to an address the runtime gave with a change
	// (ConfChange.Addrs), opaque to the engine: the runtime learns from
	// it where to reach members it was not started with. Members without
	// one are absent; nil when none has one. Chosen and snapshotted with
	// the lists, so every member reads the same.
	Addrs map[NodeID]string
}

// IsVoter reports whether id votes in m.
func (m Membership) IsVoter(id NodeID) bool {
	_, ok := slices.BinarySearch(m.Voters, id)
	return ok
}

// IsLearner reports whether id is a learner of m.
func (m Membership) IsLearner(id NodeID) bool {
	_, ok := slices.BinarySearch(m.Learners, id)
	return ok
}

// Contains reports whether id is a voter or a learner of m.
func (m Membership) Contains(id NodeID) bool { return m.IsVoter(id) || m.IsLearner(id) }

// IsZero reports whether m names no one: a Snapshot without a
// configuration (one written by a store that does not keep it).
func (m Membership) IsZero() bool { return len(m.Voters) == 0 && len(m.Learners) == 0 }

// Quorum is the number of voters that make a majority of m.
func (m Membership) Quorum() int { return quorumSize(len(m.Voters)) }

// Equal reports whether m and o name the same voters, learners and
// addresses.
func (m Membership) Equal(o Membership) bool {
	return slices.Equal(m.Voters, o.Voters) && slices.Equal(m.Learners, o.Learners) && maps.Equal(m.Addrs, o.Addrs)
}

func (m Membership) String() string {
	return fmt.Sprintf("voters %v learners %v", m.Voters, m.Learners)
}

// newMembership builds a sorted Membership from unsorted lists.
func newMembership(voters, learners []NodeID) Membership {
	m := Membership{Voters: slices.Clone(voters), Learners: slices.Clone(learners)}
	slices.Sort(m.Voters)
	slices.Sort(m.Learners)
	if len(m.Learners) == 0 {
		m.Learners = nil
	}
	return m
}

// maxMembers bounds a Membership's encoding (one byte per count).
const maxMembers = 255

// maxAddr bounds the length of one member's address (one byte of length),
// and maxMembershipBytes a whole encoding (it travels with a snapshot
// behind a 16-bit length, codec.go).
const (
	maxAddr            = 255
	maxMembershipBytes = 1<<16 - 1
)

// marshal encodes m as an EntryConfChange's Data:
//
//	+----------+------------+---------------------+-----------------------+
//	| nvoters  | nlearners  | voters (u16 each)   | learners (u16 each)   |
//	| u8       | u8         |                     |                       |
//	+----------+------------+---------------------+-----------------------+
//	only when some member has an address (Addrs), in ascending id order:
//	+----------+------------------------------------------+
//	| naddrs   | naddrs times: id u16 | len u8 | address  |
//	| u8       |                                          |
//	+----------+------------------------------------------+
//
// Without addresses the encoding is the one of stores and logs written
// before addresses existed, which ParseMembership still reads.
func (m Membership) marshal() []byte { return m.appendTo(make([]byte, 0, m.encodedSize())) }

// encodedSize is len(m.marshal()).
func (m Membership) encodedSize() int {
	n := 2 + 2*(len(m.Voters)+len(m.Learners))
	if len(m.Addrs) > 0 {
		n++
		for _, a := range m.Addrs {
			n += 3 + len(a)
		}
	}
	return n
}

// appendTo appends m.marshal() to b.
func (m Membership) appendTo(b []byte) []byte {
	b = append(b, byte(len(m.Voters)), byte(len(m.Learners)))
	for _, id := range m.Voters {
		b = append(b, byte(id), byte(id>>8))
	}
	for _, id := range m.Learners {
		b = append(b, byte(id), byte(id>>8))
	}
	if len(m.Addrs) > 0 {
		b = append(b, byte(len(m.Addrs)))
		for _, id := range slices.Sorted(maps.Keys(m.Addrs)) {
			a := m.Addrs[id]
			b = append(b, byte(id), byte(id>>8), byte(len(a)))
			b = append(b, a...)
		}
	}
	return b
}

// MarshalBinary encodes m as ParseMembership decodes it (the Data of an
// EntryConfChange): for a store that keeps Snapshot.Membership.
func (m Membership) MarshalBinary() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptMembership, err)
	}
	return m.marshal(), nil
}

// ErrCorruptMembership is returned by ParseMembership for bytes that are
// not an encoded Membership.
var ErrCorruptMembership = errors.New("engine: corrupt membership")

// ParseMembership decodes the Data of an EntryConfChange (and the
// configuration a snapshot carries on the wire). Lists must be sorted,
// disjoint and free of node 0.
func ParseMembership(b []byte) (Membership, error) {
	if len(b) < 2 {
		return Membership{}, fmt.Errorf("%w: %d bytes", ErrCorruptMembership, len(b))
	}
	nv, nl := int(b[0]), int(b[1])
	lists := 2 + 2*(nv+nl)
	if len(b) < lists {
		return Membership{}, fmt.Errorf("%w: %d voters and %d learners in %d bytes", ErrCorruptMembership, nv, nl, len(b))
	}
	ids := make([]NodeID, nv+nl)
	for i := range ids {
		ids[i] = NodeID(b[2+2*i]) | NodeID(b[3+2*i])<<8
	}
	m := Membership{Voters: ids[:nv:nv]}
	if nl > 0 {
		m.Learners = ids[nv:]
	}
	if rest := b[lists:]; len(rest) > 0 {
		na := int(rest[0])
		rest = rest[1:]
		if na == 0 {
			return Membership{}, fmt.Errorf("%w: an address list of none", ErrCorruptMembership)
		}
		m.Addrs = make(map[NodeID]string, na)
		var prev NodeID
		for i := range na {
			if len(rest) < 3 || len(rest) < 3+int(rest[2]) {
				return Membership{}, fmt.Errorf("%w: address %d of %d truncated", ErrCorruptMembership, i+1, na)
			}
			id, alen := NodeID(rest[0])|NodeID(rest[1])<<8, int(rest[2])
			if id <= prev || alen == 0 {
				return Membership{}, fmt.Errorf("%w: address %d of %d: node %d after %d, %d bytes", ErrCorruptMembership, i+1, na, id, prev, alen)
			}
			m.Addrs[id] = string(rest[3 : 3+alen])
			prev, rest = id, rest[3+alen:]
		}
		if len(rest) != 0 {
			return Membership{}, fmt.Errorf("%w: %d trailing bytes", ErrCorruptMembership, len(rest))
		}
	}
	if err := m.validate(); err != nil {
		return Membership{}, fmt.Errorf("%w: %w", ErrCorruptMembership, err)
	}
	return m, nil
}

func (m Membership) validate() error {
	for _, l := range [][]NodeID{m.Voters, m.Learners} {
		for i, id := range l {
			if id == 0 {
				return errors.New("node 0")
			}
			if i > 0 && l[i-1] >= id {
				return fmt.Errorf("node %d out of order", id)
			}
		}
	}
	for _, id := range m.Learners {
		if m.IsVoter(id) {
			return fmt.Errorf("node %d is voter and learner", id)
		}
	}
	if len(m.Voters)+len(m.Learners) > maxMembers {
		return fmt.Errorf("%d members, at most %d", len(m.Voters)+len(m.Learners), maxMembers)
	}
	for id, a := range m.Addrs {
		if !m.Contains(id) {
			return fmt.Errorf("an address for node %d, no member", id)
		}
		if a == "" || len(a) > maxAddr {
			return fmt.Errorf("node %d's address is %d bytes, want 1..%d", id, len(a), maxAddr)
		}
	}
	if n := m.encodedSize(); n > maxMembershipBytes {
		return fmt.Errorf("%d bytes encoded, at most %d", n, maxMembershipBytes)
	}
	return nil
}

// ConfChangeType is the kind of a ConfChange.
type ConfChangeType uint8

// The membership changes, one node at a time.
const (
	// AddLearner adds a node that receives the log but does not vote.
	AddLearner ConfChangeType = 1 + iota
	// Promote makes a learner a voter.
	Promote
	// Remove removes a voter or a learner.
	Remove
)

func (t ConfChangeType) String() string {
	switch t {
	case AddLearner:
		return "add-learner"
	case Promote:
		return "promote"
	case Remove:
		return "remove"
	}
	return fmt.Sprintf("confchange(%d)", uint8(t))
}

// ConfChange is one membership change asked of the leader.
type ConfChange struct {
	Type ConfChangeType
	Node NodeID
	// Addrs are addresses to record in the new configuration
	// (Membership.Addrs): typically the added node's, and any member's the
	// configuration lacks (a runtime started with a static list of peers
	// fills them in with its first change). An entry replaces the
	// member's address; entries for nodes that are no member of the new
	// configuration, and empty ones, are ignored. Opaque to the engine;
	// at most 255 bytes each. May be nil.
	Addrs map[NodeID]string
}

// The refusals of ProposeConfChange. Each leaves the engine unchanged; a
// node that is not the leader gets a *NotLeaderError, as from Propose.
var (
	// ErrConfChangeInProgress: a membership change is still being chosen;
	// Status().PendingConf names it. Retry once it is (Status().Membership
	// changes) or was dropped by a change of leader.
	ErrConfChangeInProgress = errors.New("engine: a membership change is already in progress")
	// ErrConfChangeTooEarly: the leader has not yet committed an entry of
	// its own ballot. Propose anything (an empty batch will do) and retry.
	ErrConfChangeTooEarly = errors.New("engine: the new leader has not committed an entry of its own ballot yet")
	// ErrMemberExists: AddLearner of a node already a voter or learner.
	ErrMemberExists = errors.New("engine: node is already a member")
	// ErrNotMember: Remove of a node that is not a member.
	ErrNotMember = errors.New("engine: node is not a member")
	// ErrNotLearner: Promote of a node that is not a learner.
	ErrNotLearner = errors.New("engine: node is not a learner")
	// ErrLearnerBehind: Promote of a learner further than
	// Config.PromoteLag slots behind the commit index; the error says how
	// far. Retry once it caught up.
	ErrLearnerBehind = errors.New("engine: learner is too far behind to be promoted")
	// ErrQuorumLost: the change would leave no majority of voters that
	// the leader hears (removing the last voter, or one whose removal
	// leaves too few live ones).
	ErrQuorumLost = errors.New("engine: the change would leave no live majority")
	// ErrInvalidConfChange: an unknown ConfChangeType or node 0.
	ErrInvalidConfChange = errors.New("engine: invalid membership change")
)

// apply returns the membership cc makes of m, or why it cannot.
func (m Membership) apply(cc ConfChange) (Membership, error) {
	if cc.Node == 0 {
		return Membership{}, fmt.Errorf("%w: node 0", ErrInvalidConfChange)
	}
	voters, learners := slices.Clone(m.Voters), slices.Clone(m.Learners)
	switch cc.Type {
	case AddLearner:
		if m.Contains(cc.Node) {
			return Membership{}, fmt.Errorf("%w: node %d (%v)", ErrMemberExists, cc.Node, m)
		}
		learners = append(learners, cc.Node)
	case Promote:
		if !m.IsLearner(cc.Node) {
			return Membership{}, fmt.Errorf("%w: node %d (%v)", ErrNotLearner, cc.Node, m)
		}
		learners = slices.DeleteFunc(learners, func(id NodeID) bool { return id == cc.Node })
		voters = append(voters, cc.Node)
	case Remove:
		if !m.Contains(cc.Node) {
			return Membership{}, fmt.Errorf("%w: node %d (%v)", ErrNotMember, cc.Node, m)
		}
		del := func(id NodeID) bool { return id == cc.Node }
		voters, learners = slices.DeleteFunc(voters, del), slices.DeleteFunc(learners, del)
		if len(voters) == 0 {
			return Membership{}, fmt.Errorf("%w: node %d is the last voter", ErrQuorumLost, cc.Node)
		}
	default:
		return Membership{}, fmt.Errorf("%w: type %d", ErrInvalidConfChange, cc.Type)
	}
	if len(voters)+len(learners) > maxMembers {
		return Membership{}, fmt.Errorf("%w: more than %d members", ErrInvalidConfChange, maxMembers)
	}
	next := newMembership(voters, learners)
	addrs := make(map[NodeID]string, len(m.Addrs)+len(cc.Addrs))
	for _, from := range []map[NodeID]string{m.Addrs, cc.Addrs} {
		for id, a := range from {
			if a != "" && next.Contains(id) {
				addrs[id] = a
			}
		}
	}
	if len(addrs) > 0 {
		next.Addrs = addrs
	}
	if err := next.validate(); err != nil {
		return Membership{}, fmt.Errorf("%w: %w", ErrInvalidConfChange, err)
	}
	return next, nil
}

// confAt is a membership change in a leader's log above its commit index:
// the membership in force for every slot after slot once it is chosen.
type confAt struct {
	slot Slot
	m    Membership
}

// ProposeConfChange asks the leader to change the membership by one node
// (doc.go, "Membership"). A nil error means the change is on its way: the
// leader stops taking proposals (Propose returns ErrPipelineFull) until
// every slot it proposed is chosen, proposes the change in the next slot,
// and takes proposals again once that slot is chosen; Ready.Membership
// then carries the new configuration. A change of leader meanwhile drops
// it (Status().PendingConf is empty again, Membership unchanged): ask the
// new leader.
//
// It refuses, changing nothing: a *NotLeaderError on a node that is not
// the leader or is handing leadership off; ErrConfChangeInProgress while
// another change is pending; ErrConfChangeTooEarly before this leader
// committed an entry of its own ballot; ErrMemberExists, ErrNotMember,
// ErrNotLearner for a node in the wrong role; ErrLearnerBehind for a
// promotion of a learner more than Config.PromoteLag slots behind;
// ErrQuorumLost for a promotion or removal after which the voters the
// leader heard within ElectionTicks are no majority; ErrInvalidConfChange
// for an unknown type or node 0.
func (e *Engine) ProposeConfChange(cc ConfChange) error {
	switch {
	case e.role != RoleLeader:
		return &NotLeaderError{Leader: e.leader}
	case e.xfer.to != 0:
		return &NotLeaderError{Leader: e.xfer.to}
	case (e.confPend != nil || len(e.leaderConfs) > 0) && !bugTwoConfChanges:
		return fmt.Errorf("%w: %v", ErrConfChangeInProgress, e.pendingConf())
	case e.commit < e.base:
		return fmt.Errorf("%w: ballot %v proposes from slot %d, commit index %d", ErrConfChangeTooEarly, e.ballot, e.base, e.commit)
	}
	from := e.conf
	if bugTwoConfChanges && len(e.leaderConfs) > 0 {
		from = e.leaderConfs[len(e.leaderConfs)-1].m
	}
	next, err := from.apply(cc)
	if err != nil {
		return err
	}
	if cc.Type == Promote {
		p := e.peer(cc.Node)
		if p == nil || p.acked+Slot(e.cfg.PromoteLag) < e.commit {
			var at Slot
			if p != nil {
				at = p.acked
			}
			return fmt.Errorf("%w: node %d acknowledged slot %d, commit index %d: %d slots behind, PromoteLag %d", ErrLearnerBehind, cc.Node, at, e.commit, e.commit-at, e.cfg.PromoteLag)
		}
	}
	if cc.Type != AddLearner {
		live := 0
		for _, id := range next.Voters {
			if id == e.id {
				live++
			} else if p := e.peer(id); p != nil && p.idle < e.cfg.ElectionTicks {
				live++
			}
		}
		if live < next.Quorum() {
			return fmt.Errorf("%w: %v leaves %d live voters, a majority is %d", ErrQuorumLost, next, live, next.Quorum())
		}
	}
	e.logger.Info("membership change requested", "change", cc.Type, "node", cc.Node, "next", next)
	e.confPend = &next
	e.maybeProposeConf()
	return nil
}

// pendingConf is the membership a leader is changing to, zero when none.
func (e *Engine) pendingConf() Membership {
	if e.confPend != nil {
		return *e.confPend
	}
	if n := len(e.leaderConfs); n > 0 {
		return e.leaderConfs[n-1].m
	}
	return Membership{}
}

// confBlocksProposals reports whether a membership change holds Propose
// back: one waits for the pipeline to drain, or is being chosen.
func (e *Engine) confBlocksProposals() bool {
	if bugTwoConfChanges {
		return false
	}
	return e.confPend != nil || len(e.leaderConfs) > 0
}

// maybeProposeConf proposes the requested change once every slot the
// leader proposed is chosen: the change's slot is then the only one in
// flight, decided by the configuration in force, and no later slot is
// proposed until it is chosen (confBlocksProposals).
func (e *Engine) maybeProposeConf() {
	if e.confPend == nil || e.role != RoleLeader || (e.commit < e.log.last() && !bugTwoConfChanges) {
		return
	}
	next := *e.confPend
	e.confPend = nil
	en := Entry{Slot: e.log.last() + 1, Ballot: e.ballot, Type: EntryConfChange, Data: next.marshal()}
	e.log.set(en)
	e.unstable = append(e.unstable, en)
	e.unstableVote = true
	e.leaderConfs = append(e.leaderConfs, confAt{slot: en.Slot, m: next})
	e.rebuildPeers()
	e.logger.Info("proposing membership change", "slot", en.Slot, "next", next)
}

// initialMembership is the configuration of Config: in force before any
// EntryConfChange is chosen.
func (c *Config) initialMembership() Membership {
	return newMembership(c.Peers, c.Learners)
}

// applyConfThrough moves the configuration in force to the one the
// chosen slots through commit make: the last EntryConfChange among them
// replaces it. Called whenever the commit index moves.
func (e *Engine) applyConfThrough() {
	for s := max(e.confThrough+1, e.log.start); s <= e.commit; s++ {
		en := e.log.get(s)
		if en != nil && en.Type == EntryConfChange {
			m, err := ParseMembership(en.Data)
			if err != nil {
				panic(fmt.Sprintf("engine: node %d: chosen slot %d holds a corrupt membership: %v", e.id, s, err))
			}
			e.setConf(m, s)
		}
	}
	if e.commit > e.confThrough {
		e.confThrough = e.commit
	}
}

// setConf makes m, chosen at slot at, the configuration in force.
func (e *Engine) setConf(m Membership, at Slot) {
	e.conf = m
	e.confSlot = at
	e.confChanged = true
	for len(e.leaderConfs) > 0 && e.leaderConfs[0].slot <= at {
		e.leaderConfs = e.leaderConfs[1:]
	}
	e.logger.Info("membership in force", "slot", at, "membership", m)
	if e.role == RoleLeader {
		// The members it drops learn the commit index once more, so they
		// apply their removal and stop (their answers are no longer
		// taken: Step refuses non-members' acknowledgements).
		for _, p := range e.peers {
			if !m.Contains(p.id) {
				e.send(Message{Type: MsgCommit, To: p.id, Ballot: e.ballot, Slot: e.base, Commit: e.commit, Round: e.round})
			}
		}
		// A lease that majorities of two configurations back could
		// outlive a second change (doc.go): this leader leases again
		// only on rounds it starts from now on.
		e.leaseMinRound = e.round
		e.leaseUntil = 0
		if !bugConfChangeKeepsOldVoters {
			e.rebuildPeers()
		}
	} else {
		e.rebuildPeers()
	}
	e.removed = !m.Contains(e.id)
	if e.role == RoleLeader && e.xfer.to != 0 && !e.xfer.sent && !m.IsVoter(e.xfer.to) {
		e.xfer = handoff{} // its target left; one told to campaign runs out in tickHandoff
	}
	if e.role == RoleLeader && !m.IsVoter(e.id) {
		e.logger.Info("stepping down: no longer a voter", "ballot", e.ballot, "membership", m)
		e.becomeFollower(e.promised, 0)
	}
}

// rebuildPeers makes e.peers every member of the configuration in force
// and, on a leader, of the changes in its log not yet chosen (they are
// sent the log before they count), plus, on a follower, the leader it
// follows when that is no member it knows. A peer that stays keeps its
// state.
func (e *Engine) rebuildPeers() {
	want := make([]NodeID, 0, len(e.conf.Voters)+len(e.conf.Learners)+1)
	add := func(ids []NodeID) {
		for _, id := range ids {
			if id != e.id && !slices.Contains(want, id) {
				want = append(want, id)
			}
		}
	}
	add(e.conf.Voters)
	add(e.conf.Learners)
	if e.role == RoleLeader {
		for _, c := range e.leaderConfs {
			add(c.m.Voters)
			add(c.m.Learners)
		}
	}
	if e.role != RoleLeader && e.leader != 0 {
		add([]NodeID{e.leader})
	}
	if e.role == RoleCandidate {
		for i := range e.peers {
			if e.peers[i].promised {
				add([]NodeID{e.peers[i].id})
			}
		}
	}
	old := e.peers
	peers := make([]peer, 0, len(want))
	for _, id := range want {
		p := peer{id: id, match: e.base - 1}
		if e.base == 0 {
			p.match = 0
		}
		for i := range old {
			if old[i].id == id {
				p = old[i]
			}
		}
		p.voter = e.conf.IsVoter(id)
		// A stranger that a configuration now names is one no more:
		// addStranger must not drop it.
		p.stranger = p.stranger && !e.conf.Contains(id)
		if bugLearnerVotes && e.conf.IsLearner(id) {
			p.voter = true
		}
		peers = append(peers, p)
	}
	e.peers = peers
	e.selfVoter = e.conf.IsVoter(e.id)
	e.matchBuf = make([]Slot, 0, len(peers)+1)
	e.roundBuf = make([]Slot, 0, len(peers)+1)
}

// addStranger makes from, a node no configuration we know names, a peer
// for as long as it leads us or until the next configuration: a node
// behind on the log must still hear a leader that a later change added,
// and promise to a candidate that a later change made a voter. Only one
// stranger is kept, so a flood of unknown senders costs no memory.
func (e *Engine) addStranger(from NodeID) *peer {
	for i := range e.peers {
		if e.peers[i].stranger && e.peers[i].id != e.leader {
			e.peers = slices.Delete(e.peers, i, i+1)
			break
		}
	}
	e.peers = append(e.peers, peer{id: from, stranger: true})
	e.matchBuf = make([]Slot, 0, len(e.peers)+1)
	e.roundBuf = make([]Slot, 0, len(e.peers)+1)
	return &e.peers[len(e.peers)-1]
}

// promiseQuorum reports whether the promises counted so far, ours
// included, hold a majority of m's voters.
func (e *Engine) promiseQuorum(m Membership) bool {
	n := 0
	for _, id := range m.Voters {
		if id == e.id {
			if e.selfVoted {
				n++
			}
		} else if p := e.peer(id); p != nil && p.promised {
			n++
		}
	}
	return n >= m.Quorum()
}

// phase1Quorum reports whether the promises make a phase-1 quorum. Let
// C0 be the configuration in force at our first unchosen slot and C1, ...,
// Ck those the reported values (and a reported snapshot) bring into force
// at later slots, in slot order. A slot decided under Ci was chosen by a
// majority of Ci, and a majority of Ci or of C(i-1) meets every such
// majority (they differ by one node). So the promises must hold a
// majority of C0, ..., C(k-1): a candidate whose log lags several changes
// behind thus still meets the majorities that chose the latest slots, and
// one that lags one change (the commonest case: a change in flight when
// its leader failed) needs only the majority of C0 it always needs. A
// reported snapshot's configuration may be several changes away from any
// other, so its majority is needed too. Voters of those configurations it
// did not know are sent a Prepare now.
func (e *Engine) phase1Quorum() bool {
	if !e.promiseQuorum(e.conf) {
		return false
	}
	var later []confAt
	if e.bestSnap != nil && !e.bestSnap.Membership.IsZero() {
		// A snapshot may span several changes: its configuration need
		// not be one node away from any other, so its majority is
		// needed whatever follows.
		if !e.promiseQuorumOrAsk(e.bestSnap.Membership) {
			return false
		}
		later = append(later, confAt{slot: e.bestSnap.Slot, m: e.bestSnap.Membership})
	}
	for s, en := range e.proposals {
		if en.Type != EntryConfChange {
			continue
		}
		m, err := ParseMembership(en.Data)
		if err != nil {
			continue // a corrupt value can be no one's quorum
		}
		later = append(later, confAt{slot: s, m: m})
	}
	if len(later) < 2 || bugPhase1OwnConfOnly {
		return true
	}
	// In slot order, so the Prepares sent are the same on every replay.
	slices.SortFunc(later, func(a, b confAt) int { return cmp.Compare(a.slot, b.slot) })
	ok := true
	for _, c := range later[:len(later)-1] {
		if !e.promiseQuorumOrAsk(c.m) {
			ok = false
		}
	}
	return ok
}

// promiseQuorumOrAsk is promiseQuorum, after sending a Prepare to every
// voter of m this node did not know of.
func (e *Engine) promiseQuorumOrAsk(m Membership) bool {
	for _, id := range m.Voters {
		if id != e.id && e.peer(id) == nil {
			e.addStranger(id).stranger = false
			e.send(Message{Type: MsgPrepare, To: id, Ballot: e.ballot, Slot: e.prepareSlot, Handoff: e.handoffFrom})
		}
	}
	return e.promiseQuorum(m)
}
