package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/examples/ledger/replica"
)

// cluster is n in-process replicas on loopback, each with a Pebble store in
// its own temporary directory, that a test stops and restarts.
type cluster struct {
	t         testing.TB
	ids       []engine.NodeID
	peerAddr  map[engine.NodeID]string
	httpAddr  map[engine.NodeID]string
	dirs      map[engine.NodeID]string
	reps      map[engine.NodeID]*replica.Replica
	listeners map[engine.NodeID][2]net.Listener // for the first start
	snapEvery uint64
}

func newCluster(t testing.TB, n int, snapEvery uint64) *cluster {
	return newClusterSeeded(t, n, snapEvery, nil)
}

// newClusterSeeded is newCluster, calling seed (if not nil) on each
// replica's empty store directory before it starts.
func newClusterSeeded(t testing.TB, n int, snapEvery uint64, seed func(engine.NodeID, string)) *cluster {
	c := &cluster{
		t: t, peerAddr: map[engine.NodeID]string{}, httpAddr: map[engine.NodeID]string{},
		dirs: map[engine.NodeID]string{}, reps: map[engine.NodeID]*replica.Replica{},
		listeners: map[engine.NodeID][2]net.Listener{}, snapEvery: snapEvery,
	}
	for i := 1; i <= n; i++ {
		id := engine.NodeID(i)
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.ids = append(c.ids, id)
		c.peerAddr[id], c.httpAddr[id] = pl.Addr().String(), hl.Addr().String()
		c.listeners[id] = [2]net.Listener{pl, hl}
		c.dirs[id] = t.TempDir()
	}
	for _, id := range c.ids {
		if seed != nil {
			seed(id, c.dirs[id])
		}
		c.start(id)
	}
	t.Cleanup(func() {
		for _, id := range c.ids {
			if r := c.reps[id]; r != nil {
				r.Close()
			}
		}
	})
	return c
}

// listenAgain listens on addr, which a replica just closed, retrying
// briefly while the kernel still holds the port.
func listenAgain(addr string) (net.Listener, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) start(id engine.NodeID) {
	c.t.Helper()
	cfg := replica.DefaultConfig()
	cfg.ID, cfg.Peers, cfg.HTTP, cfg.Dir = id, c.peerAddr, c.httpAddr, c.dirs[id]
	cfg.Tick, cfg.ElectionTicks = 10*time.Millisecond, 10
	cfg.SnapshotEvery = c.snapEvery
	cfg.RequestTimeout = time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if ls, ok := c.listeners[id]; ok {
		cfg.PeerListener, cfg.HTTPListener = ls[0], ls[1]
		delete(c.listeners, id)
	} else {
		var err error
		if cfg.PeerListener, err = listenAgain(c.peerAddr[id]); err != nil {
			c.t.Fatal(err)
		}
		if cfg.HTTPListener, err = listenAgain(c.httpAddr[id]); err != nil {
			cfg.PeerListener.Close()
			c.t.Fatal(err)
		}
	}
	r, err := replica.Start(cfg)
	if err != nil {
		c.t.Fatalf("start replica %d: %v", id, err)
	}
	c.reps[id] = r
}

func (c *cluster) stop(id engine.NodeID) {
	c.t.Helper()
	if err := c.reps[id].Close(); err != nil {
		c.t.Fatalf("close replica %d: %v", id, err)
	}
	c.reps[id] = nil
}

func (c *cluster) addrs() []string {
	var out []string
	for _, id := range c.ids {
		out = append(out, c.httpAddr[id])
	}
	return out
}

// poll calls f every 10 ms until it returns nil or ctx ends; the replicas
// offer nothing to wait on for "a leader was elected".
func poll(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitLeader waits until a running replica leads and every running one
// knows it.
func (c *cluster) waitLeader(ctx context.Context) engine.NodeID {
	c.t.Helper()
	var leader engine.NodeID
	err := poll(ctx, func() error {
		leader = 0
		for _, id := range c.ids {
			if r := c.reps[id]; r != nil && r.Leader() == id {
				leader = id
			}
		}
		if leader == 0 {
			return errors.New("no leader")
		}
		for _, id := range c.ids {
			if r := c.reps[id]; r != nil && r.Leader() != leader {
				return fmt.Errorf("replica %d follows %d, not %d", id, r.Leader(), leader)
			}
		}
		return nil
	})
	if err != nil {
		c.t.Fatalf("waiting for a leader: %v", err)
	}
	return leader
}

// converge waits until every running replica applied the same slots and
// has the same state hash, and returns their states.
func (c *cluster) converge(ctx context.Context) map[engine.NodeID]replica.State {
	c.t.Helper()
	var states map[engine.NodeID]replica.State
	err := poll(ctx, func() error {
		states = map[engine.NodeID]replica.State{}
		var first *replica.State
		for _, id := range c.ids {
			r := c.reps[id]
			if r == nil {
				continue
			}
			s, err := r.State()
			if err != nil {
				return err
			}
			states[id] = s
			if first == nil {
				first = &s
				continue
			}
			if s.Applied != first.Applied || s.Hash != first.Hash {
				return fmt.Errorf("replica %d applied %d (hash %x), another %d (hash %x)", id, s.Applied, s.Hash[:4], first.Applied, first.Hash[:4])
			}
		}
		return nil
	})
	if err != nil {
		c.t.Fatalf("replicas did not converge: %v", err)
	}
	return states
}
