package node

import (
	"context"
	"testing"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/naive"
)

// Each naive scheme runs in the unchanged runtime: writes through one
// node reach every node that the scheme forwards to.
func TestNaiveProtocolsReplicate(t *testing.T) {
	for _, tc := range []struct {
		p       naive.Protocol
		at      int  // the node the client writes through
		forward bool // the other nodes execute the writes too
	}{
		{naive.Unsync, 1, false},
		{naive.PrimaryBackup, 0, true},
		{naive.PrimaryBackupAck, 0, true},
		{naive.MultiLeader, 2, true},
	} {
		t.Run(tc.p.String(), func(t *testing.T) {
			c := newTestCluster(t, 3, func(cfg *Config) { cfg.Protocol = tc.p })
			cl, err := client.Dial([]string{c.cfgs[tc.at].ClientAddr}, client.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			put(t, cl.Session(), "k", 20)
			for i, n := range c.nodes {
				want := uint64(0)
				if i == tc.at || tc.forward {
					want = 20
				}
				waitFor(t, "every write applied", func() bool { return n.Status().Applied >= want })
				if got := n.Status().Applied; got != want {
					t.Fatalf("node %d applied %d commands' slots, want %d", i+1, got, want)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			if _, ok, err := cl.Session().Get(ctx, []byte("k-19")); err != nil || !ok {
				t.Fatalf("read back: found %v, %v", ok, err)
			}
		})
	}
}
