package engine

import (
	"errors"
	"testing"
)

// ack is peer from's acknowledgement of leader e's round under its ballot.
func ack(t *testing.T, e *Engine, from NodeID, round uint64) {
	t.Helper()
	if err := e.Step(Message{Type: MsgAccepted, From: from, To: e.id, Ballot: e.ballot, Slot: e.base - 1, Round: round}); err != nil {
		t.Fatal(err)
	}
}

// readsOf drains e's Readies (persisting them) and returns their Reads and
// the messages they send.
func readsOf(t *testing.T, e *Engine, st *memStorage) ([]ReadState, []Message) {
	t.Helper()
	var reads []ReadState
	var msgs []Message
	for _, rd := range syncAll(t, e, st) {
		reads = append(reads, rd.Reads...)
		msgs = append(msgs, rd.Messages...)
		msgs = append(msgs, rd.AfterSync...)
	}
	return reads, msgs
}

// roundsSent returns the highest Round of the leader messages in msgs, per
// recipient.
func roundsSent(msgs []Message) map[NodeID]uint64 {
	out := make(map[NodeID]uint64)
	for _, m := range msgs {
		if m.Type == MsgCommit || m.Type == MsgAccept {
			out[m.To] = max(out[m.To], m.Round)
		}
	}
	return out
}

// A read-index read is answered only after a majority acknowledged a round
// started after it arrived: an acknowledgement of an earlier round does
// not count, however late it comes.
func TestReadIndexWaitsForARoundAfterTheRead(t *testing.T) {
	e, st := elect(t)
	before := e.round
	if err := e.Read(7, ReadIndex); err != nil {
		t.Fatal(err)
	}
	reads, msgs := readsOf(t, e, st)
	if len(reads) != 0 {
		t.Fatalf("read answered before any acknowledgement: %+v", reads)
	}
	sent := roundsSent(msgs)
	r := sent[2]
	if r <= before || sent[3] != r {
		t.Fatalf("the read started no new round for every peer: rounds %v, before %d", sent, before)
	}
	ack(t, e, 2, before) // an answer to the round before the read
	if reads, _ := readsOf(t, e, st); len(reads) != 0 {
		t.Fatalf("answered on an acknowledgement of a round sent before the read: %+v", reads)
	}
	ack(t, e, 2, r)
	reads, _ = readsOf(t, e, st)
	if len(reads) != 1 || reads[0] != (ReadState{Ctx: 7, Index: e.commit}) {
		t.Fatalf("after a majority acknowledged round %d: %+v", r, reads)
	}
}

// Every read queued between two Readies shares one round; a read that
// arrives after that round started waits for the next one.
func TestReadIndexBatchesReadsPerRound(t *testing.T) {
	e, st := elect(t)
	for ctx := uint64(1); ctx <= 3; ctx++ {
		if err := e.Read(ctx, ReadIndex); err != nil {
			t.Fatal(err)
		}
	}
	_, msgs := readsOf(t, e, st)
	heartbeats := 0
	for _, m := range msgs {
		if m.Type == MsgCommit {
			heartbeats++
		}
	}
	if heartbeats != 2 {
		t.Fatalf("3 reads sent %d heartbeats, want one round (2 peers)", heartbeats)
	}
	r1 := roundsSent(msgs)[2]
	if err := e.Read(4, ReadIndex); err != nil {
		t.Fatal(err)
	}
	ack(t, e, 3, r1)
	reads, msgs := readsOf(t, e, st)
	if len(reads) != 3 || reads[0].Ctx != 1 || reads[2].Ctx != 3 {
		t.Fatalf("round %d acknowledged: %+v, want reads 1..3", r1, reads)
	}
	r2 := roundsSent(msgs)[3]
	if r2 <= r1 {
		t.Fatalf("read 4 started no round after %d: %v", r1, roundsSent(msgs))
	}
	ack(t, e, 3, r2)
	if reads, _ := readsOf(t, e, st); len(reads) != 1 || reads[0].Ctx != 4 {
		t.Fatalf("round %d acknowledged: %+v, want read 4", r2, reads)
	}
}

// electWithReproposal makes node 1 leader of 3 with a promise reporting an
// accepted value at slot 1, which it re-proposes under its ballot.
func electWithReproposal(t *testing.T) (*Engine, *memStorage) {
	st := newMemStorage()
	e := newTestEngine(t, 1, 3, st)
	e.Campaign()
	syncAll(t, e, st)
	old := Entry{Slot: 1, Ballot: MakeBallot(0, 2), Type: EntryBatch, Data: []byte("w")}
	if err := e.Step(Message{Type: MsgPromise, From: 2, To: 1, Ballot: e.ballot, Slot: 1, Entries: []Entry{old}}); err != nil {
		t.Fatal(err)
	}
	if e.Status().Role != RoleLeader {
		t.Fatalf("not leader: %+v", e.Status())
	}
	syncAll(t, e, st)
	return e, st
}

// A new leader answers no read before it has committed what it re-proposed
// at election: until then a value chosen under an earlier ballot may be
// missing from its commit index. The read's Index covers it.
func TestNewLeaderReadsWaitForItsOwnCommit(t *testing.T) {
	e, st := electWithReproposal(t)
	if err := e.Read(1, ReadIndex); err != nil {
		t.Fatal(err)
	}
	_, msgs := readsOf(t, e, st)
	ack(t, e, 2, roundsSent(msgs)[2])
	if reads, _ := readsOf(t, e, st); len(reads) != 0 {
		t.Fatalf("answered at commit %d before committing the re-proposed slot 1: %+v", e.commit, reads)
	}
	if err := e.Step(Message{Type: MsgAccepted, From: 2, To: 1, Ballot: e.ballot, Slot: 1, Round: e.round}); err != nil {
		t.Fatal(err)
	}
	reads, _ := readsOf(t, e, st)
	if e.commit != 1 || len(reads) != 1 || reads[0] != (ReadState{Ctx: 1, Index: 1}) {
		t.Fatalf("after slot 1 committed (commit %d): %+v, want read 1 at index 1", e.commit, reads)
	}
}

// A leader that steps down fails every read it holds, its followers'
// requests included (they are told at once).
func TestReadsFailWhenTheLeaderStepsDown(t *testing.T) {
	e, st := elect(t)
	if err := e.Read(1, ReadIndex); err != nil {
		t.Fatal(err)
	}
	if err := e.Step(Message{Type: MsgReadIndex, From: 3, To: 1, Ballot: e.ballot, Round: 55}); err != nil {
		t.Fatal(err)
	}
	readsOf(t, e, st)
	if err := e.Step(Message{Type: MsgCommit, From: 2, To: 1, Ballot: MakeBallot(9, 2), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	reads, msgs := readsOf(t, e, st)
	if e.Status().Role == RoleLeader || len(reads) != 1 || reads[0] != (ReadState{Ctx: 1, Failed: true}) {
		t.Fatalf("after a higher ballot's heartbeat: role %v, reads %+v", e.Status().Role, reads)
	}
	var told bool
	for _, m := range msgs {
		told = told || (m.Type == MsgReadIndexResp && m.To == 3 && m.Round == 55 && m.Reject)
	}
	if !told {
		t.Fatalf("follower 3's request was not failed: %+v", msgs)
	}
	// It follows node 2 now: a read is forwarded there.
	if err := e.Read(2, ReadIndex); err != nil {
		t.Fatal(err)
	}
	if _, msgs := readsOf(t, e, st); len(readRequests(msgs)) != 1 || readRequests(msgs)[0].To != 2 {
		t.Fatalf("a read on the deposed leader: %+v, want a request to node 2", msgs)
	}
}

// A read that no majority confirms within ElectionTicks fails, even while
// the leader keeps its role (its peers answer, but only older rounds: a
// lost round is not resent).
func TestReadIndexTimesOut(t *testing.T) {
	e, st := elect(t)
	if err := e.Read(1, ReadIndex); err != nil {
		t.Fatal(err)
	}
	readsOf(t, e, st)
	var reads []ReadState
	for i := 0; i < e.cfg.ElectionTicks && len(reads) == 0; i++ {
		ack(t, e, 2, 1) // keeps the leader live, confirms nothing new
		e.Tick()
		reads, _ = readsOf(t, e, st)
	}
	if e.Status().Role != RoleLeader {
		t.Fatal("the leader stepped down; the test wants the timeout alone")
	}
	if len(reads) != 1 || reads[0] != (ReadState{Ctx: 1, Failed: true}) {
		t.Fatalf("after %d ticks: %+v, want read 1 failed", e.cfg.ElectionTicks, reads)
	}
}

func TestReadRefusals(t *testing.T) {
	e := newTestEngine(t, 2, 3, nil)
	var nle *NotLeaderError
	if err := e.Read(1, ReadIndex); !errors.As(err, &nle) || nle.Leader != 0 {
		t.Fatalf("Read on a follower that knows no leader = %v", err)
	}
	if err := e.Read(1, 0); !errors.Is(err, ErrInvalidReadMode) {
		t.Fatalf("Read with mode 0 = %v", err)
	}
	e.Campaign()
	if err := e.Read(1, ReadLease); !errors.As(err, &nle) {
		t.Fatalf("Read on a candidate = %v", err)
	}
}

// heartbeat steps follower e with a heartbeat of leader 1 under ballot b.
func heartbeat(t *testing.T, e *Engine, b Ballot, round uint64) {
	t.Helper()
	if err := e.Step(Message{Type: MsgCommit, From: 1, To: e.id, Ballot: b, Slot: 1, Round: round}); err != nil {
		t.Fatal(err)
	}
}

func readRequests(msgs []Message) []Message {
	var out []Message
	for _, m := range msgs {
		if m.Type == MsgReadIndex {
			out = append(out, m)
		}
	}
	return out
}

// A follower forwards its reads to the leader, one request in flight at a
// time; reads queued meanwhile go in the next request, which is sent once
// the answer arrives.
func TestFollowerReadForwardsOneRequestAtATime(t *testing.T) {
	st := newMemStorage()
	e := newTestEngine(t, 2, 3, st)
	b := MakeBallot(1, 1)
	heartbeat(t, e, b, 1)
	if err := e.Read(10, ReadIndex); err != nil {
		t.Fatal(err)
	}
	if err := e.Read(11, ReadLease); err != nil {
		t.Fatal(err)
	}
	_, msgs := readsOf(t, e, st)
	reqs := readRequests(msgs)
	if len(reqs) != 1 || reqs[0].To != 1 || reqs[0].Lease {
		t.Fatalf("two reads, one of them index: requests %+v, want one index request to 1", reqs)
	}
	id := reqs[0].Round
	if err := e.Read(12, ReadLease); err != nil {
		t.Fatal(err)
	}
	if _, msgs := readsOf(t, e, st); len(readRequests(msgs)) != 0 {
		t.Fatal("a second request went out while one is in flight")
	}
	// A stale answer (another id) is ignored.
	if err := e.Step(Message{Type: MsgReadIndexResp, From: 1, To: 2, Ballot: b, Round: id + 1, Commit: 99}); err != nil {
		t.Fatal(err)
	}
	if reads, _ := readsOf(t, e, st); len(reads) != 0 {
		t.Fatalf("an answer to another request served reads: %+v", reads)
	}
	if err := e.Step(Message{Type: MsgReadIndexResp, From: 1, To: 2, Ballot: b, Round: id, Commit: 5}); err != nil {
		t.Fatal(err)
	}
	reads, msgs := readsOf(t, e, st)
	if len(reads) != 2 || reads[0] != (ReadState{Ctx: 10, Index: 5}) || reads[1] != (ReadState{Ctx: 11, Index: 5}) {
		t.Fatalf("after the answer: %+v", reads)
	}
	reqs = readRequests(msgs)
	if len(reqs) != 1 || !reqs[0].Lease || reqs[0].Round == id {
		t.Fatalf("the queued lease read: requests %+v, want one new lease request", reqs)
	}
	if err := e.Step(Message{Type: MsgReadIndexResp, From: 1, To: 2, Ballot: b, Round: reqs[0].Round, Reject: true}); err != nil {
		t.Fatal(err)
	}
	if reads, _ := readsOf(t, e, st); len(reads) != 1 || reads[0] != (ReadState{Ctx: 12, Failed: true}) {
		t.Fatalf("after a rejection: %+v", reads)
	}
}

// Forwarded reads fail when the leader changes or does not answer within
// ElectionTicks.
func TestFollowerReadFailsOnLeaderChangeAndTimeout(t *testing.T) {
	st := newMemStorage()
	e := newTestEngine(t, 2, 3, st)
	heartbeat(t, e, MakeBallot(1, 1), 1)
	if err := e.Read(1, ReadIndex); err != nil {
		t.Fatal(err)
	}
	readsOf(t, e, st)
	if err := e.Step(Message{Type: MsgCommit, From: 3, To: 2, Ballot: MakeBallot(2, 3), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	if reads, _ := readsOf(t, e, st); len(reads) != 1 || reads[0] != (ReadState{Ctx: 1, Failed: true}) {
		t.Fatalf("after the leader changed: %+v", reads)
	}
	if err := e.Read(2, ReadIndex); err != nil {
		t.Fatal(err)
	}
	_, msgs := readsOf(t, e, st)
	if reqs := readRequests(msgs); len(reqs) != 1 || reqs[0].To != 3 {
		t.Fatalf("request to the new leader: %+v", reqs)
	}
	var reads []ReadState
	for i := 0; i < e.cfg.ElectionTicks && len(reads) == 0; i++ {
		if err := e.Step(Message{Type: MsgCommit, From: 3, To: 2, Ballot: MakeBallot(2, 3), Slot: 1}); err != nil {
			t.Fatal(err)
		}
		e.Tick()
		reads, _ = readsOf(t, e, st)
	}
	if len(reads) != 1 || reads[0] != (ReadState{Ctx: 2, Failed: true}) {
		t.Fatalf("after %d ticks unanswered: %+v", e.cfg.ElectionTicks, reads)
	}
}

// The leader's side of a follower read: the request is confirmed by a
// round started after it arrived, like a local read, and answered with the
// read index; a duplicate of it is not queued twice.
func TestLeaderAnswersFollowerReadAfterARound(t *testing.T) {
	e, st := elect(t)
	req := Message{Type: MsgReadIndex, From: 3, To: 1, Ballot: e.ballot, Round: 77}
	for range 2 {
		if err := e.Step(req); err != nil {
			t.Fatal(err)
		}
	}
	_, msgs := readsOf(t, e, st)
	for _, m := range msgs {
		if m.Type == MsgReadIndexResp {
			t.Fatalf("answered before a round: %+v", m)
		}
	}
	ack(t, e, 2, roundsSent(msgs)[2])
	_, msgs = readsOf(t, e, st)
	var resps []Message
	for _, m := range msgs {
		if m.Type == MsgReadIndexResp {
			resps = append(resps, m)
		}
	}
	if len(resps) != 1 || resps[0].To != 3 || resps[0].Round != 77 || resps[0].Reject || resps[0].Commit != e.commit {
		t.Fatalf("answers %+v, want one for request 77 at commit %d", resps, e.commit)
	}
}

// Read on a leader allocates nothing in steady state.
func TestReadDoesNotAllocate(t *testing.T) {
	e, st := elect(t)
	for i := range 64 {
		if err := e.Read(uint64(i), ReadIndex); err != nil {
			t.Fatal(err)
		}
	}
	readsOf(t, e, st)
	ack(t, e, 2, e.round)
	readsOf(t, e, st)
	if n := testing.AllocsPerRun(50, func() {
		if err := e.Read(1, ReadIndex); err != nil {
			t.Fatal(err)
		}
		e.reads = e.reads[:0]
	}); n != 0 {
		t.Fatalf("Read allocates %v times per call", n)
	}
}

// A group of one confirms its own rounds: a read queued just before a
// heartbeat's round (which then serves it) must not wait for an
// acknowledgement no peer will send.
func TestSingleNodeReadAcrossAHeartbeat(t *testing.T) {
	st := newMemStorage()
	e := newTestEngine(t, 1, 1, st)
	e.Tick()
	syncAll(t, e, st)
	if err := e.Read(1, ReadIndex); err != nil {
		t.Fatal(err)
	}
	e.Tick() // the heartbeat starts the round the read waits for
	reads, _ := readsOf(t, e, st)
	if len(reads) != 1 || reads[0] != (ReadState{Ctx: 1, Index: e.commit}) {
		t.Fatalf("single node: %+v, want read 1 answered", reads)
	}
}
