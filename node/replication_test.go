package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/mpaxos/mpaxos/client"
)

// The tests here drive in-process clusters (harness_test.go) through the
// node's own paths: propose, replicate, persist, apply, redirect.

// appliedOf returns what node i executed so far in group 0, read on its
// loop, and its applied slot and state hash.
func (c *testCluster) appliedOf(i int) ([]AppliedCommand, uint64, uint64) {
	return c.groupAppliedOf(i, 0)
}

// groupAppliedOf is appliedOf for group g.
func (c *testCluster) groupAppliedOf(i, gi int) ([]AppliedCommand, uint64, uint64) {
	c.t.Helper()
	n := c.nodes[i]
	var cmds []AppliedCommand
	var applied, hash uint64
	if !n.onLoop(func() {
		g := n.groups[gi]
		if g.appliedLog != nil {
			cmds = g.appliedLog.ordered()
		}
		applied = uint64(g.applied)
		hash = g.sm.Hash()
	}) {
		c.t.Fatalf("node %d stopped", i+1)
	}
	return cmds, applied, hash
}

// waitApplied waits until every running node has applied through slot.
func (c *testCluster) waitApplied(slot uint64) {
	c.t.Helper()
	for i, n := range c.nodes {
		if n == nil {
			continue
		}
		waitFor(c.t, fmt.Sprintf("node %d to apply slot %d", i+1, slot), func() bool {
			_, applied, _ := c.appliedOf(i)
			return applied >= slot
		})
	}
}

// TestReplicasExecuteOneOrder: concurrent sessions write through the
// leader; every node executes the same commands in the same slots, each
// session's commands once each and in the order it sent them, and ends in
// the same state.
func TestReplicasExecuteOneOrder(t *testing.T) {
	const sessions, perSession = 4, 60
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.RecordApplied = 4 * sessions * perSession })
	lead := c.leader()
	cl := c.client()
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			ss := cl.Session()
			for i := 0; i < perSession; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), waitBound)
				// Every session writes the same keys: the final values
				// depend on the order the replicas chose.
				err := ss.Put(ctx, []byte(fmt.Sprintf("k%d", i%7)), []byte(fmt.Sprintf("s%d-%d", s, i)))
				cancel()
				if err != nil {
					errs <- fmt.Errorf("session %d put %d: %w", s, i, err)
					return
				}
			}
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	_, leaderApplied, _ := c.appliedOf(lead)
	c.waitApplied(leaderApplied)
	ref, _, refHash := c.appliedOf(lead)
	if len(ref) != sessions*perSession {
		t.Fatalf("the leader executed %d commands, want %d", len(ref), sessions*perSession)
	}
	last := make(map[uint64]uint64)
	for _, cmd := range ref {
		if cmd.Seq <= last[cmd.Client] {
			t.Fatalf("session %#x: seq %d executed after seq %d", cmd.Client, cmd.Seq, last[cmd.Client])
		}
		last[cmd.Client] = cmd.Seq
	}
	for i := range c.nodes {
		got, _, hash := c.appliedOf(i)
		if len(got) != len(ref) {
			t.Fatalf("node %d executed %d commands, the leader %d", i+1, len(got), len(ref))
		}
		for j := range ref {
			if got[j] != ref[j] {
				t.Fatalf("node %d command %d is %+v, the leader's %+v", i+1, j, got[j], ref[j])
			}
		}
		if hash != refHash {
			t.Errorf("node %d state hash %#x, the leader's %#x", i+1, hash, refHash)
		}
	}
}

// TestLeaderChangeKeepsAcknowledgedWrites: the leader stops, the other two
// elect a leader and go on serving, the old leader restarts from its store
// and catches up; every acknowledged write reads back and every node ends
// in the same state.
func TestLeaderChangeKeepsAcknowledgedWrites(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	old := c.leader()
	cl := c.client()
	s := cl.Session()
	put(t, s, "before", 40)

	c.stop(old)
	next := c.leader()
	if next == old {
		t.Fatalf("node %d still leads after it stopped", old+1)
	}
	put(t, s, "after", 40)

	c.start(old)
	_, applied, _ := c.appliedOf(next)
	c.waitApplied(applied)
	_, _, want := c.appliedOf(next)
	for i := range c.nodes {
		if _, _, h := c.appliedOf(i); h != want {
			t.Errorf("node %d state hash %#x, the leader's %#x", i+1, h, want)
		}
	}
	for _, prefix := range []string{"before", "after"} {
		for i := 0; i < 40; i++ {
			key := fmt.Sprintf("%s-%d", prefix, i)
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			v, ok, err := s.Get(ctx, []byte(key))
			cancel()
			if err != nil || !ok || string(v) != "v" {
				t.Fatalf("get %s = %q, %v, %v after the leader change", key, v, ok, err)
			}
		}
	}
}

// TestFollowerNamesTheLeader: a write sent to a follower is not proposed
// there; the follower answers with the leader's id, which a client that
// does not follow redirects sees as ErrNotLeader.
func TestFollowerNamesTheLeader(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	lead := c.leader()
	follower := (lead + 1) % 3
	// A follower learns who leads from the leader's first message.
	waitFor(t, "the follower to know the leader", func() bool {
		return c.nodes[follower].Status().Leader == uint16(lead+1)
	})
	cfg := client.DefaultConfig()
	cfg.NoRedirect = true
	cl, err := client.Dial([]string{c.cfgs[follower].ClientAddr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	err = cl.Session().Put(ctx, []byte("k"), []byte("v"))
	if !errors.Is(err, client.ErrNotLeader) {
		t.Fatalf("put on follower %d: %v, want ErrNotLeader", follower+1, err)
	}
	if got := client.LeaderOf(err); got != uint16(lead+1) {
		t.Errorf("the follower named node %d, the leader is %d", got, lead+1)
	}
}
