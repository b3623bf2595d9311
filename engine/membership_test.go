package engine

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// tcluster is a lossless, synchronous cluster for membership unit tests:
// every message is delivered at once, every Ready persisted at once.
type tcluster struct {
	t      *testing.T
	voters []NodeID // the initial configuration
	engs   map[NodeID]*Engine
	sts    map[NodeID]*memStorage
	cfgs   map[NodeID]Config
	down   map[NodeID]bool
	confs  map[NodeID][]Membership // every Ready.Membership each node got
	queue  []Message
}

func newTCluster(t *testing.T, voters ...NodeID) *tcluster {
	c := &tcluster{t: t, voters: voters, engs: map[NodeID]*Engine{}, sts: map[NodeID]*memStorage{},
		cfgs: map[NodeID]Config{}, down: map[NodeID]bool{}, confs: map[NodeID][]Membership{}}
	for _, id := range voters {
		c.start(id, voters, nil)
	}
	c.engs[voters[0]].Campaign()
	c.stabilize()
	if c.engs[voters[0]].Status().Role != RoleLeader {
		t.Fatalf("node %d did not win: %+v", voters[0], c.engs[voters[0]].Status())
	}
	return c
}

func (c *tcluster) start(id NodeID, voters, learners []NodeID) {
	cfg := DefaultConfig()
	cfg.ID, cfg.Peers, cfg.Learners = id, voters, learners
	cfg.MaxInflight = 16
	cfg.PromoteLag = 2
	c.cfgs[id] = cfg
	c.sts[id] = newMemStorage()
	c.restart(id)
}

// restart makes a new engine of id from its storage and its first Config.
func (c *tcluster) restart(id NodeID) {
	e, err := New(c.cfgs[id], c.sts[id])
	if err != nil {
		c.t.Fatal(err)
	}
	c.engs[id] = e
	c.down[id] = false
}

func (c *tcluster) stabilize() {
	c.t.Helper()
	for range 1000 {
		busy := false
		for _, id := range c.ids() {
			e := c.engs[id]
			for e.HasReady() {
				busy = true
				rd := e.Ready()
				if err := c.sts[id].persist(&rd); err != nil {
					c.t.Fatal(err)
				}
				if rd.Membership != nil {
					c.confs[id] = append(c.confs[id], *rd.Membership)
				}
				c.queue = append(c.queue, rd.Messages...)
				c.queue = append(c.queue, rd.AfterSync...)
				e.Advance(rd)
			}
		}
		q := c.queue
		c.queue = nil
		for _, m := range q {
			busy = true
			if e := c.engs[m.To]; e != nil && !c.down[m.To] {
				if err := e.Step(m); err != nil && !errors.Is(err, ErrBadMessage) {
					c.t.Fatal(err)
				}
			}
		}
		if !busy {
			return
		}
	}
	c.t.Fatal("cluster did not stabilize")
}

// ids returns the up nodes in order.
func (c *tcluster) ids() []NodeID {
	var ids []NodeID
	for id := range c.engs {
		if !c.down[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (c *tcluster) tick(n int) {
	for range n {
		for _, id := range c.ids() {
			c.engs[id].Tick()
		}
		c.stabilize()
	}
}

func (c *tcluster) leader() NodeID {
	for _, id := range c.ids() {
		if c.engs[id].Status().Role == RoleLeader {
			return id
		}
	}
	return 0
}

func (c *tcluster) propose(n int) {
	c.t.Helper()
	for range n {
		if err := c.engs[c.leader()].Propose([]byte("x")); err != nil {
			c.t.Fatal(err)
		}
		c.stabilize()
	}
}

func (c *tcluster) change(cc ConfChange) {
	c.t.Helper()
	if err := c.engs[c.leader()].ProposeConfChange(cc); err != nil {
		c.t.Fatalf("%v %d: %v", cc.Type, cc.Node, err)
	}
	c.stabilize()
}

func ms(voters, learners []NodeID) Membership { return newMembership(voters, learners) }

// Every refused change names its reason and leaves the leader as it was.
func TestConfChangeRefusals(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	var nle *NotLeaderError
	if err := c.engs[2].ProposeConfChange(ConfChange{Type: AddLearner, Node: 4}); !errors.As(err, &nle) || nle.Leader != 1 {
		t.Fatalf("on a follower: %v, want a *NotLeaderError naming 1", err)
	}
	l := c.engs[1]
	if err := l.ProposeConfChange(ConfChange{Type: AddLearner, Node: 4}); !errors.Is(err, ErrConfChangeTooEarly) {
		t.Fatalf("before the leader committed an entry of its ballot: %v, want ErrConfChangeTooEarly", err)
	}
	c.propose(1)
	for _, tc := range []struct {
		cc   ConfChange
		want error
	}{
		{ConfChange{Type: AddLearner, Node: 2}, ErrMemberExists},
		{ConfChange{Type: Promote, Node: 2}, ErrNotLearner},
		{ConfChange{Type: Promote, Node: 9}, ErrNotLearner},
		{ConfChange{Type: Remove, Node: 9}, ErrNotMember},
		{ConfChange{Type: AddLearner, Node: 0}, ErrInvalidConfChange},
		{ConfChange{Type: ConfChangeType(7), Node: 4}, ErrInvalidConfChange},
	} {
		before := l.Status()
		if err := l.ProposeConfChange(tc.cc); !errors.Is(err, tc.want) {
			t.Errorf("%v %d: %v, want %v", tc.cc.Type, tc.cc.Node, err, tc.want)
		}
		after := l.Status()
		if !reflect.DeepEqual(before, after) || !l.CanPropose() {
			t.Errorf("%v %d changed the leader: %+v -> %+v", tc.cc.Type, tc.cc.Node, before, after)
		}
	}
}

func TestConfChangeOneAtATime(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	l := c.engs[1]
	if err := l.ProposeConfChange(ConfChange{Type: AddLearner, Node: 4}); err != nil {
		t.Fatal(err)
	}
	if got := l.Status().PendingConf; !got.Equal(ms([]NodeID{1, 2, 3}, []NodeID{4})) {
		t.Fatalf("PendingConf %v", got)
	}
	if err := l.ProposeConfChange(ConfChange{Type: AddLearner, Node: 5}); !errors.Is(err, ErrConfChangeInProgress) {
		t.Fatalf("a second change in flight: %v, want ErrConfChangeInProgress", err)
	}
	if err := l.Propose([]byte("y")); !errors.Is(err, ErrPipelineFull) || l.CanPropose() {
		t.Fatalf("Propose while the change is chosen: %v, want ErrPipelineFull", err)
	}
	c.stabilize()
	st := l.Status()
	if !st.Membership.Equal(ms([]NodeID{1, 2, 3}, []NodeID{4})) || !st.PendingConf.IsZero() || !l.CanPropose() {
		t.Fatalf("after the change was chosen: %+v", st)
	}
	for _, id := range []NodeID{1, 2, 3} {
		got := c.confs[id]
		if len(got) != 1 || !got[0].Equal(st.Membership) {
			t.Errorf("node %d: Ready.Membership %v, want once %v", id, got, st.Membership)
		}
	}
}

// A change waits for the pipeline to drain: the change's slot is the only
// one in flight.
func TestConfChangeDrainsPipeline(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	l := c.engs[1]
	if err := l.Propose([]byte("a")); err != nil {
		t.Fatal(err)
	}
	last := l.Status().LastSlot
	if err := l.ProposeConfChange(ConfChange{Type: AddLearner, Node: 4}); err != nil {
		t.Fatal(err)
	}
	if got := l.Status().LastSlot; got != last {
		t.Fatalf("the change was proposed at slot %d with slot %d uncommitted", got, last)
	}
	c.stabilize()
	if got := l.Status(); got.LastSlot != last+1 || got.Commit != last+1 || !got.Membership.IsLearner(4) {
		t.Fatalf("after draining: %+v", got)
	}
}

func TestConfChangeQuorumLost(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	c.down[3] = true
	c.tick(c.cfgs[1].ElectionTicks)
	l := c.engs[1]
	if l.Status().Role != RoleLeader {
		t.Fatal("leader lost with 2 of 3 up")
	}
	if err := l.ProposeConfChange(ConfChange{Type: Remove, Node: 2}); !errors.Is(err, ErrQuorumLost) {
		t.Fatalf("removing the only other live voter: %v, want ErrQuorumLost", err)
	}
	if err := l.ProposeConfChange(ConfChange{Type: Remove, Node: 3}); err != nil {
		t.Fatalf("removing the dead voter: %v", err)
	}
	c.stabilize()
	if got := l.Status().Membership; !got.Equal(ms([]NodeID{1, 2}, nil)) {
		t.Fatalf("membership %v", got)
	}

	one := newTCluster(t, 1)
	one.propose(1)
	if err := one.engs[1].ProposeConfChange(ConfChange{Type: Remove, Node: 1}); !errors.Is(err, ErrQuorumLost) {
		t.Fatalf("removing the last voter: %v, want ErrQuorumLost", err)
	}
}

func TestPromoteLaggingLearner(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	c.change(ConfChange{Type: AddLearner, Node: 4})
	c.propose(5)
	err := c.engs[1].ProposeConfChange(ConfChange{Type: Promote, Node: 4})
	if !errors.Is(err, ErrLearnerBehind) || !strings.Contains(err.Error(), "slots behind") {
		t.Fatalf("promoting a learner that never started: %v, want ErrLearnerBehind saying how far", err)
	}
	// It starts, is caught up, and may then be promoted.
	c.start(4, []NodeID{1, 2, 3}, []NodeID{4})
	c.tick(3)
	if got := c.engs[4].Status(); got.Commit != c.engs[1].Status().Commit || !got.Membership.IsLearner(4) {
		t.Fatalf("learner not caught up: %+v", got)
	}
	c.change(ConfChange{Type: Promote, Node: 4})
	if got := c.engs[4].Status().Membership; !got.Equal(ms([]NodeID{1, 2, 3, 4}, nil)) {
		t.Fatalf("after promotion node 4 has %v", got)
	}
}

// A learner added soon after a leader change is not taken to hold what
// the leader's promisers hold: the new leader's guess of a peer's match
// (the slot before its ballot's base) is no word of the learner's, and
// promoting on it let an empty learner vote (seen by bench's replace
// right after a failover: "caught up" 0 ms after the add).
func TestPromoteFreshLearnerAfterLeaderChange(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(20)
	if err := c.engs[1].TransferLeadership(2); err != nil {
		t.Fatal(err)
	}
	c.stabilize()
	c.tick(2)
	if c.leader() != 2 {
		t.Fatalf("node 2 did not take over: leader %d", c.leader())
	}
	c.change(ConfChange{Type: AddLearner, Node: 4}) // node 4 never starts
	err := c.engs[2].ProposeConfChange(ConfChange{Type: Promote, Node: 4})
	if !errors.Is(err, ErrLearnerBehind) {
		t.Fatalf("promoting a learner that never answered, just after a leader change: %v, want ErrLearnerBehind", err)
	}
	c.start(4, []NodeID{1, 2, 3}, []NodeID{4})
	c.tick(3)
	c.change(ConfChange{Type: Promote, Node: 4})
}

// A learner never campaigns, however long it hears no leader.
func TestLearnerNeverCampaigns(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	c.change(ConfChange{Type: AddLearner, Node: 4})
	c.start(4, []NodeID{1, 2, 3}, []NodeID{4})
	c.tick(2)
	for _, id := range []NodeID{1, 2, 3} {
		c.down[id] = true
	}
	for range 10 * c.cfgs[4].ElectionTicks {
		c.engs[4].Tick()
		for c.engs[4].HasReady() {
			rd := c.engs[4].Ready()
			for _, m := range append(rd.Messages, rd.AfterSync...) {
				if m.Type == MsgPrepare || m.Type == MsgPrePrepare {
					t.Fatalf("learner sent %v", m.Type)
				}
			}
			c.engs[4].Advance(rd)
		}
	}
}

// The leader removing itself commits the removal under the old
// configuration, then steps down and reports itself removed; the rest
// elect a leader among themselves.
func TestRemoveLeader(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	c.change(ConfChange{Type: Remove, Node: 1})
	st := c.engs[1].Status()
	if st.Role == RoleLeader || !st.Removed || st.Membership.Contains(1) {
		t.Fatalf("removed leader: %+v", st)
	}
	c.tick(3 * c.cfgs[1].ElectionTicks)
	if l := c.leader(); l != 2 && l != 3 {
		t.Fatalf("leader %d after removing node 1", l)
	}
	if st := c.engs[1].Status(); st.Role != RoleFollower {
		t.Fatalf("removed node campaigns: %+v", st)
	}
	c.propose(1)
}

// A restarted node takes its configuration from its log and snapshot, not
// from the Config it was first started with.
func TestRestartWithChangedMembership(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	c.change(ConfChange{Type: AddLearner, Node: 4})
	c.start(4, []NodeID{1, 2, 3}, []NodeID{4})
	c.tick(2)
	c.change(ConfChange{Type: Promote, Node: 4})
	c.change(ConfChange{Type: Remove, Node: 3})
	want := ms([]NodeID{1, 2, 4}, nil)

	// From the log.
	c.restart(2)
	if st := c.engs[2].Status(); !st.Membership.Equal(want) || st.MembershipSlot == 0 {
		t.Fatalf("restarted from the log: %v at slot %d, want %v", st.Membership, st.MembershipSlot, want)
	}
	// From a snapshot that carries it, the log compacted away.
	c.stabilize()
	applied := c.engs[2].Status().Applied
	c.sts[2].SetSnapshot(Snapshot{Slot: applied, Data: []byte("sm"), Membership: want})
	if err := c.engs[2].Compact(applied); err != nil {
		t.Fatal(err)
	}
	c.restart(2)
	if st := c.engs[2].Status(); !st.Membership.Equal(want) || st.MembershipSlot != applied {
		t.Fatalf("restarted from a snapshot: %v at slot %d, want %v at %d", st.Membership, st.MembershipSlot, want, applied)
	}
	// The learner node 4 was started as; it restarts as the voter it is.
	c.restart(4)
	if st := c.engs[4].Status(); !st.Membership.IsVoter(4) {
		t.Fatalf("node 4 restarted as %v", st.Membership)
	}
	c.tick(3 * c.cfgs[1].ElectionTicks)
	c.propose(2)
}

// A snapshot sent to a follower carries the configuration across the wire.
func TestSnapshotCarriesMembership(t *testing.T) {
	m := Message{Type: MsgSnapshot, From: 1, Ballot: MakeBallot(1, 1), Slot: 1,
		Snapshot: &Snapshot{Slot: 9, Data: []byte("sm"), Membership: ms([]NodeID{1, 2, 4}, []NodeID{7})}}
	b := m.MarshalAppend(nil)
	if len(b) != m.Size() {
		t.Fatalf("Size %d, encoded %d", m.Size(), len(b))
	}
	var got Message
	if err := got.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if !got.Snapshot.Membership.Equal(m.Snapshot.Membership) || got.Snapshot.Slot != 9 {
		t.Fatalf("decoded %+v", got.Snapshot)
	}
	// A membership list out of order is corrupt.
	bad := slices.Clone(b)
	i := len(bad) - 8 // the first voter id
	bad[i], bad[i+2] = bad[i+2], bad[i]
	if err := got.Unmarshal(bad); !errors.Is(err, ErrCorruptMessage) {
		t.Fatalf("unsorted voters: %v", err)
	}
}

func TestParseMembership(t *testing.T) {
	m := ms([]NodeID{3, 1, 2}, []NodeID{9})
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMembership(b)
	if err != nil || !got.Equal(m) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if _, err := (Membership{Voters: []NodeID{2, 1}}).MarshalBinary(); !errors.Is(err, ErrCorruptMembership) {
		t.Fatalf("MarshalBinary of unsorted voters: %v", err)
	}
	for _, b := range [][]byte{nil, {1}, {1, 0, 0, 0}, {2, 0, 1, 0}, {2, 0, 2, 0, 1, 0}, {1, 1, 1, 0, 1, 0}} {
		if _, err := ParseMembership(b); !errors.Is(err, ErrCorruptMembership) {
			t.Errorf("ParseMembership(%v) = %v, want ErrCorruptMembership", b, err)
		}
	}
}

// A removed follower learns its removal and stops campaigning.
func TestRemovedFollowerKnows(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	c.change(ConfChange{Type: Remove, Node: 3})
	if st := c.engs[3].Status(); !st.Removed {
		t.Fatalf("removed follower: %+v", st)
	}
	c.down[1], c.down[2] = true, true
	before := c.engs[3].Status().Promised
	c.tick(5 * c.cfgs[3].ElectionTicks)
	if st := c.engs[3].Status(); st.Role != RoleFollower || st.Promised != before {
		t.Fatalf("removed node campaigned: %+v", st)
	}
}

// A learner's stickiness lapses like a voter's: once its leader is gone it
// promises to a candidate (a learner that a change it has not applied yet
// made a voter may be needed for a majority).
func TestLearnerPromisesOnceLeaderGone(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	c.change(ConfChange{Type: AddLearner, Node: 4})
	c.start(4, []NodeID{1, 2, 3}, []NodeID{4})
	c.tick(2)
	c.down[1] = true
	l := c.engs[4]
	for range 2 * c.cfgs[4].ElectionTicks {
		l.Tick()
	}
	b := MakeBallot(50, 2)
	step(t, l, Message{Type: MsgPrepare, From: 2, To: 4, Ballot: b, Slot: l.Status().Commit + 1})
	rd := l.Ready()
	if got := msgsOf([]Ready{rd}, MsgPromise); len(got) != 1 || got[0].Ballot != b {
		t.Fatalf("learner answered a Prepare of %v with %+v, want a promise", b, got)
	}
}

// A hand-off whose target a chosen change removes ends instead of
// following a peer that is gone.
func TestHandoffTargetRemoved(t *testing.T) {
	c := newTCluster(t, 1, 2, 3)
	c.propose(1)
	l := c.engs[1]
	if err := l.ProposeConfChange(ConfChange{Type: Remove, Node: 3}); err != nil {
		t.Fatal(err)
	}
	c.down[3] = true // the target never catches up: MsgHandoff is not sent
	if err := l.TransferLeadership(3); err != nil {
		t.Fatal(err)
	}
	c.stabilize()
	c.tick(2)
	if st := l.Status(); st.Role != RoleLeader || st.HandoffTo != 0 || st.Membership.Contains(3) {
		t.Fatalf("after the target's removal: %+v", st)
	}
	c.propose(1)
}

// A promise's snapshot may hold a configuration several changes away
// from the candidate's (it compacts them all): the candidate needs a
// majority of it too, and asks its voters it did not know.
func TestPhase1NeedsSnapshotConfiguration(t *testing.T) {
	st := newMemStorage()
	e := newTestEngine(t, 2, 3, st)
	e.Campaign()
	syncAll(t, e, st)
	snap := &Snapshot{Slot: 10, Data: []byte("sm"), Membership: ms([]NodeID{1, 2, 4, 5, 6}, nil)}
	step(t, e, Message{Type: MsgPromise, From: 1, To: 2, Ballot: e.ballot, Slot: 1, Commit: 10, Snapshot: snap})
	if st := e.Status(); st.Role == RoleLeader {
		t.Fatalf("leads with promises of 1 and 2, no majority of %v", snap.Membership)
	}
	asked := map[NodeID]bool{}
	for _, m := range msgsOf([]Ready{e.Ready()}, MsgPrepare) {
		asked[m.To] = true
	}
	if !asked[4] || !asked[5] || !asked[6] {
		t.Fatalf("Prepares to %v, want the snapshot's voters 4, 5 and 6", asked)
	}
	step(t, e, Message{Type: MsgPromise, From: 4, To: 2, Ballot: e.ballot, Slot: 1, Commit: 10, Snapshot: snap})
	if st := e.Status(); st.Role != RoleLeader || !st.Membership.Equal(snap.Membership) {
		t.Fatalf("with 1, 2 and 4: %+v", st)
	}
}

// A candidate one change behind needs a majority of the configuration in
// force at its first unchosen slot, even when the promises hold a
// majority of the one the change makes: the change's own slot, and those
// below it, are decided by the old one.
func TestPhase1NeedsOldConfiguration(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ID, cfg.Peers, cfg.Learners = 2, []NodeID{1, 2, 3, 4}, []NodeID{5}
	st := newMemStorage()
	e, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	e.Campaign()
	syncAll(t, e, st)
	promote := Entry{Slot: 1, Ballot: MakeBallot(1, 1), Type: EntryConfChange, Data: ms([]NodeID{1, 2, 3, 4, 5}, nil).marshal()}
	for _, id := range []NodeID{3, 5} {
		step(t, e, Message{Type: MsgPromise, From: id, To: 2, Ballot: e.ballot, Slot: 1, Entries: []Entry{promote}})
	}
	if e.Status().Role == RoleLeader {
		t.Fatal("leads with 2, 3 and the learner 5: no majority of voters 1-4")
	}
	step(t, e, Message{Type: MsgPromise, From: 4, To: 2, Ballot: e.ballot, Slot: 1, Entries: []Entry{promote}})
	if st := e.Status(); st.Role != RoleLeader {
		t.Fatalf("2, 3 and 4 are a majority of voters 1-4: %+v", st)
	}
	// It re-proposes the change and commits it under the old
	// configuration: the learner's acknowledgement does not count.
	syncAll(t, e, st)
	for _, id := range []NodeID{5, 3} {
		step(t, e, Message{Type: MsgAccepted, From: id, To: 2, Ballot: e.ballot, Slot: 1})
	}
	if c := e.Status().Commit; c != 0 {
		t.Fatalf("committed slot %d with 2, 3 and the learner 5", c)
	}
	step(t, e, Message{Type: MsgAccepted, From: 4, To: 2, Ballot: e.ballot, Slot: 1})
	if st := e.Status(); st.Commit != 1 || !st.Membership.IsVoter(5) {
		t.Fatalf("after 4 accepted: %+v", st)
	}
}
