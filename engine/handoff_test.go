package engine

import (
	"errors"
	"reflect"
	"testing"
)

// msgsOf returns the messages of type typ in rds (Messages and AfterSync).
func msgsOf(rds []Ready, typ MessageType) []Message {
	var out []Message
	for _, rd := range rds {
		for _, m := range append(append([]Message{}, rd.Messages...), rd.AfterSync...) {
			if m.Type == typ {
				out = append(out, m)
			}
		}
	}
	return out
}

func step(t *testing.T, e *Engine, m Message) {
	t.Helper()
	if err := e.Step(m); err != nil {
		t.Fatal(err)
	}
}

// follow makes e (node id of 3) follow node 1 under ballot b: it heard an
// Accept of slot 1 and made it durable.
func follow(t *testing.T, id NodeID, b Ballot) (*Engine, *memStorage) {
	st := newMemStorage()
	e := newTestEngine(t, id, 3, st)
	step(t, e, Message{Type: MsgAccept, From: 1, To: id, Ballot: b, Slot: 1, Commit: 0,
		Entries: []Entry{{Slot: 1, Ballot: b, Type: EntryBatch, Data: []byte("a")}}})
	syncAll(t, e, st)
	return e, st
}

func TestTransferLeadershipRefusals(t *testing.T) {
	f := newTestEngine(t, 2, 3, nil)
	var nle *NotLeaderError
	if err := f.TransferLeadership(3); !errors.As(err, &nle) || nle.Leader != 0 {
		t.Fatalf("on a follower: %v, want a *NotLeaderError", err)
	}
	e, _ := elect(t)
	for _, tc := range []struct {
		to   NodeID
		want error
	}{{1, ErrTransferToSelf}, {4, ErrUnknownNode}, {0, ErrUnknownNode}} {
		if err := e.TransferLeadership(tc.to); !errors.Is(err, tc.want) {
			t.Errorf("TransferLeadership(%d) = %v, want %v", tc.to, err, tc.want)
		}
		if got := e.Status().HandoffTo; got != 0 {
			t.Fatalf("a refused hand-off to %d left HandoffTo %d", tc.to, got)
		}
	}
	if err := e.TransferLeadership(2); err != nil {
		t.Fatal(err)
	}
	if err := e.TransferLeadership(3); !errors.Is(err, ErrTransferInProgress) {
		t.Fatalf("a second hand-off: %v, want ErrTransferInProgress", err)
	}
	if got := e.Status().HandoffTo; got != 2 {
		t.Fatalf("HandoffTo %d, want 2", got)
	}
}

// While a hand-off runs the leader proposes nothing (its last slot must
// hold still for the target to reach it), and Propose names the target.
func TestProposeDuringHandoffNamesTarget(t *testing.T) {
	e, _ := elect(t)
	if err := e.TransferLeadership(3); err != nil {
		t.Fatal(err)
	}
	var nle *NotLeaderError
	if err := e.Propose([]byte("x")); !errors.As(err, &nle) || nle.Leader != 3 {
		t.Fatalf("Propose during a hand-off to 3: %v", err)
	}
	if e.CanPropose() {
		t.Fatal("CanPropose during a hand-off")
	}
	if st := e.Status(); st.LastSlot != 0 {
		t.Fatalf("a refused proposal reached the log: %+v", st)
	}
}

// MsgHandoff goes out only once the target acknowledged the leader's last
// slot, with the lease dropped first (dropLease is readseng's).
func TestHandoffWaitsForTargetToCatchUp(t *testing.T) {
	e, st := elect(t)
	for _, d := range []string{"a", "b"} {
		if err := e.Propose([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	syncAll(t, e, st)
	if err := e.TransferLeadership(2); err != nil {
		t.Fatal(err)
	}
	b := e.Status().Ballot
	step(t, e, Message{Type: MsgAccepted, From: 2, To: 1, Ballot: b, Slot: 1})
	step(t, e, Message{Type: MsgAccepted, From: 3, To: 1, Ballot: b, Slot: 2})
	if got := msgsOf(syncAll(t, e, st), MsgHandoff); len(got) != 0 {
		t.Fatalf("MsgHandoff sent before the target acknowledged slot 2: %+v", got)
	}
	step(t, e, Message{Type: MsgAccepted, From: 2, To: 1, Ballot: b, Slot: 2})
	got := msgsOf(syncAll(t, e, st), MsgHandoff)
	want := []Message{{Type: MsgHandoff, From: 1, To: 2, Ballot: b, Slot: 1, Commit: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after the target caught up: %+v, want %+v", got, want)
	}
	// Told to campaign, the target may be running phase 1: a slot the
	// old leader proposed now would likely be replaced by a no-op.
	var nle *NotLeaderError
	if err := e.Propose([]byte("c")); !errors.As(err, &nle) || nle.Leader != 2 {
		t.Fatalf("Propose after MsgHandoff: %v, want a *NotLeaderError naming 2", err)
	}
}

// A hand-off whose target never caught up is given up after ElectionTicks:
// the leader proposes again under its ballot, as no hand-off Prepare can
// exist.
func TestHandoffAbortsBeforeTargetCaughtUp(t *testing.T) {
	e, st := elect(t)
	b := e.Status().Ballot
	if err := e.Propose([]byte("a")); err != nil {
		t.Fatal(err)
	}
	syncAll(t, e, st)
	if err := e.TransferLeadership(2); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= e.cfg.ElectionTicks; i++ {
		if e.CanPropose() {
			t.Fatalf("tick %d: proposing again before ElectionTicks (%d)", i, e.cfg.ElectionTicks)
		}
		step(t, e, Message{Type: MsgAccepted, From: 3, To: 1, Ballot: b, Slot: 1})
		e.Tick()
		if rds := syncAll(t, e, st); len(msgsOf(rds, MsgHandoff)) != 0 || len(msgsOf(rds, MsgPrepare)) != 0 {
			t.Fatalf("tick %d: %+v %+v, want no MsgHandoff and no Prepare", i, msgsOf(rds, MsgHandoff), msgsOf(rds, MsgPrepare))
		}
	}
	if st := e.Status(); st.Role != RoleLeader || st.Ballot != b || st.HandoffTo != 0 {
		t.Fatalf("after ElectionTicks: %+v, want the leader of %v with no hand-off", st, b)
	}
	if err := e.Propose([]byte("x")); err != nil {
		t.Fatalf("Propose after the hand-off was given up: %v", err)
	}
}

// A hand-off that told its target to campaign and did not complete within
// ElectionTicks is given up by running phase 1 again under a new ballot,
// so that a late Prepare of the target (naming the old ballot) lifts no
// one's stickiness any more.
func TestHandoffAbortsAfterElectionTicks(t *testing.T) {
	e, st := elect(t)
	b := e.Status().Ballot
	if err := e.TransferLeadership(2); err != nil {
		t.Fatal(err)
	}
	// Node 2 acknowledged all of the (empty) log: it is told at once,
	// and again every heartbeat (a tick) until the leader gives up.
	if msgs := msgsOf(syncAll(t, e, st), MsgHandoff); len(msgs) != 1 || msgs[0].To != 2 {
		t.Fatalf("MsgHandoffs %+v, want one to node 2", msgs)
	}
	for i := 1; i <= e.cfg.ElectionTicks; i++ {
		if e.CanPropose() {
			t.Fatalf("tick %d: proposing again before ElectionTicks (%d)", i, e.cfg.ElectionTicks)
		}
		// Node 3 keeps answering: the leader keeps its majority.
		step(t, e, Message{Type: MsgAccepted, From: 3, To: 1, Ballot: b, Slot: 0})
		e.Tick()
		want := 1
		if i == e.cfg.ElectionTicks {
			want = 0
		}
		if msgs := msgsOf(syncAll(t, e, st), MsgHandoff); len(msgs) != want {
			t.Fatalf("tick %d: MsgHandoffs %+v, want %d", i, msgs, want)
		}
	}
	s := e.Status()
	if s.Role != RoleCandidate || s.Ballot <= b || s.HandoffTo != 0 {
		t.Fatalf("after ElectionTicks: %+v, want a candidate above %v with no hand-off", s, b)
	}
	step(t, e, Message{Type: MsgPromise, From: 3, To: 1, Ballot: s.Ballot, Slot: 1})
	syncAll(t, e, st)
	if s := e.Status(); s.Role != RoleLeader {
		t.Fatalf("after a majority promised: %+v", s)
	}
	if err := e.Propose([]byte("x")); err != nil {
		t.Fatalf("Propose after the hand-off was given up: %v", err)
	}
}

// The target runs a full phase 1 with a ballot above the old leader's, its
// Prepares flagged Handoff; it acts only on a MsgHandoff of the leader it
// follows under the ballot it promised.
func TestHandoffTargetRunsPhase1(t *testing.T) {
	b := MakeBallot(3, 1)
	for _, tc := range []struct {
		name string
		m    Message
		runs bool
	}{
		{"from its leader", Message{Type: MsgHandoff, From: 1, To: 2, Ballot: b, Slot: 1}, true},
		{"of an older ballot", Message{Type: MsgHandoff, From: 1, To: 2, Ballot: MakeBallot(2, 1), Slot: 1}, false},
		{"of a higher ballot", Message{Type: MsgHandoff, From: 1, To: 2, Ballot: MakeBallot(4, 1), Slot: 1}, false},
		{"from another node", Message{Type: MsgHandoff, From: 3, To: 2, Ballot: b, Slot: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, st := follow(t, 2, b)
			step(t, e, tc.m)
			preps := msgsOf(syncAll(t, e, st), MsgPrepare)
			if !tc.runs {
				if len(preps) != 0 || e.Status().Role != RoleFollower {
					t.Fatalf("acted on it: %+v, prepares %+v", e.Status(), preps)
				}
				return
			}
			if len(preps) != 2 {
				t.Fatalf("prepares %+v, want one to each peer", preps)
			}
			for _, p := range preps {
				if p.Handoff != b || p.Ballot <= b || p.Ballot.Node() != 2 || p.Slot != 1 {
					t.Fatalf("prepare %+v, want Handoff %v, a ballot of node 2 above it, slot 1", p, b)
				}
			}
			if s := e.Status(); s.Role != RoleCandidate {
				t.Fatalf("after MsgHandoff: %+v, want a candidate", s)
			}
			// Its own durable promise is not a majority: no leader yet.
			step(t, e, Message{Type: MsgHandoff, From: 1, To: 2, Ballot: b, Slot: 1})
			if s := e.Status(); s.Role != RoleCandidate || s.Ballot != preps[0].Ballot {
				t.Fatalf("a repeated MsgHandoff changed the candidate: %+v", s)
			}
		})
	}
}

// A follower that hears its leader ignores another node's Prepare
// (stickiness), and a hand-off Prepare of another ballot than the one it
// promised (a late one of an earlier hand-off), but promises a hand-off
// Prepare of its leader's ballot; one below its promise is refused like
// any other.
func TestHandoffPrepareLiftsStickinessOnly(t *testing.T) {
	b := MakeBallot(3, 1)
	e, st := follow(t, 3, b)
	for _, h := range []Ballot{0, MakeBallot(2, 1)} {
		step(t, e, Message{Type: MsgPrepare, From: 2, To: 3, Ballot: MakeBallot(4, 2), Slot: 1, Handoff: h})
		if rds := syncAll(t, e, st); len(msgsOf(rds, MsgPromise)) != 0 || e.Status().Promised != b {
			t.Fatalf("a sticky follower promised a Prepare with Handoff %v: %+v", h, e.Status())
		}
	}
	step(t, e, Message{Type: MsgPrepare, From: 2, To: 3, Ballot: MakeBallot(4, 2), Slot: 1, Handoff: b})
	proms := msgsOf(syncAll(t, e, st), MsgPromise)
	if len(proms) != 1 || proms[0].Ballot != MakeBallot(4, 2) || len(proms[0].Entries) != 1 || durablePromised(st) != MakeBallot(4, 2) {
		t.Fatalf("promises %+v (durable promise %v), want one of 4.2 reporting slot 1", proms, durablePromised(st))
	}
	step(t, e, Message{Type: MsgPrepare, From: 1, To: 3, Ballot: MakeBallot(3, 1), Slot: 1, Handoff: MakeBallot(2, 1)})
	rds := syncAll(t, e, st)
	if len(msgsOf(rds, MsgPromise)) != 0 || len(msgsOf(rds, MsgNack)) != 1 || e.Status().Promised != MakeBallot(4, 2) {
		t.Fatalf("a Handoff Prepare below the promise: %+v, promised %v; want a Nack and the promise kept", rds, e.Status().Promised)
	}
}

// The leader promises its hand-off target's Prepare and steps down, but
// not a hand-off Prepare of another node or naming another ballot, nor
// one when it hands off to no one.
func TestLeaderPromisesOnlyItsTarget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handoff  NodeID // TransferLeadership target, 0 for none
		from     NodeID
		older    bool // the Prepare names an older ballot
		promises bool
	}{
		{"its target", 2, 2, false, true},
		{"its target, another ballot", 2, 2, true, false},
		{"another node", 2, 3, false, false},
		{"no hand-off", 0, 2, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, st := elect(t)
			b := e.Status().Ballot
			if tc.handoff != 0 {
				if err := e.TransferLeadership(tc.handoff); err != nil {
					t.Fatal(err)
				}
			}
			hb, from := MakeBallot(b.Round()+1, tc.from), b
			if tc.older {
				from = MakeBallot(b.Round()-1, 1)
			}
			step(t, e, Message{Type: MsgPrepare, From: tc.from, To: 1, Ballot: hb, Slot: 1, Handoff: from})
			proms := msgsOf(syncAll(t, e, st), MsgPromise)
			s := e.Status()
			if tc.promises != (len(proms) == 1) || tc.promises != (s.Role == RoleFollower) {
				t.Fatalf("promises %+v, status %+v; want promised: %v", proms, s, tc.promises)
			}
		})
	}
}

// Once it told the target to campaign, an old leader that hears of a
// higher ballot follows instead of re-running phase 1 (which would undo
// the hand-off); without a hand-off it re-runs phase 1 as before.
func TestOldLeaderDoesNotOutbidItsTarget(t *testing.T) {
	for _, handoff := range []bool{true, false} {
		e, st := elect(t)
		b := e.Status().Ballot
		if handoff {
			if err := e.TransferLeadership(2); err != nil {
				t.Fatal(err)
			}
			if len(msgsOf(syncAll(t, e, st), MsgHandoff)) != 1 {
				t.Fatal("no MsgHandoff to a caught-up target")
			}
		}
		step(t, e, Message{Type: MsgNack, From: 2, To: 1, Ballot: MakeBallot(b.Round()+1, 2)})
		rds := syncAll(t, e, st)
		s := e.Status()
		if handoff && (s.Role != RoleFollower || len(msgsOf(rds, MsgPrepare)) != 0) {
			t.Fatalf("nacked by its target's ballot: %+v, prepares %+v; want a follower that campaigns not", s, msgsOf(rds, MsgPrepare))
		}
		if !handoff && s.Role != RoleCandidate {
			t.Fatalf("nacked without a hand-off: %+v, want a candidate re-running phase 1", s)
		}
	}
}

func TestHandoffFlagCodec(t *testing.T) {
	m := Message{Type: MsgPrepare, Group: 2, From: 3, Ballot: MakeBallot(9, 3), Slot: 42, Handoff: MakeBallot(8, 1)}
	var got Message
	enc := m.MarshalAppend(nil)
	if err := got.Unmarshal(enc); err != nil || !reflect.DeepEqual(got, m) || len(enc) != m.Size() {
		t.Fatalf("round trip: %+v, %v (%d bytes, Size %d); want %+v", got, err, len(enc), m.Size(), m)
	}
	if err := got.Unmarshal(enc[:len(enc)-1]); !errors.Is(err, ErrCorruptMessage) {
		t.Errorf("truncated hand-off ballot: %v, want ErrCorruptMessage", err)
	}
	zero := append(append([]byte{}, enc[:len(enc)-handoffSize]...), make([]byte, handoffSize)...)
	if err := got.Unmarshal(zero); !errors.Is(err, ErrCorruptMessage) {
		t.Errorf("hand-off flag with ballot 0: %v, want ErrCorruptMessage", err)
	}
	h := Message{Type: MsgHandoff, From: 1, Ballot: MakeBallot(9, 1), Slot: 3, Commit: 7}
	if err := got.Unmarshal(h.MarshalAppend(nil)); err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, h)
	}
	for _, typ := range []MessageType{MsgPromise, MsgAccept, MsgHandoff, MsgPrePrepare} {
		bad := Message{Type: typ, From: 1, Ballot: 1}
		// A well-formed hand-off ballot follows: only the type is wrong.
		b := append(bad.MarshalAppend(nil), 1, 0, 0, 0, 0, 0, 0, 0)
		b[1] |= flagHandoff
		if err := got.Unmarshal(b); !errors.Is(err, ErrCorruptMessage) {
			t.Errorf("hand-off flag on %v: %v, want ErrCorruptMessage", typ, err)
		}
	}
}

// durablePromised is the promise st holds.
func durablePromised(st *memStorage) Ballot {
	hs, _ := st.InitialState()
	return hs.Promised
}
