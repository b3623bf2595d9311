package engine

import "testing"

// Properties of the acceptor's handlers that no correct peer's traffic
// exercises, so the simulator cannot show them: each names what a
// follower must do with a message a peer (a buggy or stale one) could
// send.

// An acceptor that promised a higher ballot answers a lower prepare with a
// Nack carrying its promise: without it the candidate never learns how
// high it must bid, and campaigns in vain until it hears of a higher
// ballot some other way.
func TestPrepareBelowPromiseIsNacked(t *testing.T) {
	st := newMemStorage()
	e := newTestEngine(t, 2, 3, st)
	high, low := MakeBallot(5, 3), MakeBallot(2, 1)
	if err := e.Step(Message{Type: MsgPrepare, From: 3, To: 2, Ballot: high, Slot: 1}); err != nil {
		t.Fatal(err)
	}
	syncAll(t, e, st)
	if err := e.Step(Message{Type: MsgPrepare, From: 1, To: 2, Ballot: low, Slot: 1}); err != nil {
		t.Fatal(err)
	}
	var nacks []Message
	for _, rd := range syncAll(t, e, st) {
		for _, m := range append(rd.Messages, rd.AfterSync...) {
			if m.Type == MsgNack {
				nacks = append(nacks, m)
			}
		}
	}
	if len(nacks) != 1 || nacks[0].To != 1 || nacks[0].Ballot != high {
		t.Fatalf("a prepare of %v after promising %v: nacks %+v, want one to node 1 carrying %v", low, high, nacks, high)
	}
}

// A catch-up reply commits only what continues the follower's committed
// prefix and lies at or below the commit index the reply carries: a reply
// that starts above the next slot (a reply to a request of an earlier
// incarnation, whose commit index was not durable) or runs past its commit
// index must not make the follower skip or invent chosen slots.
func TestCatchupReplyCommitsOnlyAContiguousChosenPrefix(t *testing.T) {
	b := MakeBallot(1, 1)
	en := func(s Slot) Entry { return Entry{Slot: s, Ballot: b, Type: EntryBatch, Data: []byte{byte(s)}} }
	for _, tc := range []struct {
		name    string
		commit  Slot
		entries []Entry
		want    Slot
	}{
		{"starts above the next slot", 10, []Entry{en(3), en(4)}, 0},
		{"a gap inside", 10, []Entry{en(1), en(2), en(4)}, 2},
		{"runs past its commit index", 2, []Entry{en(1), en(2), en(3), en(4)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStorage()
			e := newTestEngine(t, 2, 3, st)
			// A follower of ballot b that holds nothing yet (its promise
			// for b is durable).
			if err := e.Step(Message{Type: MsgCommit, From: 1, To: 2, Ballot: b, Slot: 100, Commit: 0}); err != nil {
				t.Fatal(err)
			}
			syncAll(t, e, st)
			if err := e.Step(Message{Type: MsgCommit, From: 1, To: 2, Ballot: b, Slot: 100, Commit: tc.commit, Entries: tc.entries}); err != nil {
				t.Fatal(err)
			}
			if got := e.Status().Commit; got != tc.want {
				t.Fatalf("commit %d after the reply, want %d", got, tc.want)
			}
			syncAll(t, e, st) // every committed slot must be in the log
		})
	}
}
