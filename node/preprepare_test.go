package node

import (
	"fmt"
	"testing"
	"time"
)

// TestRejoinAfterIsolation cuts a follower off from both others for many
// election timeouts, heals it, and writes through the cluster. With
// pre-prepare the node never gets a majority to say it would promise, so it
// raises no ballot and the leader keeps leading under the same ballot. The
// same run without pre-prepare is the control: the cut-off node raises its
// ballot, and when it rejoins the leader is deposed.
func TestRejoinAfterIsolation(t *testing.T) {
	const election = 150 * time.Millisecond
	for _, pre := range []bool{true, false} {
		t.Run(fmt.Sprintf("pre-prepare=%v", pre), func(t *testing.T) {
			c := newTestCluster(t, 3, func(cfg *Config) {
				cfg.ElectionTimeout = election
				cfg.Heartbeat = election / 5
				cfg.PrePrepare = pre
			})
			cl := c.client()
			s := cl.Session()
			put(t, s, "before", 20)
			l := c.leader()
			ballot := c.nodes[l].Status().Ballot
			f := (l + 1) % 3
			var others []uint16
			for i := range c.nodes {
				if i != f {
					others = append(others, uint16(i+1))
				}
			}
			if err := c.nodes[f].SetFaults(FaultSpec{Isolate: others}); err != nil {
				t.Fatal(err)
			}
			if pre {
				// Nothing to await: the point is that nothing happens.
				// Twenty election timeouts give the cut-off node many
				// chances to campaign.
				time.Sleep(20 * election)
				if b := c.nodes[f].Status().Ballot; b != ballot {
					t.Fatalf("cut off with pre-prepare, node %d moved from ballot %s to %s", f+1, ballot, b)
				}
			} else {
				waitFor(t, "the cut-off node to raise its ballot", func() bool { return c.nodes[f].Status().Ballot != ballot })
			}
			if err := c.nodes[f].SetFaults(FaultSpec{}); err != nil {
				t.Fatal(err)
			}
			if pre {
				put(t, s, "after", 20)
				waitFor(t, "the healed node to catch up", func() bool {
					return c.nodes[f].Status().Applied >= c.nodes[l].Status().Applied
				})
				if now := c.leader(); now != l || c.nodes[l].Status().Ballot != ballot {
					t.Fatalf("the rejoining node disrupted the leader: leader %d ballot %s, was %d ballot %s",
						now+1, c.nodes[now].Status().Ballot, l+1, ballot)
				}
				return
			}
			waitFor(t, "the rejoining node to depose the leader", func() bool {
				return c.nodes[l].Status().Ballot != ballot
			})
			put(t, s, "after", 20)
		})
	}
}
