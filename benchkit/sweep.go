package benchkit

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/plot"
	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/internal/config"
)

// Grid is the parameter grid of a sweep; an empty list keeps the base
// Config's value.
type Grid struct {
	BatchSize []int
	Pipeline  []int
	Clients   []int
	// Rates lists open-loop offered loads in ops/s (0: closed loop), in
	// the order they run: a rising list finds the open-loop knee, the
	// highest rate whose p99 (from the intended send times) stays within
	// the sweep's bound (see Sweep.Knee).
	Rates []int
}

// Point is one configuration of a sweep.
type Point struct {
	BatchSize, Pipeline, Clients int
	Rate                         int `json:",omitempty"`
}

// Label names a point in tables, plots and file names (e.g. "bs8-pl16-c200",
// and "-r20000" for an open-loop rate).
func (p Point) Label() string {
	l := fmt.Sprintf("bs%d-pl%d-c%d", p.BatchSize, p.Pipeline, p.Clients)
	if p.Rate > 0 {
		l += fmt.Sprintf("-r%d", p.Rate)
	}
	return l
}

// Points returns the grid's cross product in a stable order (clients
// outermost, then pipeline, batch size, and rate innermost, so that a
// configuration's rates run one after the other, rising as listed), each
// filled from base where the grid leaves a dimension empty.
func (g Grid) Points(base Config) []Point {
	or := func(l []int, d int) []int {
		if len(l) == 0 {
			return []int{d}
		}
		return l
	}
	var pts []Point
	for _, c := range or(g.Clients, base.Clients) {
		for _, pl := range or(g.Pipeline, base.Engine.Pipeline) {
			for _, bs := range or(g.BatchSize, base.Engine.BatchSize) {
				for _, r := range or(g.Rates, int(base.Rate)) {
					pts = append(pts, Point{BatchSize: bs, Pipeline: pl, Clients: c, Rate: r})
				}
			}
		}
	}
	return pts
}

// ErrSweep is wrapped by sweep configuration errors.
var ErrSweep = errors.New("benchkit: invalid sweep")

// Validate checks the grid against the base config: engine knobs cannot be
// swept on a running cluster (bench does not restart it), no list repeats
// a value, and every point must be a valid Config. Problems are
// internal/config.FieldErrors named by the Grid's fields, a point's by the
// Config's (see Config.Validate); errors.Is(err, ErrSweep) holds.
func (g Grid) Validate(base Config) error {
	v := config.NewCollector(ErrSweep)
	if len(g.BatchSize)+len(g.Pipeline)+len(g.Clients)+len(g.Rates) == 0 {
		v.Bad("BatchSize, Pipeline, Clients, Rates", nil, "nothing to sweep: give one of them a list")
	}
	if base.Rate != float64(int(base.Rate)) && len(g.Rates) == 0 {
		v.Bad("Rate", base.Rate, "a sweep takes a whole number of ops/s")
	}
	for i := 1; i < len(g.Rates); i++ {
		if g.Rates[i] <= g.Rates[i-1] {
			// Rising, so that the sweep can stop at the first rate past
			// the bound and the knee is read in order.
			v.Bad("Rates", g.Rates, "must rise")
			break
		}
	}
	lists := []struct {
		field  string
		vals   []int
		engine bool
	}{{"BatchSize", g.BatchSize, true}, {"Pipeline", g.Pipeline, true}, {"Clients", g.Clients, false}, {"Rates", g.Rates, false}}
	for _, l := range lists {
		if l.engine && len(l.vals) > 0 && len(base.Cluster) > 0 {
			v.Bad(l.field, nil, "cannot be swept on a running cluster")
		}
		// A repeated value would run the same point twice, into the
		// same result files.
		seen := map[int]bool{}
		for _, x := range l.vals {
			if seen[x] {
				v.Bad(l.field, nil, "lists %d twice", x)
				break
			}
			seen[x] = true
		}
	}
	for _, p := range g.Points(base) {
		if err := p.Apply(base).Validate(); err != nil {
			for _, fe := range config.Fields(err) {
				v.Bad(fe.Field, fe.Value, "%s (at sweep point %s)", fe.Problem, p.Label())
			}
			break
		}
	}
	return v.Err()
}

// Apply returns base with p's values. Conns is capped at Clients.
func (p Point) Apply(base Config) Config {
	c := base
	c.Engine.BatchSize, c.Engine.Pipeline, c.Clients, c.Rate = p.BatchSize, p.Pipeline, p.Clients, float64(p.Rate)
	if c.Conns > c.Clients {
		c.Conns = c.Clients
	}
	return c
}

// SweepRow is one measured point: with -count, the median over its runs.
type SweepRow struct {
	Point
	Label      string  `json:"label"`
	File       string  `json:"file"` // the point's (first run's) result JSON
	Throughput float64 `json:"ops_per_s"`
	P99        int64   `json:"p99_ns"`
	Errors     int64   `json:"errors"` // over all its runs
	Best       bool    `json:"best,omitempty"`
	// Tied: not told apart from the best by the noise test (MannWhitney
	// over the runs' throughput, p >= Alpha).
	Tied bool `json:"tied_with_best,omitempty"`
	// Files, ThroughputRuns and P99Runs are every run's, with -count.
	Files          []string  `json:"files,omitempty"`
	ThroughputRuns []float64 `json:"ops_per_s_runs,omitempty"`
	P99Runs        []float64 `json:"p99_ns_runs,omitempty"`
}

// Add records one run of the row's point; Throughput and P99 become the
// medians over its runs.
func (r *SweepRow) Add(file string, res *results.Result) {
	if len(r.Files) == 0 {
		r.File = file
	}
	r.Files = append(r.Files, file)
	r.ThroughputRuns = append(r.ThroughputRuns, res.Throughput)
	r.P99Runs = append(r.P99Runs, float64(res.Latency.P99))
	r.Errors += res.Errors
	r.Throughput = SpreadOf(r.ThroughputRuns).Median
	r.P99 = int64(SpreadOf(r.P99Runs).Median)
}

// Sweep is a sweep's summary, written to NAME.json next to the points.
type Sweep struct {
	Kind      string     `json:"kind"` // results.KindSweep
	Format    int        `json:"format"`
	Name      string     `json:"name"`
	Command   []string   `json:"command"`
	StartedAt time.Time  `json:"started_at"`
	P99MaxNs  int64      `json:"p99_max_ns,omitempty"`
	Count     int        `json:"count,omitempty"` // runs per point (-count)
	Rows      []SweepRow `json:"rows"`
	// Knees are the open-loop knees MarkBest found (Knee), with -rates
	// and -p99-max.
	Knees []KneeRow `json:"knees,omitempty"`
}

// MarkBest marks the row with the highest (median) throughput whose
// (median) p99 is within p99Max (any p99 when p99Max is 0) and no errors,
// returning its index or -1. Every other such row whose throughput the
// noise test cannot tell from the best's is marked Tied: the best is not
// picked on a difference inside the noise. With one run per point the
// noise is unknown, and nothing is marked tied (WriteTable says so).
func (s *Sweep) MarkBest() int {
	s.Knees = nil
	if s.P99MaxNs > 0 {
		s.Knees = s.Knee()
	}
	best := -1
	ok := s.within
	for i := range s.Rows {
		r := &s.Rows[i]
		r.Best, r.Tied = false, false
		if !ok(r) {
			continue
		}
		if best < 0 || r.Throughput > s.Rows[best].Throughput {
			best = i
		}
	}
	if best < 0 {
		return -1
	}
	b := &s.Rows[best]
	b.Best = true
	for i := range s.Rows {
		r := &s.Rows[i]
		if i == best || !ok(r) || len(r.ThroughputRuns) < 2 || len(b.ThroughputRuns) < 2 {
			continue
		}
		r.Tied = MannWhitney(b.ThroughputRuns, r.ThroughputRuns) >= Alpha
	}
	return best
}

// within reports whether r met the sweep's bound: p99 within P99MaxNs (any
// without one), no errors, and a throughput.
func (s *Sweep) within(r *SweepRow) bool {
	return !((s.P99MaxNs > 0 && r.P99 > s.P99MaxNs) || r.Errors > 0 || r.Throughput <= 0)
}

// Beyond reports whether a rising rate sweep can stop raising the rate of
// r's configuration: r is an open-loop point that missed the bound (so
// every higher rate would too, and costs a run each to show it).
func (s *Sweep) Beyond(r *SweepRow) bool {
	return r.Rate > 0 && s.P99MaxNs > 0 && !s.within(r)
}

// Knee returns, for each configuration (batch size, pipeline, clients) with
// open-loop rows, the highest offered rate whose row met the bound with
// every lower rate of it meeting it too: the rate up to which latency
// holds. ok is false for a configuration whose lowest rate already missed.
func (s *Sweep) Knee() []KneeRow {
	var out []KneeRow
	for i := range s.Rows {
		r := &s.Rows[i]
		if r.Rate == 0 {
			continue
		}
		cfg := r.Point
		cfg.Rate = 0
		k := slices.IndexFunc(out, func(k KneeRow) bool { return k.Config == cfg })
		if k < 0 {
			out = append(out, KneeRow{Config: cfg, ok: true})
			k = len(out) - 1
		}
		kr := &out[k]
		if !kr.ok || (kr.Rate > 0 && r.Rate < kr.Rate) {
			continue
		}
		if !s.within(r) {
			kr.ok = false
			continue
		}
		kr.Rate, kr.P99, kr.Throughput = r.Rate, r.P99, r.Throughput
	}
	return out
}

// KneeRow is one configuration's open-loop knee (Sweep.Knee).
type KneeRow struct {
	Config     Point   `json:"config"` // Rate zero
	Rate       int     `json:"rate"`   // 0: no rate met the bound
	P99        int64   `json:"p99_ns"`
	Throughput float64 `json:"ops_per_s"`
	ok         bool
}

// WriteTable prints the sweep's rows; the best is marked with '*', the
// rows the noise cannot tell from it with '~'.
func (s *Sweep) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%-28s %10s %8s %7s %8s %16s %14s %8s\n", "point", "batch-size", "pipeline", "clients", "rate", "ops/s", "p99", "errors")
	runs := 1
	for _, r := range s.Rows {
		mark := " "
		switch {
		case r.Best:
			mark = "*"
		case r.Tied:
			mark = "~"
		}
		runs = max(runs, len(r.ThroughputRuns))
		rate := "closed"
		if r.Rate > 0 {
			rate = commas(float64(r.Rate))
		}
		fmt.Fprintf(w, "%s%-27s %10s %8s %7d %8s %16s %14s %8d\n", mark, r.Label, knob(r.BatchSize), knob(r.Pipeline), r.Clients, rate,
			SpreadOf(r.ThroughputRuns).Format(commas), SpreadOf(r.P99Runs).Format(nsF), r.Errors)
	}
	best := slices.IndexFunc(s.Rows, func(r SweepRow) bool { return r.Best })
	for _, k := range s.Knees {
		cfg := fmt.Sprintf("batch-size %s, pipeline %s, %d clients", knob(k.Config.BatchSize), knob(k.Config.Pipeline), k.Config.Clients)
		if k.Rate == 0 {
			fmt.Fprintf(w, "open-loop knee (%s): none, the lowest rate already had p99 > %s or errors\n", cfg, FormatNs(s.P99MaxNs))
			continue
		}
		fmt.Fprintf(w, "open-loop knee (%s): %s ops/s offered, the highest rate with p99 <= %s there and at every lower rate (p99 %s, %s ops/s done)\n",
			cfg, commas(float64(k.Rate)), FormatNs(s.P99MaxNs), FormatNs(k.P99), commas(k.Throughput))
	}
	if s.P99MaxNs > 0 {
		bound := FormatNs(s.P99MaxNs)
		if best >= 0 {
			fmt.Fprintf(w, "* best throughput with p99 <= %s and no errors\n", bound)
		} else {
			fmt.Fprintf(w, "no point had p99 <= %s without errors\n", bound)
		}
	} else {
		fmt.Fprintln(w, "* best throughput without errors (no -p99-max bound)")
	}
	if best < 0 {
		return
	}
	switch {
	case runs < 2:
		fmt.Fprintln(w, "  one run per point: the noise is unknown and may be the difference (-count 5 tests it)")
	case slices.ContainsFunc(s.Rows, func(r SweepRow) bool { return r.Tied }):
		fmt.Fprintf(w, "~ not told apart from the best by the noise (Mann-Whitney U over %d runs, p >= %.2f): the best is not established over them\n", runs, Alpha)
		if MinP(runs, runs) >= Alpha {
			fmt.Fprintf(w, "  %d runs per point cannot show any difference beyond the noise: use -count 5\n", runs)
		}
	default:
		fmt.Fprintf(w, "  the best is beyond the noise of every other eligible point (Mann-Whitney U over %d runs, p < %.2f)\n", runs, Alpha)
	}
}

func knob(n int) string {
	if n == 0 {
		return "default"
	}
	return fmt.Sprint(n)
}

// SVG plots throughput against p99 for every point.
func (s *Sweep) SVG() []byte {
	pts := make([]plot.SweepPoint, len(s.Rows))
	best := -1
	// One line per client count, through its engine settings in grid
	// order; when every client count has one point, one line per batch
	// size and pipeline through the client counts.
	byClients := map[int]int{}
	for _, r := range s.Rows {
		byClients[r.Clients]++
	}
	perClients := false
	for _, n := range byClients {
		perClients = perClients || n > 1
	}
	for i, r := range s.Rows {
		line := fmt.Sprintf("%d clients", r.Clients)
		if !perClients {
			line = fmt.Sprintf("batch-size %s, pipeline %s", knob(r.BatchSize), knob(r.Pipeline))
		}
		pts[i] = plot.SweepPoint{Label: r.Label, P99: r.P99, Throughput: r.Throughput, Line: line}
		if r.Best {
			best = i
		}
	}
	return plot.Sweep("sweep "+s.Name, pts, s.P99MaxNs, best)
}

// NewSweep returns an empty sweep summary.
func NewSweep(name string, cmd []string, p99Max time.Duration, count int) *Sweep {
	return &Sweep{Kind: results.KindSweep, Format: results.Format, Name: name, Command: cmd, StartedAt: time.Now().UTC(),
		P99MaxNs: int64(p99Max), Count: count}
}
