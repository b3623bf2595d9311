package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpaxos/mpaxos/benchkit"
)

func TestSweepClients(t *testing.T) {
	useFake(t, &fakeTarget{})
	base := filepath.Join(t.TempDir(), "sw")
	code, out, errOut := bench(t, "sweep", "-cluster", "127.0.0.1:1", "-clients", "1,4", "-conns", "1",
		"-ops", "200", "-warmup", "0", "-p99-max", "1h", "-quiet", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Logf("sweep output:\n%s", out)
	b, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var sw benchkit.Sweep
	if err := json.Unmarshal(b, &sw); err != nil {
		t.Fatal(err)
	}
	if len(sw.Rows) != 2 || sw.Rows[0].Clients != 1 || sw.Rows[1].Clients != 4 {
		t.Fatalf("rows %+v", sw.Rows)
	}
	best := 0
	for i, r := range sw.Rows {
		if _, err := os.Stat(r.File); err != nil {
			t.Fatalf("point file: %v", err)
		}
		if r.Throughput > sw.Rows[best].Throughput {
			best = i
		}
	}
	if !sw.Rows[best].Best || sw.Rows[1-best].Best {
		t.Fatalf("best not marked on the higher throughput: %+v", sw.Rows)
	}
	if !strings.Contains(out, "*bs0-pl0-c") {
		t.Fatalf("table does not mark the best point:\n%s", out)
	}
	wellFormedSVG(t, base+".svg")
}

func TestSweepMarkBestRespectsBound(t *testing.T) {
	sw := benchkit.NewSweep("x", nil, 10e6)
	sw.Rows = []benchkit.SweepRow{
		{Label: "fast-but-slow-tail", Throughput: 9000, P99: 20e6},
		{Label: "ok", Throughput: 5000, P99: 8e6},
		{Label: "errors", Throughput: 7000, P99: 5e6, Errors: 3},
		{Label: "slow", Throughput: 1000, P99: 1e6},
	}
	if got := sw.MarkBest(); got != 1 {
		t.Fatalf("best %d, want 1 (%+v)", got, sw.Rows)
	}
	sw.P99MaxNs = 1
	if got := sw.MarkBest(); got != -1 {
		t.Fatalf("best %d with an impossible bound", got)
	}
}
