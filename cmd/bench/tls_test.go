package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpaxos/mpaxos/benchkit/results"
)

// TestRealTLSCost: bench -tls runs the workload on a plain cluster and a
// mutual-TLS one in the same invocation, writes both results (the TLS one
// says so), and reports the cost in throughput and node CPU per op.
func TestRealTLSCost(t *testing.T) {
	base := filepath.Join(t.TempDir(), "cost")
	code, out, errOut, _ := realBench(t, "-out", base, "-tls", "-nodes", "3", "-clients", "8", "-duration", "1s", "-warmup", "300ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "=== TLS cost") {
		t.Fatalf("no TLS cost report")
	}
	for _, want := range []string{"=== round 1/1: plain TCP", "=== round 1/1: mutual TLS", "=== TLS cost", "throughput (ops/s)", "node CPU (µs/op)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	cost := out[strings.Index(out, "=== TLS cost"):]
	if strings.Contains(cost, "not measured") {
		t.Errorf("node CPU not measured:\n%s", cost)
	}
	for _, tc := range []struct {
		file string
		tls  bool
	}{{base + "-plain-1.json", false}, {base + "-tls-1.json", true}} {
		r, err := results.Load(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if r.Cluster.TLS != tc.tls || r.Throughput <= 0 || r.Errors != 0 {
			t.Errorf("%s: tls %v throughput %v errors %d; want tls %v, some throughput, no errors", tc.file, r.Cluster.TLS, r.Throughput, r.Errors, tc.tls)
		}
	}
}

// TestRealSyncCost: bench -sync-cost runs the workload unsynced and synced
// in the same invocation, the nodes reporting each durability, and says
// what fraction of the unsynced throughput the synced run keeps.
func TestRealSyncCost(t *testing.T) {
	base := filepath.Join(t.TempDir(), "sync")
	code, out, errOut, _ := realBench(t, "-out", base, "-sync-cost", "-nodes", "3", "-clients", "8", "-duration", "1s", "-warmup", "300ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"=== round 1/1: -sync=false", "=== round 1/1: synced", "=== sync cost", "synced throughput is "} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, tc := range []struct {
		file string
		sync bool
	}{{base + "-nosync-1.json", false}, {base + "-sync-1.json", true}} {
		r, err := results.Load(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if s := r.Cluster.Settings; s == nil || s.Sync != tc.sync || r.Throughput <= 0 {
			t.Errorf("%s: settings %+v throughput %v; want sync %v as the nodes report it", tc.file, s, r.Throughput, tc.sync)
		}
	}
}
