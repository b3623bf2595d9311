package node

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/mpaxos/mpaxos/client"
)

var errInjected = errors.New("injected disk error")

// walFaults fails every write and sync of the store's WAL files (Pebble's
// *.log) once it is switched on.
func walFaults() *errorfs.Toggle {
	return &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !strings.HasSuffix(op.Path, ".log") {
			return nil
		}
		switch op.Kind {
		case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			return errInjected
		}
		return nil
	})}
}

// TestStoreWriteFailureStopsNode: when a node's store cannot write or sync
// its log, on the leader (the writer goroutine persists) or a follower (the
// loop persists), the node stops through its fatal path: Done closes, Err
// wraps ErrDisk and names the cause, and its client port acknowledges
// nothing more. The other two go on and serve writes.
func TestStoreWriteFailureStopsNode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		victim func(c *testCluster, leader int) int
	}{
		{"leader", func(c *testCluster, l int) int { return l }},
		{"follower", func(c *testCluster, l int) int { return (l + 1) % len(c.nodes) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var faults []*errorfs.Toggle
			c := newTestCluster(t, 3, func(cfg *Config) {
				f := walFaults()
				faults = append(faults, f)
				cfg.hooks = &testHooks{fs: errorfs.Wrap(vfs.Default, f)}
			})
			s := c.client().Session()
			put(t, s, "before", 3)
			v := tc.victim(c, c.leader())
			victim := c.nodes[v]
			faults[v].On()

			// Writes go on until the victim has tried to persist one; which
			// of them it acknowledged before does not matter here.
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
		writes:
			for i := 0; ; i++ {
				select {
				case <-victim.Done():
					break writes
				case <-ctx.Done():
					t.Fatalf("node %d still running %v after its disk failed", v+1, waitBound)
				default:
					_ = s.Put(ctx, []byte("during"), []byte{byte(i)})
				}
			}
			err := victim.Err()
			if !errors.Is(err, ErrDisk) || !strings.Contains(err.Error(), errInjected.Error()) {
				t.Fatalf("node %d stopped with %v, want ErrDisk naming %q", v+1, err, errInjected)
			}

			// Its client port is closed: a client that only knows it gets
			// no acknowledgement.
			only, err := client.Dial([]string{c.cfgs[v].ClientAddr}, client.DefaultConfig())
			if err == nil {
				octx, ocancel := context.WithTimeout(context.Background(), 2*client.DefaultConfig().Attempt)
				err = only.Session().Put(octx, []byte("after"), []byte("v"))
				ocancel()
				only.Close()
			}
			if err == nil {
				t.Fatalf("node %d acknowledged a write after its disk failed", v+1)
			}

			put(t, s, "after", 3)
		})
	}
}

// TestDiskPanic: only Pebble's write-failure panics become ErrDisk; the
// store's own invariants and runtime errors stay panics.
func TestDiskPanic(t *testing.T) {
	var rt error
	func() {
		defer func() { rt, _ = recover().(error) }()
		var m map[string]int
		m["x"] = 1 // a runtime error
	}()
	for _, tc := range []struct {
		v    any
		disk bool
	}{
		{"pebble: fatal commit error: injected", true},
		{errInjected, true},
		{"store: group 0: hard state promised", false},
		{rt, false},
		{42, false},
	} {
		err := diskPanic(tc.v)
		if got := errors.Is(err, ErrDisk); got != tc.disk {
			t.Errorf("diskPanic(%v) = %v, want disk %v", tc.v, err, tc.disk)
		}
	}
}
