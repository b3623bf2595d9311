package benchkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/plot"
	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// ErrNotComparable: compare was given runs that measured different
// things: different durability modes (a synced and an unsynced run),
// load models (open and closed loop), node counts or client counts.
var ErrNotComparable = errors.New("benchkit: runs are not comparable; pass -force to compare anyway")

// runShape is what two runs must share to compare unforced.
type runShape struct {
	durability, mode string
	nodes, clients   int
}

func shapeOf(r *results.Result) runShape {
	var cfg Config
	_ = json.Unmarshal(r.Settings, &cfg)
	return runShape{durability: r.Durability, mode: r.Mode, nodes: r.Cluster.Nodes, clients: cfg.Clients}
}

// CheckComparable refuses, unless force, runs that differ from the first
// in durability, load model, node count or client count, naming every
// difference.
func CheckComparable(rs []*results.Result, force bool) error {
	if force || len(rs) == 0 {
		return nil
	}
	var diffs []string
	a := shapeOf(rs[0])
	for _, r := range rs[1:] {
		b := shapeOf(r)
		if a.durability != b.durability {
			diffs = append(diffs, fmt.Sprintf("different durability modes: %s is %s, %s is %s", rs[0].Name, a.durability, r.Name, b.durability))
		}
		if a.mode != b.mode {
			diffs = append(diffs, fmt.Sprintf("open loop against closed loop: %s is %s, %s is %s", rs[0].Name, a.mode, r.Name, b.mode))
		}
		if a.nodes != b.nodes {
			diffs = append(diffs, fmt.Sprintf("different node counts: %s has %d, %s has %d", rs[0].Name, a.nodes, r.Name, b.nodes))
		}
		if a.clients != b.clients {
			diffs = append(diffs, fmt.Sprintf("different client counts: %s has %d, %s has %d", rs[0].Name, a.clients, r.Name, b.clients))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNotComparable, strings.Join(diffs, "; "))
}

// WriteCompare prints the runs side by side; every column after the first
// shows its ratio to the first run (for latency, below 1 is better).
func WriteCompare(w io.Writer, rs []*results.Result, names []string) {
	const col = 22
	fmt.Fprintf(w, "%-12s", "")
	for _, n := range names {
		fmt.Fprintf(w, " %*s", col, trimName(n, col))
	}
	fmt.Fprintln(w)
	row := func(label string, get func(*results.Result) float64, show func(float64) string) {
		fmt.Fprintf(w, "%-12s", label)
		base := get(rs[0])
		for i, r := range rs {
			v := get(r)
			cell := show(v)
			if i > 0 {
				if base > 0 {
					cell += fmt.Sprintf(" (%.2fx)", v/base)
				} else {
					cell += " (-)"
				}
			}
			fmt.Fprintf(w, " %*s", col, cell)
		}
		fmt.Fprintln(w)
	}
	str := func(label string, get func(*results.Result) string) {
		fmt.Fprintf(w, "%-12s", label)
		for _, r := range rs {
			fmt.Fprintf(w, " %*s", col, trimName(get(r), col))
		}
		fmt.Fprintln(w)
	}
	str("durability", func(r *results.Result) string { return r.Durability })
	str("mode", func(r *results.Result) string { return r.Mode })
	str("nodes", func(r *results.Result) string {
		if r.Cluster.External {
			return fmt.Sprintf("%d external", r.Cluster.Nodes)
		}
		return fmt.Sprint(r.Cluster.Nodes)
	})
	str("clients", func(r *results.Result) string { return fmt.Sprint(shapeOf(r).clients) })
	// The nodes' reported values when known, else what bench passed
	// ("?" for the node's default, unknown to this result).
	knob := func(reported func(*adminapi.Settings) int, passed func(Engine) int) func(*results.Result) string {
		return func(r *results.Result) string {
			if s := r.Cluster.Settings; s != nil {
				return fmt.Sprint(reported(s))
			}
			var cfg Config
			_ = json.Unmarshal(r.Settings, &cfg)
			if v := passed(cfg.Engine); v > 0 {
				return fmt.Sprint(v)
			}
			return "?"
		}
	}
	str("batch size", knob(func(s *adminapi.Settings) int { return s.BatchSize }, func(e Engine) int { return e.BatchSize }))
	str("pipeline", knob(func(s *adminapi.Settings) int { return s.Pipeline }, func(e Engine) int { return e.Pipeline }))
	str("commit", func(r *results.Result) string {
		if c := r.Machine.GitCommit; len(c) > 12 {
			return c[:12]
		} else if c != "" {
			return c
		}
		return "?"
	})
	ns := func(v float64) string { return FormatNs(int64(v)) }
	row("ops/s", func(r *results.Result) float64 { return r.Throughput }, commas)
	row("errors", func(r *results.Result) float64 { return float64(r.Errors) }, commas)
	row("p50", func(r *results.Result) float64 { return float64(r.Latency.P50) }, ns)
	row("p90", func(r *results.Result) float64 { return float64(r.Latency.P90) }, ns)
	row("p99", func(r *results.Result) float64 { return float64(r.Latency.P99) }, ns)
	row("p99.9", func(r *results.Result) float64 { return float64(r.Latency.P999) }, ns)
	row("p99.99", func(r *results.Result) float64 { return float64(r.Latency.P9999) }, ns)
	row("max", func(r *results.Result) float64 { return float64(r.Latency.Max) }, ns)
	us := func(v float64) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1fµs", v)
	}
	cpu := func(get func(*results.CPU) float64) func(*results.Result) float64 {
		return func(r *results.Result) float64 {
			if r.CPU == nil {
				return 0
			}
			return get(r.CPU)
		}
	}
	row("node cpu/op", cpu(func(c *results.CPU) float64 { return c.NodesUsPerOp }), us)
	row("bench cpu/op", cpu(func(c *results.CPU) float64 { return c.BenchUsPerOp }), us)
}

func trimName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n+1:]
}

// CompareSVG overlays the runs' percentile curves.
func CompareSVG(rs []*results.Result, names []string) ([]byte, error) {
	curves := make([]plot.Curve, len(rs))
	for i, r := range rs {
		h, err := histOf(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
		curves[i] = plot.Curve{Name: fmt.Sprintf("%s: %s ops/s", names[i], commas(r.Throughput)), Points: hist.Curve(h)}
	}
	return plot.Compare("latency by percentile: "+strings.Join(names, " vs "), curves), nil
}

// RunName is the short name of a result file for tables: its base name
// without the extension.
func RunName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}
