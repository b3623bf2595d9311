package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/kv"
)

// TestReadsSeeLatestWrite: in every mode, with the node's default and
// with the mode named per call, a get sees the write acknowledged just
// before it, from a session other than the writer's; index and lease gets
// are not proposed, gets through the log are.
func TestReadsSeeLatestWrite(t *testing.T) {
	for _, mode := range []kv.ReadMode{kv.ReadLog, kv.ReadIndex, kv.ReadLease} {
		t.Run(mode.String(), func(t *testing.T) {
			c := newTestCluster(t, 3, func(cfg *Config) { cfg.ReadMode = mode })
			cl := c.client()
			w, r := cl.Session(), cl.Session()
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			l := c.leader()
			const rounds = 30
			// Counted when proposed, so before the command is answered.
			proposed := c.nodes[l].stats.commands.Load()
			for i := 0; i < rounds; i++ {
				key := []byte(fmt.Sprintf("k%d", i%3))
				want := fmt.Sprintf("v%d", i)
				if err := w.Put(ctx, key, []byte(want)); err != nil {
					t.Fatal(err)
				}
				got, ok, err := r.Get(ctx, key) // the node's default mode
				if err != nil || !ok || string(got) != want {
					t.Fatalf("get %s = %q, %v, %v after put %q", key, got, ok, err, want)
				}
				got, ok, err = r.GetMode(ctx, key, mode)
				if err != nil || !ok || string(got) != want {
					t.Fatalf("get %s in mode %v = %q, %v, %v after put %q", key, mode, got, ok, err, want)
				}
			}
			if l != c.leader() {
				t.Skip("the leader changed during the run; the proposal count says nothing")
			}
			proposed = c.nodes[l].stats.commands.Load() - proposed
			if mode == kv.ReadLog && proposed < 3*rounds {
				t.Errorf("%d puts and %d gets through the log: %d commands proposed", rounds, 2*rounds, proposed)
			}
			if mode != kv.ReadLog && proposed != rounds {
				t.Errorf("%d puts and %d %v gets: %d commands proposed, want only the puts", rounds, 2*rounds, mode, proposed)
			}
		})
	}
}

// TestIsolatedLeaderReadFails cuts the leader off, lets the others elect a
// leader and acknowledge a newer write, and then reads at the old leader
// in each mode without the log: it must refuse, not answer the old value
// (a lease read after its lease ran out falls back to a read index, which
// no majority confirms).
func TestIsolatedLeaderReadFails(t *testing.T) {
	for _, mode := range []kv.ReadMode{kv.ReadIndex, kv.ReadLease} {
		t.Run(mode.String(), func(t *testing.T) {
			c := newTestCluster(t, 3, func(cfg *Config) { cfg.ReadMode = mode })
			old := c.leader()
			put1(t, c.client().Session(), "k", "v1")
			if err := c.nodes[old].SetFaults(FaultSpec{Isolate: c.othersOf(old)}); err != nil {
				t.Fatal(err)
			}
			put1(t, c.clientOf(c.indexesBut(old)...).Session(), "k", "v2")
			readAtIsolated(t, c, old, mode)
		})
	}
}

// TestLeaseAfterLoopStall stalls the leader's loop (as SIGSTOP or a
// starved process would) just after cutting it off, so its ticker drops
// the ticks of the stall, and queues a lease read for it while the others
// elect a leader and acknowledge a newer write. The engine must count the
// missed ticks before that read: a leader that did not would find its
// lease still valid and answer the old value.
func TestLeaseAfterLoopStall(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.ReadMode = kv.ReadLease })
	old := c.leader()
	put1(t, c.client().Session(), "k", "v1")
	n := c.nodes[old]
	if err := n.SetFaults(FaultSpec{Isolate: c.othersOf(old)}); err != nil {
		t.Fatal(err)
	}
	release, stalled := make(chan struct{}), make(chan struct{})
	go n.onLoop(func() { close(stalled); <-release })
	<-stalled
	put1(t, c.clientOf(c.indexesBut(old)...).Session(), "k", "v2")
	res := make(chan error, 1)
	go func() { res <- getNotOld(c, old, kv.ReadLease) }()
	waitFor(t, "the read to queue at the stalled leader", func() bool { return len(n.reads) == 1 })
	close(release)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

// readAtIsolated fails the test if node i answers a get of "k" in mode
// with anything but a refusal or "v2".
func readAtIsolated(t *testing.T, c *testCluster, i int, mode kv.ReadMode) {
	t.Helper()
	if err := getNotOld(c, i, mode); err != nil {
		t.Fatal(err)
	}
}

// getNotOld reads "k" at node i alone (no redirects) for a few seconds
// and returns an error if it answers "v1".
func getNotOld(c *testCluster, i int, mode kv.ReadMode) error {
	cfg := client.DefaultConfig()
	cfg.NoRedirect = true
	cfg.Attempt = 500 * time.Millisecond
	cl, err := client.Dial([]string{c.cfgs[i].ClientAddr}, cfg)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	got, ok, err := cl.Session().GetMode(ctx, []byte("k"), mode)
	if err == nil && ok && string(got) == "v1" {
		return fmt.Errorf("the cut-off old leader answered a %v read with the overwritten value %q", mode, got)
	}
	return nil
}

// put1 writes key=value through s, failing the test on an error.
func put1(t *testing.T, s *client.Session, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := s.Put(ctx, []byte(key), []byte(value)); err != nil {
		t.Fatalf("put %s=%s: %v", key, value, err)
	}
}

// othersOf returns the node ids of every member but node i's.
func (c *testCluster) othersOf(i int) []uint16 {
	var ids []uint16
	for _, j := range c.indexesBut(i) {
		ids = append(ids, uint16(j+1))
	}
	return ids
}

// indexesBut returns the indexes of every member but i.
func (c *testCluster) indexesBut(i int) []int {
	var is []int
	for j := range c.cfgs {
		if j != i {
			is = append(is, j)
		}
	}
	return is
}

// clientOf dials nodes is only.
func (c *testCluster) clientOf(is ...int) *client.Client {
	c.t.Helper()
	var addrs []string
	for _, i := range is {
		addrs = append(addrs, c.cfgs[i].ClientAddr)
	}
	cl, err := client.Dial(addrs, client.DefaultConfig())
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// TestReadBudget: the keys of gets waiting for the loop or held by it are
// bounded in bytes; a get that would pass the bound is refused with
// StatusRetry (its client retries), and the bound is given back once gets
// are answered, so gets within it keep working.
func TestReadBudget(t *testing.T) {
	const budget = 64
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.ReadMode = kv.ReadLease
		cfg.hooks = &testHooks{readBudget: budget}
	})
	cl := c.clientOf(c.leader())
	s := cl.Session()
	put1(t, s, "k", "v")
	for i := 0; i < 100; i++ { // 100 gets of 1 byte: far more than the budget in all
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		got, ok, err := s.Get(ctx, []byte("k"))
		cancel()
		if err != nil || !ok || string(got) != "v" {
			t.Fatalf("get %d within the budget: %q, %v, %v", i, got, ok, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, _, err := s.Get(ctx, make([]byte, budget+1)); err == nil {
		t.Fatalf("a get whose key is over the budget was served")
	}
	if n := c.nodes[c.leader()].readBytes.Load(); n != 0 {
		t.Fatalf("%d bytes of keys still counted with no get outstanding", n)
	}
}
