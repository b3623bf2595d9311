package engine

import "testing"

// A follower that misses chosen slots asks for them one MsgCatchup at a
// time. Every reply here arrives twice (the network duplicates it): the
// duplicate advances nothing, so it must not count as the answer that
// allows the next request. If it did, requests in flight would double every
// round trip while the follower still gained one reply's worth of slots.
func TestCatchupDuplicatedRepliesKeepOneRequestInFlight(t *testing.T) {
	st := newMemStorage()
	f := newTestEngine(t, 2, 3, st)
	b := MakeBallot(1, 1)
	const commit = 40
	chosen := func(s Slot) Entry { return Entry{Slot: s, Ballot: b, Type: EntryBatch, Data: []byte{byte(s)}} }

	requests := func() []Message {
		var out []Message
		for _, rd := range syncAll(t, f, st) {
			for _, m := range append(rd.Messages, rd.AfterSync...) {
				if m.Type == MsgCatchup {
					out = append(out, m)
				}
			}
		}
		return out
	}
	step := func(m Message) {
		t.Helper()
		if err := f.Step(m); err != nil {
			t.Fatal(err)
		}
	}
	step(Message{Type: MsgCommit, From: 1, To: 2, Ballot: b, Slot: 1, Commit: commit})
	inFlight := requests()
	for round := 0; f.Status().Commit < commit; round++ {
		if len(inFlight) > 1 {
			t.Fatalf("round trip %d: %d catch-up requests in flight, want at most 1", round, len(inFlight))
		}
		if len(inFlight) == 0 {
			t.Fatalf("round trip %d: commit %d of %d and no catch-up request in flight", round, f.Status().Commit, commit)
		}
		if round > 2*commit {
			t.Fatalf("no convergence after %d round trips: commit %d of %d", round, f.Status().Commit, commit)
		}
		// The leader answers each request with one slot (a small
		// MaxMsgBytes), and the network delivers every answer twice.
		var replies []Message
		for _, q := range inFlight {
			replies = append(replies, Message{Type: MsgCommit, From: 1, To: 2, Ballot: b, Slot: 1, Commit: commit, Entries: []Entry{chosen(q.Slot)}})
		}
		for _, r := range replies {
			step(r)
			step(r)
		}
		inFlight = requests()
	}
}

// The same for a snapshot reply: the duplicate of a snapshot already
// installed is no answer, so it must not let another request out.
func TestCatchupDuplicatedSnapshotKeepsOneRequestInFlight(t *testing.T) {
	st := newMemStorage()
	f := newTestEngine(t, 2, 3, st)
	b := MakeBallot(1, 1)
	step := func(m Message) []Message {
		t.Helper()
		if err := f.Step(m); err != nil {
			t.Fatal(err)
		}
		var reqs []Message
		for _, rd := range syncAll(t, f, st) {
			for _, m := range rd.Messages {
				if m.Type == MsgCatchup {
					reqs = append(reqs, m)
				}
			}
		}
		return reqs
	}
	if reqs := step(Message{Type: MsgCommit, From: 1, To: 2, Ballot: b, Slot: 1, Commit: 40}); len(reqs) != 1 {
		t.Fatalf("a heartbeat 40 slots ahead: %d catch-up requests, want 1", len(reqs))
	}
	snap := Message{Type: MsgSnapshot, From: 1, To: 2, Ballot: b, Slot: 1, Commit: 40, Snapshot: &Snapshot{Slot: 30, Data: []byte("s")}}
	if reqs := step(snap); len(reqs) != 1 || reqs[0].Slot != 31 {
		t.Fatalf("after the snapshot through 30: requests %+v, want one from slot 31", reqs)
	}
	if reqs := step(snap); len(reqs) != 0 {
		t.Fatalf("after the same snapshot again: %d more requests, want none while one is in flight", len(reqs))
	}
}
