package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// pairCost is a same-invocation A/B of one setting: the workload on a
// fresh cluster without it (A) and with it (B), alternated rounds times so
// drift on the machine (other load, thermal, page cache) falls on both
// alike, then a report of the medians. The runs' files are NAME-<a>-K.*
// and NAME-<b>-K.*.
type pairCost struct {
	title          string // the report's heading: "TLS cost"
	labelA, labelB string // "plain TCP", "mutual TLS"
	fileA, fileB   string // "plain", "tls"
	// set applies side B (on) or A (off) to a run's config and options.
	set func(cfg *benchkit.Config, o *runOpts, on bool)
	// ratio: report B's throughput as a fraction of A's (sync cost), not
	// only as a change.
	ratio bool
}

var (
	tlsPair = pairCost{title: "TLS cost", labelA: "plain TCP", labelB: "mutual TLS", fileA: "plain", fileB: "tls",
		set: func(_ *benchkit.Config, o *runOpts, on bool) { o.tls, o.useTLS = false, on }}
	// syncPair measures what durability costs: issue 26's sync-sharing
	// target is synced throughput at least 70% of unsynced.
	syncPair = pairCost{title: "sync cost", labelA: "-sync=false", labelB: "synced", fileA: "nosync", fileB: "sync",
		set: func(c *benchkit.Config, o *runOpts, on bool) { o.syncCost, c.Engine.Sync = false, on }, ratio: true}
)

func runPair(ctx context.Context, p pairCost, cfg benchkit.Config, o runOpts, name string, argv []string, stdout, stderr io.Writer) error {
	base := results.Base(name)
	var a, b []*results.Result
	for k := 1; k <= o.rounds; k++ {
		for _, on := range []bool{false, true} {
			c, ro := cfg, o
			p.set(&c, &ro, on)
			label, runName := p.labelA, fmt.Sprintf("%s-%s-%d", base, p.fileA, k)
			if on {
				label, runName = p.labelB, fmt.Sprintf("%s-%s-%d", base, p.fileB, k)
			}
			fmt.Fprintf(stdout, "=== round %d/%d: %s\n", k, o.rounds, label)
			res, err := runMeasured(ctx, c, ro, runName, argv, stdout, stderr)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", label, k, err)
			}
			if on {
				b = append(b, res)
			} else {
				a = append(a, res)
			}
		}
	}
	writePair(stdout, p, a, b)
	return nil
}

// pairFigures are the medians of one side of the comparison.
type pairFigures struct {
	throughput, nodeUsPerOp float64
}

func medians(rs []*results.Result) pairFigures {
	var tp, cpu []float64
	for _, r := range rs {
		tp = append(tp, r.Throughput)
		if r.CPU != nil && r.CPU.NodesUsPerOp > 0 {
			cpu = append(cpu, r.CPU.NodesUsPerOp)
		}
	}
	return pairFigures{throughput: median(tp), nodeUsPerOp: median(cpu)}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// writePair prints the comparison: throughput and node CPU per operation
// of each side, and B's change of each (with ratio, B's throughput as a
// fraction of A's).
func writePair(w io.Writer, p pairCost, a, b []*results.Result) {
	fa, fb := medians(a), medians(b)
	fmt.Fprintf(w, "\n=== %s (medians of %d interleaved %s/%s run pairs)\n", p.title, len(a), p.labelA, p.labelB)
	fmt.Fprintf(w, "%-22s %14s %14s %9s\n", "", p.labelA, p.labelB, "change")
	fmt.Fprintf(w, "%-22s %14.0f %14.0f %s\n", "throughput (ops/s)", fa.throughput, fb.throughput, change(fa.throughput, fb.throughput))
	if fa.nodeUsPerOp > 0 && fb.nodeUsPerOp > 0 {
		fmt.Fprintf(w, "%-22s %14.2f %14.2f %s\n", "node CPU (µs/op)", fa.nodeUsPerOp, fb.nodeUsPerOp, change(fa.nodeUsPerOp, fb.nodeUsPerOp))
	} else {
		fmt.Fprintf(w, "%-22s %14s %14s\n", "node CPU (µs/op)", "not measured", "not measured")
	}
	if p.ratio && fa.throughput > 0 {
		fmt.Fprintf(w, "%s throughput is %.0f%% of %s\n", p.labelB, 100*fb.throughput/fa.throughput, p.labelA)
	}
}

func change(from, to float64) string {
	if from == 0 {
		return "      n/a"
	}
	return fmt.Sprintf("%+8.1f%%", 100*(to-from)/from)
}
