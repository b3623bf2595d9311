package engine

import (
	"errors"
	"testing"
)

func newTestEngine(t *testing.T, id NodeID, n int, st *memStorage) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ID = id
	for i := 1; i <= n; i++ {
		cfg.Peers = append(cfg.Peers, NodeID(i))
	}
	cfg.MaxInflight = 2
	if st == nil {
		st = newMemStorage()
	}
	e, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// elect makes node 1 of a 3-node group leader with the promises given by
// hand, and returns it with its durable storage.
func elect(t *testing.T) (*Engine, *memStorage) {
	st := newMemStorage()
	e := newTestEngine(t, 1, 3, st)
	e.Campaign()
	syncAll(t, e, st)
	if err := e.Step(Message{Type: MsgPromise, From: 2, To: 1, Ballot: e.ballot, Slot: 1}); err != nil {
		t.Fatal(err)
	}
	if e.Status().Role != RoleLeader {
		t.Fatalf("not leader: %+v", e.Status())
	}
	syncAll(t, e, st)
	return e, st
}

func syncAll(t *testing.T, e *Engine, st *memStorage) []Ready {
	var out []Ready
	for e.HasReady() {
		rd := e.Ready()
		if err := st.persist(&rd); err != nil {
			t.Fatal(err)
		}
		e.Advance(rd)
		out = append(out, rd)
	}
	return out
}

func TestStepRejectsForeignMessages(t *testing.T) {
	e := newTestEngine(t, 1, 3, nil)
	for _, m := range []Message{
		{Type: MsgPrepare, Group: 9, From: 2, To: 1, Ballot: MakeBallot(1, 2)},
		{Type: MsgPrepare, From: 2, To: 3, Ballot: MakeBallot(1, 2)},
		// A non-member may lead or campaign in a configuration this node
		// has not learnt yet (membership.go's addStranger), but it
		// cannot have acknowledged anything of ours.
		{Type: MsgAccepted, From: 4, To: 1, Ballot: MakeBallot(1, 4)},
		{Type: MsgPromise, From: 4, To: 1, Ballot: MakeBallot(1, 4)},
		{Type: 99, From: 2, To: 1},
	} {
		if err := e.Step(m); !errors.Is(err, ErrBadMessage) {
			t.Errorf("Step(%+v) = %v, want ErrBadMessage", m, err)
		}
	}
}

func TestProposeOnFollowerNamesLeader(t *testing.T) {
	e := newTestEngine(t, 2, 3, nil)
	err := e.Propose([]byte("x"))
	var nle *NotLeaderError
	if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nle) || nle.Leader != 0 {
		t.Fatalf("Propose on a fresh follower = %v", err)
	}
	if err := e.Step(Message{Type: MsgCommit, From: 1, To: 2, Ballot: MakeBallot(1, 1), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	err = e.Propose([]byte("x"))
	if !errors.As(err, &nle) || nle.Leader != 1 {
		t.Fatalf("Propose after a heartbeat from 1 = %v, want leader 1", err)
	}
	if e.CanPropose() {
		t.Fatal("a follower says it can propose")
	}
}

func TestPipelineWindow(t *testing.T) {
	e, st := elect(t)
	for i := 0; i < 2; i++ {
		if !e.CanPropose() {
			t.Fatalf("window full after %d proposals", i)
		}
		if err := e.Propose([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if e.CanPropose() || !errors.Is(e.Propose([]byte("z")), ErrPipelineFull) {
		t.Fatal("a MaxInflight=2 window accepted a third slot")
	}
	syncAll(t, e, st)
	if err := e.Step(Message{Type: MsgAccepted, From: 3, To: 1, Ballot: e.ballot, Slot: 1}); err != nil {
		t.Fatal(err)
	}
	if st := e.Status(); st.Commit != 1 || !e.CanPropose() {
		t.Fatalf("after an ack of slot 1: %+v", st)
	}
}

// The leader counts its own vote only once Advance says its write is
// durable, even when Ready was called again meanwhile.
func TestLeaderCountsItselfOnlyWhenDurable(t *testing.T) {
	e, st := elect(t)
	if err := e.Propose([]byte("a")); err != nil {
		t.Fatal(err)
	}
	r1 := e.Ready()
	r2 := e.Ready() // a second Ready before the first is durable
	if got := e.Status().Match[0].Match; got != 0 {
		t.Fatalf("leader counts itself at %d before Advance", got)
	}
	// One follower's ack is not a majority without the leader's own copy.
	if err := e.Step(Message{Type: MsgAccepted, From: 2, To: 1, Ballot: e.ballot, Slot: 1}); err != nil {
		t.Fatal(err)
	}
	if c := e.Status().Commit; c != 0 {
		t.Fatalf("committed slot %d before the leader's own write is durable", c)
	}
	if err := st.persist(&r1); err != nil {
		t.Fatal(err)
	}
	e.Advance(r1)
	if s := e.Status(); s.Match[0].Match != 1 || s.Commit != 1 {
		t.Fatalf("after the leader's write is durable: %+v", s)
	}
	e.Advance(r2)
}

func TestAdvanceWithoutReadyPanics(t *testing.T) {
	e := newTestEngine(t, 1, 3, nil)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	e.Advance(Ready{})
}

func TestCompactBeyondAppliedFails(t *testing.T) {
	e, _ := elect(t)
	if err := e.Compact(5); err == nil {
		t.Fatal("Compact beyond the applied slot succeeded")
	}
}

// Leader stickiness: a follower that heard its leader recently ignores a
// higher prepare from another node; after an election timeout it promises.
func TestStickiness(t *testing.T) {
	e := newTestEngine(t, 2, 3, nil)
	if err := e.Step(Message{Type: MsgCommit, From: 1, To: 2, Ballot: MakeBallot(1, 1), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	e.Ready()
	prep := Message{Type: MsgPrepare, From: 3, To: 2, Ballot: MakeBallot(5, 3), Slot: 1}
	if err := e.Step(prep); err != nil {
		t.Fatal(err)
	}
	if rd := e.Ready(); len(rd.AfterSync)+len(rd.Messages) != 0 || e.Status().Promised != MakeBallot(1, 1) {
		t.Fatalf("sticky follower answered a prepare: %+v", rd)
	}
	for range 10 {
		e.Tick()
	}
	if err := e.Step(prep); err != nil {
		t.Fatal(err)
	}
	rd := e.Ready()
	if len(rd.AfterSync) != 1 || rd.AfterSync[0].Type != MsgPromise || rd.HardState.Promised != prep.Ballot {
		t.Fatalf("after the timeout: %+v", rd)
	}
}

// Check quorum: a leader that hears no majority for ElectionTicks steps
// down and refuses proposals.
func TestLeaderStepsDownWithoutMajority(t *testing.T) {
	e, _ := elect(t)
	for range 10 {
		e.Tick()
	}
	if e.Status().Role == RoleLeader {
		t.Fatal("leader kept its role without hearing a majority")
	}
	if !errors.Is(e.Propose([]byte("x")), ErrNotLeader) {
		t.Fatal("deposed leader accepted a proposal")
	}
}

func TestNewRejectsMissingCommittedEntry(t *testing.T) {
	st := newMemStorage()
	if err := st.Save(&Ready{
		SaveHardState: true,
		HardState:     HardState{Promised: MakeBallot(1, 1), Commit: 2},
		Entries:       []Entry{{Slot: 1, Ballot: MakeBallot(1, 1), Type: EntryNoop}},
	}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.ID, cfg.Peers = 1, []NodeID{1, 2, 3}
	if _, err := New(cfg, st); !errors.Is(err, ErrStorage) {
		t.Fatalf("New with slot 2 missing below commit 2 = %v, want ErrStorage", err)
	}
}

// Restart replays Committed from the snapshot through the durable commit.
func TestRestartReplaysCommitted(t *testing.T) {
	st := newMemStorage()
	b := MakeBallot(1, 1)
	saved := Ready{SaveHardState: true, HardState: HardState{Promised: b, Commit: 4}, Snapshot: &Snapshot{Slot: 2, Data: []byte("s")}}
	for s := Slot(3); s <= 5; s++ {
		saved.Entries = append(saved.Entries, Entry{Slot: s, Ballot: b, Type: EntryBatch, Data: []byte{byte(s)}})
	}
	if err := st.Save(&saved); err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, 2, 3, st)
	rd := e.Ready()
	if len(rd.Committed) != 2 || rd.Committed[0].Slot != 3 || rd.Committed[1].Slot != 4 {
		t.Fatalf("Committed after restart = %+v, want slots 3 and 4", rd.Committed)
	}
	if s := e.Status(); s.LastSlot != 5 || s.Promised != b {
		t.Fatalf("status after restart %+v", s)
	}
}
