package main

import (
	"context"
	"fmt"
	"io"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

const floorSynopsis = `usage: bench floor [-floor-syncs N] [-floor-rtts N] [run flags]

Measures this machine's floor for one synced write, the parts no consensus
protocol avoids: one fdatasync of a small record (in the temporary
directory, where bench keeps the nodes' data) plus two loopback round
trips (client to leader, leader to follower), each timed in this process.
Then it runs the benchmark, by default with one client on 3 nodes, times
the floor once more, and reports the run's p50 against the lower of the
two floors. Writes the run's files and NAME-floor.json.

  bench floor
  bench floor -nodes 5 -duration 20s

flags:`

// floorTarget is issue 26's bound on a 1-client p50, as a multiple of the
// floor.
const floorTarget = 1.5

// floorReport is NAME-floor.json.
type floorReport struct {
	Kind   string          `json:"kind"`
	Before benchkit.Floor  `json:"floor_before"`
	After  benchkit.Floor  `json:"floor_after"`
	Floor  int64           `json:"floor_ns"` // the lower of the two
	Run    string          `json:"run"`      // the run's result JSON
	P50    int64           `json:"p50_ns"`
	Ratio  float64         `json:"p50_over_floor"`
	Target float64         `json:"target_ratio"`
	Config benchkit.Config `json:"config"`
}

func cmdFloor(ctx context.Context, args, argv []string, stdout, stderr io.Writer) error {
	cfg := benchkit.DefaultConfig()
	cfg.Clients = 1
	var o runOpts
	fs := newFlagSet("bench floor")
	bindRun(fs, &cfg, &o, false)
	syncs := fs.Int("floor-syncs", 300, "fdatasyncs timed for the floor, before and after the run")
	rtts := fs.Int("floor-rtts", 3000, "loopback round trips timed for the floor, before and after the run")
	pos, err := parse(fs, args, floorSynopsis, stdout, false)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	finishRun(fs, &cfg)
	switch {
	case *syncs < 1 || *syncs > 100000:
		return usageError{fmt.Sprintf("-floor-syncs %d: must be 1..100000", *syncs)}
	case *rtts < 1 || *rtts > 1000000:
		return usageError{fmt.Sprintf("-floor-rtts %d: must be 1..1000000", *rtts)}
	case len(cfg.Cluster) > 0:
		return usageError{"bench floor times this machine's disk and loopback: it needs a cluster bench starts, not -cluster"}
	case o.count != 1 || o.tls || o.ceiling:
		return usageError{"bench floor runs once: -count, -tls and -ceiling do not apply"}
	}
	if err := cfg.Validate(); err != nil {
		return badUsage(err)
	}
	setSlack(cfg, stderr)
	name := o.out
	if name == "" {
		name = defaultName(cfg)
	}
	base := results.Base(name)
	if err := results.CheckOverwrite(base + "-floor.json"); err != nil {
		return err
	}

	before, err := benchkit.MeasureFloor("", *syncs, *rtts)
	if err != nil {
		return err
	}
	writeFloor(stdout, "floor before the run", before)
	res, err := runMeasured(ctx, cfg, o, name, argv, stdout, stderr)
	if err != nil {
		return err
	}
	after, err := benchkit.MeasureFloor("", *syncs, *rtts)
	if err != nil {
		return err
	}
	writeFloor(stdout, "floor after the run", after)

	rep := floorReport{Kind: "floor", Before: before, After: after, Floor: min(before.FloorNs, after.FloorNs),
		Run: base + ".json", P50: res.Latency.P50, Target: floorTarget, Config: cfg}
	if rep.Floor > 0 {
		rep.Ratio = float64(rep.P50) / float64(rep.Floor)
	}
	verdict := "within"
	if rep.Ratio > floorTarget {
		verdict = "above"
	}
	fmt.Fprintf(stdout, "\n=== floor: %d client(s), %d nodes: p50 %s = %.2fx the floor %s (%s the %.1fx target)\n",
		cfg.Clients, cfg.Nodes, benchkit.FormatNs(rep.P50), rep.Ratio, benchkit.FormatNs(rep.Floor), verdict, floorTarget)
	js, err := marshalIndent(rep)
	if err != nil {
		return err
	}
	if err := results.WriteFiles(results.Output{Path: base + "-floor.json", Data: js}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "results: %s-floor.json\n", base)
	return nil
}

func writeFloor(w io.Writer, what string, f benchkit.Floor) {
	fmt.Fprintf(w, "=== %s: fdatasync p50 %s (p99 %s, %d in %s) + 2 x loopback round trip p50 %s (p99 %s) = %s\n",
		what, benchkit.FormatNs(f.Sync.P50), benchkit.FormatNs(f.Sync.P99), f.Sync.Count, f.Dir,
		benchkit.FormatNs(f.RTT.P50), benchkit.FormatNs(f.RTT.P99), benchkit.FormatNs(f.FloorNs))
}
