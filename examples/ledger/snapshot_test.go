package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
	"github.com/mpaxos/mpaxos/store"
)

// TestLargeSnapshotReachesLaggingReplica: replicas 1 and 2 start from a
// stored snapshot larger than the transport's default frame limit (4 MiB),
// replica 3 from nothing, so replica 3 can only catch up from that snapshot,
// in one message. It fails when the replica leaves the peer frame limit at
// the transport's default: the message is dropped each time it is sent.
func TestLargeSnapshotReachesLaggingReplica(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 70000 // accounts of 64-byte names: about 5 MiB of snapshot
	m := ledger.NewMachine()
	for i := range n {
		c := ledger.Command{Op: ledger.OpOpen, Client: 1, Seq: uint64(i + 1), From: fmt.Sprintf("%064d", i)}
		if r := m.Apply(m.Applied()+1, c.AppendEncode(nil)); r.Code != ledger.CodeOK {
			t.Fatal(r.Code)
		}
	}
	snap := engine.Snapshot{Slot: m.Applied(), Data: m.AppendSnapshot(nil)}
	if len(snap.Data) <= 4<<20 {
		t.Fatalf("snapshot of %d bytes: the test needs more than 4 MiB", len(snap.Data))
	}
	c := newClusterSeeded(t, 3, 1<<20, func(id engine.NodeID, dir string) {
		if id == 3 {
			return
		}
		cfg := store.DefaultConfig()
		cfg.Dir = dir
		st, err := store.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SaveSnapshot(0, snap); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	})
	c.waitLeader(ctx)
	for id, s := range c.converge(ctx) {
		if len(s.Balances) != n || s.Applied < snap.Slot || s.Invariant != nil {
			t.Fatalf("replica %d: %d accounts at slot %d (%v), want %d at slot >= %d", id, len(s.Balances), s.Applied, s.Invariant, n, snap.Slot)
		}
	}
}
