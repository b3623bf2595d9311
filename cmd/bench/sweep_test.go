package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
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

// The session check's record is sized so a default run's commands fit at
// twice the rate this machine reached (68k/s in a 5-node run, which the
// old 50k/s sizing cut to 600,000 of 818,178).
func TestRecordSizedForRun(t *testing.T) {
	cfg := benchkit.DefaultConfig()
	cfg.Check = true
	args := nodeArgs(cfg, runOpts{})
	if len(args) != 2 || args[0] != "-record-applied" {
		t.Fatalf("args %q", args)
	}
	n, _ := strconv.Atoi(args[1])
	if secs := (cfg.Duration + cfg.Warmup).Seconds(); float64(n) < secs*136_000 {
		t.Fatalf("record of %d for a %vs run: under 136k commands/s", n, secs)
	}
	cfg.Duration, cfg.Ops = 0, 1000
	if args := nodeArgs(cfg, runOpts{}); args[1] != "100000" {
		t.Fatalf("-ops 1000: %q", args)
	}
	if args := nodeArgs(cfg, runOpts{recordApplied: 5}); args[1] != "5" {
		t.Fatalf("-record-applied 5: %q", args)
	}
}
