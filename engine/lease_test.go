package engine

import "testing"

func TestLeaseTicks(t *testing.T) {
	for _, tc := range []struct {
		election, margin int
		drift            float64
		want             int
	}{
		{10, 1, 0.1, 8},
		{10, 1, 0, 9},
		{20, 1, 0.25, 14},
		{20, 3, 0.1, 15},
		{10, 1, 0.95, -1}, // no lease at all
	} {
		e := &Engine{cfg: Config{ElectionTicks: tc.election, LeaseMarginTicks: tc.margin, MaxClockDrift: tc.drift}}
		if got := e.leaseTicks(); got != tc.want {
			t.Errorf("ElectionTicks %d, drift %v, margin %d: lease %d ticks, want %d", tc.election, tc.drift, tc.margin, got, tc.want)
		}
	}
}

// Within the lease a read is answered at once, without a round; once
// leaseTicks passed since the round a majority acknowledged was sent, a
// lease read waits for a round like a read-index read.
func TestLeaseAnswersAtOnceUntilItExpires(t *testing.T) {
	e, st := elect(t)
	if err := e.Read(1, ReadLease); err != nil {
		t.Fatal(err)
	}
	if reads, _ := readsOf(t, e, st); len(reads) != 0 {
		t.Fatalf("a lease read answered before any round was acknowledged: %+v", reads)
	}
	r := e.round // started at tick 0
	ack(t, e, 2, r)
	readsOf(t, e, st) // read 1, by the round
	lease := e.leaseTicks()
	for i := 0; i < lease; i++ {
		if err := e.Read(uint64(100+i), ReadLease); err != nil {
			t.Fatal(err)
		}
		reads, msgs := readsOf(t, e, st)
		if len(reads) != 1 || reads[0] != (ReadState{Ctx: uint64(100 + i), Index: e.commit}) {
			t.Fatalf("tick %d of a %d-tick lease: %+v, want the read answered at once", e.ticks, lease, reads)
		}
		if len(msgs) != 0 {
			t.Fatalf("a lease read sent messages: %+v", msgs)
		}
		ack(t, e, 3, r) // keep the leader live without extending the lease
		e.Tick()
		readsOf(t, e, st)
	}
	if err := e.Read(2, ReadLease); err != nil {
		t.Fatal(err)
	}
	reads, msgs := readsOf(t, e, st)
	if len(reads) != 0 {
		t.Fatalf("at tick %d, lease of %d from tick 0: answered %+v", e.ticks, lease, reads)
	}
	r2 := roundsSent(msgs)[2]
	ack(t, e, 2, r2)
	if reads, _ := readsOf(t, e, st); len(reads) != 1 || reads[0].Ctx != 2 || reads[0].Failed {
		t.Fatalf("after the fallback round: %+v", reads)
	}
	// That round renewed the lease from its own start.
	if !e.leaseValid() || e.leaseUntil != e.roundTick[r2%uint64(len(e.roundTick))]+lease {
		t.Fatalf("lease until %d at tick %d after round %d", e.leaseUntil, e.ticks, r2)
	}
}

// The lease needs the leader's re-proposals committed too.
func TestLeaseWaitsForOwnCommit(t *testing.T) {
	e, st := electWithReproposal(t)
	ack(t, e, 2, e.round)
	if err := e.Read(1, ReadLease); err != nil {
		t.Fatal(err)
	}
	if reads, _ := readsOf(t, e, st); len(reads) != 0 {
		t.Fatalf("lease read answered at commit %d below the re-proposed slot 1: %+v", e.commit, reads)
	}
}

// dropLease ends the lease for the rest of the ballot: lease reads fall
// back to rounds, and acknowledgements do not renew it.
func TestDropLease(t *testing.T) {
	e, st := elect(t)
	ack(t, e, 2, e.round)
	if !e.leaseValid() {
		t.Fatal("no lease after a majority acknowledged round 1")
	}
	e.dropLease()
	if err := e.Read(1, ReadLease); err != nil {
		t.Fatal(err)
	}
	reads, msgs := readsOf(t, e, st)
	if len(reads) != 0 {
		t.Fatalf("a dropped lease answered: %+v", reads)
	}
	ack(t, e, 2, roundsSent(msgs)[2])
	if reads, _ := readsOf(t, e, st); len(reads) != 1 || e.leaseValid() {
		t.Fatalf("after the round: reads %+v, lease valid %v", reads, e.leaseValid())
	}
}

// A restarted node has forgotten whose round it acknowledged last, so it
// promises no ballot for ElectionTicks after New; a node that never
// promised anything never acknowledged a leader and promises at once.
func TestRestartedNodeKeepsLeasePromise(t *testing.T) {
	prep := Message{Type: MsgPrepare, From: 3, To: 2, Ballot: MakeBallot(5, 3), Slot: 1}
	promises := func(e *Engine) bool {
		if err := e.Step(prep); err != nil {
			t.Fatal(err)
		}
		rd := e.Ready()
		e.Advance(rd)
		for _, m := range rd.AfterSync {
			if m.Type == MsgPromise {
				return true
			}
		}
		return false
	}
	if !promises(newTestEngine(t, 2, 3, nil)) {
		t.Fatal("a new node refused its first prepare")
	}
	st := newMemStorage()
	if err := st.Save(&Ready{SaveHardState: true, HardState: HardState{Promised: MakeBallot(1, 1)}}); err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, 2, 3, st)
	for i := 1; i < e.cfg.ElectionTicks; i++ {
		if promises(e) {
			t.Fatalf("a restarted node promised %d ticks after New, within ElectionTicks %d", i-1, e.cfg.ElectionTicks)
		}
		e.Tick()
	}
	e.Tick()
	if !promises(e) {
		t.Fatalf("a restarted node still refuses after %d ticks", e.ticks)
	}
}

// The window is a node's own clock, not stickiness: a follower whose
// leader re-ran phase 1 (it promised the leader's new ballot and knows no
// leader) still refuses another node within ElectionTicks of the last
// round it acknowledged.
func TestLeasePromiseOutlivesStickiness(t *testing.T) {
	st := newMemStorage()
	e := newTestEngine(t, 2, 3, st)
	heartbeat(t, e, MakeBallot(1, 1), 1)
	syncAll(t, e, st)
	if err := e.Step(Message{Type: MsgPrepare, From: 1, To: 2, Ballot: MakeBallot(2, 1), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	syncAll(t, e, st)
	if e.heardLeaderRecently() {
		t.Fatal("test setup: the follower still knows its leader")
	}
	if err := e.Step(Message{Type: MsgPrepare, From: 3, To: 2, Ballot: MakeBallot(3, 3), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	if s := e.Status(); s.Promised != MakeBallot(2, 1) {
		t.Fatalf("promised %v to node 3 within the lease window", s.Promised)
	}
}
