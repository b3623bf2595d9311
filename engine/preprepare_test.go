package engine

import "testing"

func TestPrePrepareIsOnByDefault(t *testing.T) {
	if !DefaultConfig().PrePrepare {
		t.Fatal("DefaultConfig().PrePrepare is false")
	}
}

// tickUntilMessages ticks e until its Ready has messages (its election
// timeout passed), at most 2*ElectionTicks times.
func tickUntilMessages(t *testing.T, e *Engine, st *memStorage) Ready {
	t.Helper()
	for range 2 * e.cfg.ElectionTicks {
		e.Tick()
		if e.HasReady() {
			rds := syncAll(t, e, st)
			if len(rds) != 1 {
				t.Fatalf("%d readies", len(rds))
			}
			return rds[0]
		}
	}
	t.Fatal("no election timeout within 2*ElectionTicks")
	return Ready{}
}

// The asker changes nothing durable, and nothing it would bid on next: a
// node that asks in vain again and again asks for the same ballot.
func TestPrePrepareAskerChangesNothing(t *testing.T) {
	st := newMemStorage()
	e := newTestEngine(t, 3, 3, st)
	for i := range 5 {
		rd := tickUntilMessages(t, e, st)
		if rd.SaveHardState || len(rd.Entries) > 0 || len(rd.AfterSync) > 0 {
			t.Fatalf("attempt %d: asking persists something: %+v", i, rd)
		}
		if len(rd.Messages) != 2 {
			t.Fatalf("attempt %d: %d messages, want a PrePrepare to each peer", i, len(rd.Messages))
		}
		for _, m := range rd.Messages {
			if m.Type != MsgPrePrepare || m.Ballot != MakeBallot(1, 3) {
				t.Fatalf("attempt %d: sent %+v, want PrePrepare of 1.3", i, m)
			}
		}
		if st := e.Status(); st.Role != RoleFollower || st.Promised != 0 {
			t.Fatalf("attempt %d: %+v", i, st)
		}
	}
}

// The answerer changes nothing either: after saying yes to 5.2 it still
// bids from its own highest ballot seen, and persists nothing.
func TestPrePrepareAnswerChangesNothing(t *testing.T) {
	st := newMemStorage()
	e := newTestEngine(t, 3, 3, st)
	if err := e.Step(Message{Type: MsgPrePrepare, From: 2, To: 3, Ballot: MakeBallot(5, 2), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	rds := syncAll(t, e, st)
	if len(rds) != 1 || rds[0].SaveHardState || len(rds[0].Messages) != 1 {
		t.Fatalf("answer: %+v", rds)
	}
	if m := rds[0].Messages[0]; m.Type != MsgPrePromise || m.Reject || m.Ballot != MakeBallot(5, 2) || m.To != 2 {
		t.Fatalf("answer %+v, want a yes to 5.2", m)
	}
	rd := tickUntilMessages(t, e, st)
	if m := rd.Messages[0]; m.Ballot != MakeBallot(1, 3) {
		t.Fatalf("after answering 5.2, node 3 asks for %v, want 1.3: the answer raised its ballot", m.Ballot)
	}
}

// A yes from a majority starts phase 1 above everything seen; refusals and
// stale or duplicate yeses do not.
func TestPrePromiseCounting(t *testing.T) {
	st := newMemStorage()
	e := newTestEngine(t, 1, 5, st)
	tickUntilMessages(t, e, st)
	asked := MakeBallot(1, 1)
	steps := []struct {
		m         Message
		candidate bool
	}{
		{Message{Type: MsgPrePromise, From: 2, Ballot: MakeBallot(3, 4), Reject: true}, false},
		{Message{Type: MsgPrePromise, From: 3, Ballot: MakeBallot(9, 9)}, false}, // a yes to another ballot
		{Message{Type: MsgPrePromise, From: 4, Ballot: asked}, false},
		{Message{Type: MsgPrePromise, From: 4, Ballot: asked}, false}, // duplicate
		{Message{Type: MsgPrePromise, From: 5, Ballot: asked}, true},  // 1, 4, 5: a majority of 5
	}
	for i, s := range steps {
		s.m.To = 1
		if err := e.Step(s.m); err != nil {
			t.Fatal(err)
		}
		if got := e.Status().Role == RoleCandidate; got != s.candidate {
			t.Fatalf("step %d (%+v): candidate %v, want %v", i, s.m, got, s.candidate)
		}
	}
	// The refusal carried 3.4: phase 1 bids above it.
	if b := e.Status().Ballot; b != MakeBallot(4, 1) {
		t.Fatalf("phase 1 with %v, want 4.1", b)
	}
}

// Stickiness: a follower that heard its leader within the election
// timeout, and a leader that hears a majority, say no to a higher ballot;
// the follower says yes once the timeout has passed without the leader.
func TestPrePrepareStickiness(t *testing.T) {
	leader, _ := elect(t)
	ask := Message{Type: MsgPrePrepare, From: 3, To: 1, Ballot: MakeBallot(7, 3), Slot: 1}
	if err := leader.Step(ask); err != nil {
		t.Fatal(err)
	}
	rd := leader.Ready()
	if len(rd.Messages) != 1 || !rd.Messages[0].Reject || rd.Messages[0].Ballot != leader.Status().Ballot {
		t.Fatalf("live leader answered %+v, want a no carrying its ballot", rd.Messages)
	}
	leader.Advance(rd)

	st := newMemStorage()
	f := newTestEngine(t, 2, 3, st)
	if err := f.Step(Message{Type: MsgCommit, From: 1, To: 2, Ballot: MakeBallot(1, 1), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	syncAll(t, f, st)
	ask.To = 2
	for i := range f.cfg.ElectionTicks + 1 {
		if err := f.Step(ask); err != nil {
			t.Fatal(err)
		}
		var answer *Message
		for _, rd := range syncAll(t, f, st) {
			for _, m := range rd.Messages {
				if m.Type == MsgPrePromise {
					answer = &m
				}
			}
		}
		if answer == nil {
			t.Fatalf("tick %d: no answer", i)
		}
		if want := i >= f.cfg.ElectionTicks; answer.Reject == want {
			t.Fatalf("%d ticks after hearing the leader: answer %+v, want yes %v", i, *answer, want)
		}
		f.Tick()
	}
}
