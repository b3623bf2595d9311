package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// runTLSCost measures what TLS costs: the same workload on a plain TCP
// cluster and on a mutual-TLS one (a fresh cluster each run), alternated
// -tls-rounds times so drift on the machine (other load, thermal, page
// cache) falls on both alike, then a report of the medians. The runs'
// files are NAME-plain-K.* and NAME-tls-K.*.
func runTLSCost(ctx context.Context, cfg benchkit.Config, o runOpts, name string, argv []string, stdout, stderr io.Writer) error {
	base := results.Base(name)
	var plain, withTLS []*results.Result
	for k := 1; k <= o.tlsRounds; k++ {
		for _, on := range []bool{false, true} {
			ro := o
			ro.tls, ro.useTLS = false, on
			label, runName := "plain TCP", fmt.Sprintf("%s-plain-%d", base, k)
			if on {
				label, runName = "mutual TLS", fmt.Sprintf("%s-tls-%d", base, k)
			}
			fmt.Fprintf(stdout, "=== round %d/%d: %s\n", k, o.tlsRounds, label)
			res, err := runMeasured(ctx, cfg, ro, runName, argv, stdout, stderr)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", label, k, err)
			}
			if on {
				withTLS = append(withTLS, res)
			} else {
				plain = append(plain, res)
			}
		}
	}
	writeTLSCost(stdout, plain, withTLS)
	return nil
}

// tlsFigures are the medians of one side of the comparison.
type tlsFigures struct {
	throughput, nodeUsPerOp float64
}

func medians(rs []*results.Result) tlsFigures {
	var tp, cpu []float64
	for _, r := range rs {
		tp = append(tp, r.Throughput)
		if r.CPU != nil && r.CPU.NodesUsPerOp > 0 {
			cpu = append(cpu, r.CPU.NodesUsPerOp)
		}
	}
	return tlsFigures{throughput: median(tp), nodeUsPerOp: median(cpu)}
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

// writeTLSCost prints the comparison: throughput and node CPU per
// operation, plain and TLS, and TLS's change of each.
func writeTLSCost(w io.Writer, plain, withTLS []*results.Result) {
	p, t := medians(plain), medians(withTLS)
	fmt.Fprintf(w, "\n=== TLS cost (medians of %d interleaved plain/TLS run pairs)\n", len(plain))
	fmt.Fprintf(w, "%-22s %14s %14s %9s\n", "", "plain TCP", "mutual TLS", "change")
	fmt.Fprintf(w, "%-22s %14.0f %14.0f %s\n", "throughput (ops/s)", p.throughput, t.throughput, change(p.throughput, t.throughput))
	if p.nodeUsPerOp > 0 && t.nodeUsPerOp > 0 {
		fmt.Fprintf(w, "%-22s %14.2f %14.2f %s\n", "node CPU (µs/op)", p.nodeUsPerOp, t.nodeUsPerOp, change(p.nodeUsPerOp, t.nodeUsPerOp))
	} else {
		fmt.Fprintf(w, "%-22s %14s %14s\n", "node CPU (µs/op)", "not measured", "not measured")
	}
}

func change(from, to float64) string {
	if from == 0 {
		return "      n/a"
	}
	return fmt.Sprintf("%+8.1f%%", 100*(to-from)/from)
}
