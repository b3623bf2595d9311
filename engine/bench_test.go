package engine

import (
	"fmt"
	"testing"
)

// benchLeader returns node 1 of a 3-node group as an elected leader, with
// the followers' promises fed in by hand.
func benchLeader(tb testing.TB) *Engine {
	cfg := DefaultConfig()
	cfg.ID, cfg.Peers = 1, []NodeID{1, 2, 3}
	cfg.MaxInflight = 1 << 20
	e, err := New(cfg, NewMemoryStorage())
	if err != nil {
		tb.Fatal(err)
	}
	e.Campaign()
	rd := e.Ready()
	e.Advance(rd)
	for _, from := range []NodeID{2, 3} {
		if err := e.Step(Message{Type: MsgPromise, From: from, To: 1, Ballot: e.ballot, Slot: 1}); err != nil {
			tb.Fatal(err)
		}
	}
	if e.role != RoleLeader {
		tb.Fatal("not leader")
	}
	e.Advance(e.Ready())
	return e
}

// BenchmarkLeader measures the leader engine's own cost of one batch's
// round: Propose, Ready (the Accepts to both followers), Advance (own write
// durable), both Accepteds, Ready (Committed), Advance; a snapshot
// compaction every 1024 slots keeps memory flat as in a real runtime.
// ns/cmd is the cost per client command.
func BenchmarkLeader(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			e := benchLeader(b)
			data := make([]byte, batch*24) // 24-byte commands, opaque here
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := e.Propose(data); err != nil {
					b.Fatal(err)
				}
				rd := e.Ready()
				if len(rd.Messages) != 2 {
					b.Fatalf("%d messages", len(rd.Messages))
				}
				e.Advance(rd)
				slot := rd.Entries[0].Slot
				for _, from := range []NodeID{2, 3} {
					if err := e.Step(Message{Type: MsgAccepted, From: from, To: 1, Ballot: e.ballot, Slot: slot}); err != nil {
						b.Fatal(err)
					}
				}
				rd = e.Ready()
				if len(rd.Committed) != 1 {
					b.Fatalf("%d committed", len(rd.Committed))
				}
				e.Advance(rd)
				if slot%1024 == 0 {
					if err := e.Compact(slot); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/cmd")
		})
	}
}

// BenchmarkFollower measures a follower's cost of one batch: Step(Accept),
// Ready (the entry to persist, the Accepted after sync), Advance, and
// learning the commit from the next Accept.
func BenchmarkFollower(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.ID, cfg.Peers = 2, []NodeID{1, 2, 3}
			e, err := New(cfg, NewMemoryStorage())
			if err != nil {
				b.Fatal(err)
			}
			ballot := MakeBallot(1, 1)
			data := make([]byte, batch*24)
			ents := make([]Entry, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := Slot(i + 1)
				ents[0] = Entry{Slot: s, Ballot: ballot, Type: EntryBatch, Data: data}
				if err := e.Step(Message{Type: MsgAccept, From: 1, To: 2, Ballot: ballot, Slot: 1, Commit: s - 1, Entries: ents}); err != nil {
					b.Fatal(err)
				}
				rd := e.Ready()
				if len(rd.AfterSync) != 1 {
					b.Fatalf("%d after-sync messages", len(rd.AfterSync))
				}
				e.Advance(rd)
				if s%1024 == 0 {
					if err := e.Compact(e.applied); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/cmd")
		})
	}
}
