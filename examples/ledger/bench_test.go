package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/examples/ledger/client"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
)

// BenchmarkTransfers is the example's end-to-end cost: transfers through
// HTTP, one command per Paxos slot and one synced Pebble write per Ready,
// on 3 in-process replicas, from GOMAXPROCS*-cpu parallel clients
// (b.SetParallelism(8): 8 per proc). Not the engine's speed: the node
// runtime batches commands and shares syncs (see results/).
func BenchmarkTransfers(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := newCluster(b, 3, 10000)
	c.waitLeader(ctx)
	setupAccounts(ctx, b, client.New(c.addrs()))
	var worker atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(worker.Add(1))
		cl := client.New(c.addrs())
		for i := 0; pb.Next(); i++ {
			from := (w + i) % accounts
			r, err := cl.Transfer(ctx, account(from), account((from+1)%accounts), 1)
			if err != nil || r.Code != ledger.CodeOK {
				b.Errorf("transfer: %+v, %v", r, err)
				return
			}
		}
	})
}
