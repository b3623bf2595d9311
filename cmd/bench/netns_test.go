package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/cluster"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// clientAttempt is the client library's default attempt timeout
// (client.DefaultConfig().Attempt), the other term of the recovery bound.
const clientAttempt = time.Second

// TestNetnsKernelFaults runs 5 nodes in network namespaces, the clients in
// another, and injects four faults in the kernel, one after another: a
// minority partition with the leader in it, a blackhole of the leader (no
// reset: connections hang), a cut between the clients and the leader (its
// peers still reach it), and 5% loss with 10% duplication on every link.
// The verdict must pass (linearizable, no acknowledged write lost), every
// fault must have been injected by the kernel, and after each heal the
// first acknowledged write must come within 2x the election timeout plus
// the client's attempt timeout, as must the downtime during a partition
// or blackhole of the leader (which they must show: an election ends
// them). It needs root and ip netns; elsewhere it
// skips with one line.
func TestNetnsKernelFaults(t *testing.T) {
	if err := cluster.NetnsUsable(); err != nil {
		t.Skipf("netns hosts unavailable: %v", err)
	}
	t.Cleanup(func() {
		// A run that failed half-way must leave nothing either.
		if left := cluster.NetnsOf(os.Getpid()); len(left) > 0 {
			t.Errorf("namespaces or links left after the run: %v", left)
			_, _ = cluster.RemoveNetnsOf(context.Background(), os.Getpid())
		}
	})
	// The last fault cuts every node off from the clients: it proves the
	// clients dial from their own namespace (from bench's, the cut would
	// not touch them).
	const schedule = "split=minority@2s+3s,blackhole-leader@8s+3s,clientcut-leader@14s+3s,drop=5%@20s+3s,dup=10%@20s+3s," +
		"clientcut=1@26s+2s,clientcut=2@26s+2s,clientcut=3@26s+2s,clientcut=4@26s+2s,clientcut=5@26s+2s"
	code, _, stderr, r := realBench(t, "-hosts", "netns", "-nodes", "5", "-clients", "50", "-keys", "2000",
		"-read-ratio", "0.3", "-check-sample", "0.25", "-timeout", "3s", "-warmup", "1s", "-duration", "31s",
		"-faults", schedule)
	if code != 0 || r == nil {
		t.Fatalf("bench exit %d: %s", code, lastLines(stderr, 20))
	}
	if r.Cluster.Hosts != cluster.HostsNetns {
		t.Errorf("the result says hosts %q, want netns", r.Cluster.Hosts)
	}
	v := r.Verdict
	if v == nil || v.LostAckedWrites == nil || *v.LostAckedWrites != 0 || v.Linearizable == nil || !*v.Linearizable || len(v.Failures) > 0 {
		t.Fatalf("verdict %+v", v)
	}
	if len(r.Faults) != 10 {
		t.Fatalf("%d faults in the result, want 10: %+v", len(r.Faults), r.Faults)
	}
	bound := 2*electionTimeout + clientAttempt
	for _, f := range r.Faults {
		if f.NotInjected || f.Error != "" || f.Layer != "kernel" {
			t.Errorf("%s: injected by %q, error %q", f.Spec, f.Layer, f.Error)
			continue
		}
		down := deref(f.DowntimeSec)
		if strings.HasPrefix(f.Spec, "clientcut=") {
			// Every node cut off from the clients: nothing completes
			// for the whole window.
			if f.EndSec-f.StartSec > 1 && down < 1 {
				t.Errorf("%s with every node cut off from the clients: downtime %.2fs: the clients do not dial from their namespace", f.Spec, down)
			}
			continue
		}
		if strings.HasPrefix(f.Spec, "dup") {
			continue // healed with the loss, at the same time
		}
		cuts := strings.HasPrefix(f.Spec, "split") || strings.HasPrefix(f.Spec, "blackhole")
		switch {
		case cuts && down <= 0:
			// The leader's clients must stall until a new leader is
			// elected: no stall means the kernel cut nothing.
			t.Errorf("%s: no downtime: the fault did not act", f.Spec)
		case cuts && time.Duration(down*float64(time.Second)) > bound:
			// An election ends these; a client cut of the leader has
			// no such remedy (its peers still hear it) and lasts.
			t.Errorf("%s: downtime %.2fs, want at most %v", f.Spec, down, bound)
		}
		first, ok := firstAckAfter(r.FaultSeries, f.EndSec)
		switch {
		case !ok:
			t.Errorf("%s: no write acknowledged after the heal at %.2fs", f.Spec, f.EndSec)
		case first > bound:
			t.Errorf("%s: first acknowledged write %v after the heal, want at most %v", f.Spec, first, bound)
		default:
			t.Logf("%s: first acknowledged write within %v of the heal (downtime %.2fs)", f.Spec, first, deref(f.DowntimeSec))
		}
	}
}

// firstAckAfter returns how long after heal (seconds from the origin) the
// first interval with a completed operation began: the first write
// acknowledged after the heal, to the series' step.
func firstAckAfter(s *results.FineSeries, heal float64) (time.Duration, bool) {
	if s == nil || s.StepS <= 0 {
		return 0, false
	}
	for i, ops := range s.OpsPerS {
		start := float64(i) * s.StepS
		if start+s.StepS <= heal || ops == 0 {
			continue
		}
		return time.Duration(max(0, start-heal) * float64(time.Second)), true
	}
	return 0, false
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// TestNetnsInterruptCleansUp: a run on netns hosts cut short (Ctrl-C
// cancels bench's context) removes its namespaces, veths and bridge
// before bench returns.
func TestNetnsInterruptCleansUp(t *testing.T) {
	if err := cluster.NetnsUsable(); err != nil {
		t.Skipf("netns hosts unavailable: %v", err)
	}
	bin := realNode(t)
	t.Setenv("TMPDIR", t.TempDir())
	t.Cleanup(func() { _, _ = cluster.RemoveNetnsOf(context.Background(), os.Getpid()) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		var o, e strings.Builder
		done <- realMain(ctx, []string{"bench", "-node-bin", bin, "-quiet", "-out", t.TempDir() + "/run",
			"-hosts", "netns", "-nodes", "3", "-clients", "10", "-warmup", "0s", "-duration", "1m"}, &o, &e)
	}()
	// Interrupt once the hosts exist and the nodes serve.
	up := false
	for deadline := time.Now().Add(time.Minute); !up && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		up = len(cluster.NetnsOf(os.Getpid())) > 0
	}
	if !up {
		t.Fatal("no namespaces within a minute")
	}
	time.Sleep(2 * time.Second)
	cancel()
	select {
	case code := <-done:
		if code == 0 {
			t.Errorf("an interrupted run exited 0")
		}
	case <-time.After(time.Minute):
		t.Fatal("bench did not return within a minute of the interrupt")
	}
	if left := cluster.NetnsOf(os.Getpid()); len(left) > 0 {
		t.Errorf("left after the interrupt: %v", left)
	}
}
