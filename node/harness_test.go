package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/internal/testnet"
)

// The harness runs a cluster of in-process nodes wired over loopback TCP,
// each with a real Pebble store in a temporary directory.

// waitBound bounds every wait of the harness: a node that never gets there
// fails the test instead of hanging it. No result depends on it.
const waitBound = 30 * time.Second

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

type testCluster struct {
	t     *testing.T
	cfgs  []Config
	nodes []*Node // nil while a node is down
}

// newTestCluster starts size nodes; tune adjusts each one's Config (it may
// be nil).
func newTestCluster(t *testing.T, size int, tune func(*Config)) *testCluster {
	t.Helper()
	ports := freePorts(t, 2*size)
	peers := make(map[engine.NodeID]string, size)
	for i := 0; i < size; i++ {
		peers[engine.NodeID(i+1)] = fmt.Sprintf("127.0.0.1:%d", ports[2*i])
	}
	c := &testCluster{t: t}
	base := t.TempDir()
	for i := 0; i < size; i++ {
		cfg := DefaultConfig()
		cfg.ID = engine.NodeID(i + 1)
		cfg.Peers = peers
		cfg.ClientAddr = fmt.Sprintf("127.0.0.1:%d", ports[2*i+1])
		cfg.DataDir = filepath.Join(base, fmt.Sprintf("n%d", i+1))
		cfg.MemTable = 4 << 20
		cfg.Logger = quietLog
		cfg.Seed = int64(i + 1)
		if tune != nil {
			tune(&cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		c.nodes = append(c.nodes, nil)
	}
	for i := range c.cfgs {
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
	})
	return c
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	n, err := Start(c.cfgs[i])
	if err != nil {
		c.t.Fatalf("starting node %d: %v", i+1, err)
	}
	c.nodes[i] = n
}

func (c *testCluster) stop(i int) {
	if n := c.nodes[i]; n != nil {
		n.Close()
		c.nodes[i] = nil
	}
}

func (c *testCluster) clientAddrs() []string {
	var addrs []string
	for _, cfg := range c.cfgs {
		addrs = append(addrs, cfg.ClientAddr)
	}
	return addrs
}

// leader waits until exactly one running node leads and returns its index.
func (c *testCluster) leader() int {
	c.t.Helper()
	var at int
	waitFor(c.t, "a leader", func() bool {
		leaders := 0
		for i, n := range c.nodes {
			if n != nil && n.groups[0].isLeader.Load() {
				leaders++
				at = i
			}
		}
		return leaders == 1
	})
	return at
}

// client dials the cluster.
func (c *testCluster) client() *client.Client {
	c.t.Helper()
	cl, err := client.Dial(c.clientAddrs(), client.DefaultConfig())
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// put writes count keys through s, failing the test on an error.
func put(t *testing.T, s *client.Session, prefix string, count int) {
	t.Helper()
	for i := 0; i < count; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		err := s.Put(ctx, []byte(fmt.Sprintf("%s-%d", prefix, i)), []byte("v"))
		cancel()
		if err != nil {
			t.Fatalf("put %s-%d: %v", prefix, i, err)
		}
	}
}

// waitFor polls cond until it holds, for what a node publishes without an
// event to wait on (its applied slot, its store's snapshot).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// freePorts reserves n distinct loopback ports (testnet.FreePorts).
func freePorts(t *testing.T, n int) []int { return testnet.FreePorts(t, n) }
