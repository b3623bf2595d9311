package benchkit

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCPUDelta(t *testing.T) {
	at := time.Unix(1000, 0)
	a := CPUSample{At: at, Nodes: map[int]time.Duration{10: time.Second, 11: 2 * time.Second},
		Self: time.Second, Busy: 100, Total: 400}
	b := CPUSample{At: at.Add(4 * time.Second), Nodes: map[int]time.Duration{10: 3 * time.Second, 11: 3 * time.Second},
		Self: 1500 * time.Millisecond, Busy: 700, Total: 1200}
	c := CPUDelta(a, b, 1_000_000)
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("window", c.WindowSec, 4)
	near("nodes sec", c.NodesSec, 3)
	near("nodes µs/op", c.NodesUsPerOp, 3)
	near("bench sec", c.BenchSec, 0.5)
	near("bench µs/op", c.BenchUsPerOp, 0.5)
	near("machine busy", c.MachineBusy, 600.0/800)
	if c.Note != "" {
		t.Errorf("note %q", c.Note)
	}

	// Node 11 restarted as 12: its counters restarted too, so no node figure.
	b.Nodes = map[int]time.Duration{10: 3 * time.Second, 12: 100 * time.Millisecond}
	if c := CPUDelta(a, b, 1000); c.NodesSec != 0 || c.NodesUsPerOp != 0 || !strings.Contains(c.Note, "killed or restarted") {
		t.Errorf("restarted node: %+v", c)
	}
	// Killed and not restarted.
	b.Nodes = map[int]time.Duration{10: 3 * time.Second}
	if c := CPUDelta(a, b, 1000); c.NodesSec != 0 || !strings.Contains(c.Note, "killed or restarted") {
		t.Errorf("killed node: %+v", c)
	}
	// A cluster that is not local processes.
	a.Nodes, b.Nodes = nil, nil
	if c := CPUDelta(a, b, 1000); c.NodesSec != 0 || !strings.Contains(c.Note, "not local") || c.BenchSec != 0.5 {
		t.Errorf("external cluster: %+v", c)
	}
}

// TestProcCPU samples this test process as if it were a node: its time
// from /proc (through procfs) must see CPU burnt between two samples.
func TestProcCPU(t *testing.T) {
	f := ProcCPU(func() []int { return []int{os.Getpid()} })
	a, err := f()
	if err != nil {
		t.Fatal(err)
	}
	// Burn at least 100 ms of CPU, giving up after 10 s of wall time.
	deadline := time.Now().Add(10 * time.Second)
	x := uint64(1)
	for {
		for range 1 << 20 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		s, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if s.Self-a.Self >= 100*time.Millisecond || time.Now().After(deadline) {
			break
		}
	}
	b, err := f()
	if err != nil {
		t.Fatal(err)
	}
	c := CPUDelta(a, b, 1)
	if c.BenchSec < 0.1 || c.NodesSec < 0.05 || c.MachineBusy <= 0 || c.MachineBusy > 1 || c.Cores < 1 || c.Note != "" {
		t.Fatalf("CPU over a busy loop (x=%d): %+v", x, c)
	}
	if _, err := ProcCPU(func() []int { return []int{1 << 30} })(); err == nil {
		t.Fatal("a pid that does not exist was sampled without error")
	}
}

// With one leader throughout, its CPU per operation is told from a
// follower's; a leader change in the window gives no split. Sync counters
// become syncs per second and operations per sync, leaving out a node
// whose counter went back (restarted) or is missing at one end.
func TestCPUDeltaLeaderAndSyncs(t *testing.T) {
	at := time.Unix(1000, 0)
	a := CPUSample{At: at, Nodes: map[int]time.Duration{10: 0, 11: 0, 12: 0}, LeaderPid: 11,
		Syncs: map[uint64]uint64{1: 100, 2: 50, 3: 500, 4: 7}}
	b := CPUSample{At: at.Add(2 * time.Second), Nodes: map[int]time.Duration{10: time.Second, 11: 4 * time.Second, 12: 3 * time.Second},
		LeaderPid: 11, Syncs: map[uint64]uint64{1: 300, 2: 450, 3: 10}}
	c := CPUDelta(a, b, 1_000_000)
	if c.NodesUsPerOp != 8 || c.LeaderUsPerOp != 4 || c.FollowerUsPerOp != 2 {
		t.Errorf("nodes %v, leader %v, follower %v µs/op; want 8, 4, 2", c.NodesUsPerOp, c.LeaderUsPerOp, c.FollowerUsPerOp)
	}
	if len(c.Syncs) != 2 || c.Syncs[0].Node != 1 || c.Syncs[0].PerSec != 100 || c.Syncs[0].OpsPerSync != 5000 ||
		c.Syncs[1].Node != 2 || c.Syncs[1].Syncs != 400 {
		t.Errorf("syncs %+v", c.Syncs)
	}
	b.LeaderPid = 12
	if c := CPUDelta(a, b, 1_000_000); c.LeaderUsPerOp != 0 || c.FollowerUsPerOp != 0 || c.NodesUsPerOp != 8 {
		t.Errorf("leader changed: %+v", c)
	}
}
