package benchkit

import (
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// Repeated runs (-count N) are written as NAME-r1 ... NAME-rN. One run on
// a machine shared with other work says little: its throughput moves by
// several percent from run to run. The repeats give each figure a median
// and a spread, and let compare and sweep tell a difference from the
// noise (MannWhitney).

// RepeatName is the base name of repeat i (from 1) of count runs named
// base; a single run keeps base.
func RepeatName(base string, i, count int) string {
	if count <= 1 {
		return base
	}
	return base + "-r" + strconv.Itoa(i)
}

var repeatSuffix = regexp.MustCompile(`-r[0-9]+$`)

// Group is the repeats of one configuration.
type Group struct {
	Name string
	Runs []*results.Result
}

// GroupRuns gathers runs whose names differ only in their -rK suffix
// (RepeatName) into one group each, in the order they first appear.
func GroupRuns(rs []*results.Result, names []string) []Group {
	var gs []Group
	at := map[string]int{}
	for i, r := range rs {
		stem := repeatSuffix.ReplaceAllString(names[i], "")
		k, ok := at[stem]
		if !ok {
			k = len(gs)
			at[stem] = k
			gs = append(gs, Group{Name: stem})
		}
		gs[k].Runs = append(gs[k].Runs, r)
	}
	for i := range gs {
		if len(gs[i].Runs) == 1 {
			gs[i].Name = names[indexOf(rs, gs[i].Runs[0])]
		}
	}
	return gs
}

func indexOf(rs []*results.Result, r *results.Result) int {
	for i := range rs {
		if rs[i] == r {
			return i
		}
	}
	return -1
}

// Values returns get of each run.
func (g Group) Values(get func(*results.Result) float64) []float64 {
	v := make([]float64, len(g.Runs))
	for i, r := range g.Runs {
		v[i] = get(r)
	}
	return v
}

// Median returns one result standing for the group: the first run with
// the median of each figure over the runs (throughput, errors, each
// percentile, CPU per operation), and the runs' histograms merged (for
// the plots). A group of one is that run.
func (g Group) Median() (*results.Result, error) {
	if len(g.Runs) == 1 {
		return g.Runs[0], nil
	}
	m := *g.Runs[0]
	med := func(get func(*results.Result) float64) float64 { return SpreadOf(g.Values(get)).Median }
	medNs := func(get func(*results.Result) int64) int64 {
		return int64(med(func(r *results.Result) float64 { return float64(get(r)) }))
	}
	m.Throughput = med(func(r *results.Result) float64 { return r.Throughput })
	m.Errors = medNs(func(r *results.Result) int64 { return r.Errors })
	m.Ops = medNs(func(r *results.Result) int64 { return r.Ops })
	l := &m.Latency
	l.P50 = medNs(func(r *results.Result) int64 { return r.Latency.P50 })
	l.P90 = medNs(func(r *results.Result) int64 { return r.Latency.P90 })
	l.P99 = medNs(func(r *results.Result) int64 { return r.Latency.P99 })
	l.P999 = medNs(func(r *results.Result) int64 { return r.Latency.P999 })
	l.P9999 = medNs(func(r *results.Result) int64 { return r.Latency.P9999 })
	l.Max = medNs(func(r *results.Result) int64 { return r.Latency.Max })
	l.Mean = med(func(r *results.Result) float64 { return r.Latency.Mean })
	if m.CPU != nil {
		c := *m.CPU
		cpu := func(get func(*results.CPU) float64) float64 {
			return med(func(r *results.Result) float64 {
				if r.CPU == nil {
					return 0
				}
				return get(r.CPU)
			})
		}
		c.NodesUsPerOp = cpu(func(c *results.CPU) float64 { return c.NodesUsPerOp })
		c.BenchUsPerOp = cpu(func(c *results.CPU) float64 { return c.BenchUsPerOp })
		m.CPU = &c
	}
	merged := hist.New()
	for _, r := range g.Runs {
		h, err := histOf(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name, err)
		}
		merged.Merge(h)
	}
	enc, err := hist.Encode(merged)
	if err != nil {
		return nil, err
	}
	m.Histogram = enc
	return &m, nil
}

// noiseFigures are the figures whose difference the noise test judges.
var noiseFigures = []struct {
	label string
	get   func(*results.Result) float64
	show  func(float64) string
}{
	{"ops/s", func(r *results.Result) float64 { return r.Throughput }, commas},
	{"p50", func(r *results.Result) float64 { return float64(r.Latency.P50) }, nsF},
	{"p99", func(r *results.Result) float64 { return float64(r.Latency.P99) }, nsF},
	{"p99.9", func(r *results.Result) float64 { return float64(r.Latency.P999) }, nsF},
}

func nsF(v float64) string { return FormatNs(int64(v)) }

// WriteRepeats prints the median and spread of a group's main figures.
func WriteRepeats(w io.Writer, g Group) {
	fmt.Fprintf(w, "\n%-12s %d runs of %s: median ±largest distance of a run from it\n", "repeats", len(g.Runs), g.Name)
	for _, f := range noiseFigures {
		s := SpreadOf(g.Values(f.get))
		fmt.Fprintf(w, "%-12s %-6s %s  (min %s, max %s)\n", "", f.label, s.Format(f.show), f.show(s.Min), f.show(s.Max))
	}
}

// WriteNoise prints, for every group after the first, whether each main
// figure differs from the first group's beyond the noise (Mann-Whitney U
// over the runs, p < Alpha).
func WriteNoise(w io.Writer, gs []Group) {
	if len(gs) < 2 {
		return
	}
	fmt.Fprintf(w, "%-12s against %s, over each group's runs (Mann-Whitney U, p < %.2f is beyond the noise):\n", "noise", gs[0].Name, Alpha)
	for _, g := range gs[1:] {
		for _, f := range noiseFigures {
			fmt.Fprintf(w, "%-12s %s %-6s %s\n", "", g.Name, f.label, Difference(gs[0].Values(f.get), g.Values(f.get)))
		}
	}
}
