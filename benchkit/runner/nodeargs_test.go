package runner

import (
	"strconv"
	"testing"

	"github.com/mpaxos/mpaxos/benchkit"
)

// The session check's record is sized so a default run's commands fit at
// twice the rate this machine reached (68k/s in a 5-node run).
func TestRecordSizedForRun(t *testing.T) {
	cfg := benchkit.DefaultConfig()
	cfg.Check = true
	args := NodeArgs(cfg, nil, 0)
	if len(args) != 2 || args[0] != "-record-applied" {
		t.Fatalf("args %q", args)
	}
	n, _ := strconv.Atoi(args[1])
	if secs := (cfg.Duration + cfg.Warmup).Seconds(); float64(n) < secs*136_000 {
		t.Fatalf("record of %d for a %vs run: under 136k commands/s", n, secs)
	}
	cfg.Duration, cfg.Ops = 0, 1000
	if args := NodeArgs(cfg, nil, 0); args[1] != "100000" {
		t.Fatalf("-ops 1000: %q", args)
	}
	if args := NodeArgs(cfg, nil, 5); args[1] != "5" {
		t.Fatalf("-record-applied 5: %q", args)
	}
}

// The read mode reaches the nodes only when the run names one.
func TestNodeArgsReadMode(t *testing.T) {
	cfg := benchkit.DefaultConfig()
	if args := NodeArgs(cfg, []string{"-x"}, 0); len(args) != 1 {
		t.Fatalf("no read mode: %q", args)
	}
	cfg.Engine.ReadMode = "index"
	if args := NodeArgs(cfg, []string{"-x"}, 0); len(args) != 3 || args[1] != "-read-mode" || args[2] != "index" {
		t.Fatalf("read mode index: %q", args)
	}
}
