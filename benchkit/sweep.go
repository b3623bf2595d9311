package benchkit

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/plot"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// Grid is the parameter grid of a sweep; an empty list keeps the base
// Config's value.
type Grid struct {
	BatchSize []int
	Pipeline  []int
	Clients   []int
}

// Point is one configuration of a sweep.
type Point struct {
	BatchSize, Pipeline, Clients int
}

// Label names a point in tables, plots and file names (e.g. "bs8-pl16-c200").
func (p Point) Label() string {
	return fmt.Sprintf("bs%d-pl%d-c%d", p.BatchSize, p.Pipeline, p.Clients)
}

// Points returns the grid's cross product in a stable order (clients
// outermost, batch size innermost), each filled from base where the grid
// leaves a dimension empty.
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
				pts = append(pts, Point{BatchSize: bs, Pipeline: pl, Clients: c})
			}
		}
	}
	return pts
}

// ErrSweep is wrapped by sweep configuration errors.
var ErrSweep = errors.New("benchkit: invalid sweep")

// Validate checks the grid against the base config: engine knobs cannot be
// swept on a running cluster (bench does not restart it), and every point
// must be a valid Config.
func (g Grid) Validate(base Config) error {
	var errs []error
	if len(base.Cluster) > 0 && (len(g.BatchSize) > 0 || len(g.Pipeline) > 0) {
		errs = append(errs, errors.New("-batch-size and -pipeline cannot be swept on a running -cluster"))
	}
	if len(g.BatchSize)+len(g.Pipeline)+len(g.Clients) == 0 {
		errs = append(errs, errors.New("nothing to sweep: give -batch-size, -pipeline or -clients a list"))
	}
	// A repeated value would run the same point twice, into the same
	// result files.
	for _, l := range []struct {
		flag string
		vals []int
	}{{"-batch-size", g.BatchSize}, {"-pipeline", g.Pipeline}, {"-clients", g.Clients}} {
		seen := map[int]bool{}
		for _, v := range l.vals {
			if seen[v] {
				errs = append(errs, fmt.Errorf("%s lists %d twice", l.flag, v))
				break
			}
			seen[v] = true
		}
	}
	for _, p := range g.Points(base) {
		if err := p.Apply(base).Validate(); err != nil {
			errs = append(errs, fmt.Errorf("point %s: %w", p.Label(), err))
			break
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrSweep, errors.Join(errs...))
}

// Apply returns base with p's values. Conns is capped at Clients.
func (p Point) Apply(base Config) Config {
	c := base
	c.Engine.BatchSize, c.Engine.Pipeline, c.Clients = p.BatchSize, p.Pipeline, p.Clients
	if c.Conns > c.Clients {
		c.Conns = c.Clients
	}
	return c
}

// SweepRow is one measured point.
type SweepRow struct {
	Point
	Label      string  `json:"label"`
	File       string  `json:"file"` // the point's result JSON
	Throughput float64 `json:"ops_per_sec"`
	P99        int64   `json:"p99_ns"`
	Errors     int64   `json:"errors"`
	Best       bool    `json:"best,omitempty"`
}

// Sweep is a sweep's summary, written to NAME.json next to the points.
type Sweep struct {
	Kind      string     `json:"kind"` // results.KindSweep
	Format    int        `json:"format"`
	Name      string     `json:"name"`
	Command   []string   `json:"command"`
	StartedAt time.Time  `json:"started_at"`
	P99MaxNs  int64      `json:"p99_max_ns,omitempty"`
	Rows      []SweepRow `json:"rows"`
}

// MarkBest marks the row with the highest throughput whose p99 is within
// p99Max (any p99 when p99Max is 0) and no errors, returning its index or -1.
func (s *Sweep) MarkBest() int {
	best := -1
	for i := range s.Rows {
		r := &s.Rows[i]
		r.Best = false
		if (s.P99MaxNs > 0 && r.P99 > s.P99MaxNs) || r.Errors > 0 || r.Throughput <= 0 {
			continue
		}
		if best < 0 || r.Throughput > s.Rows[best].Throughput {
			best = i
		}
	}
	if best >= 0 {
		s.Rows[best].Best = true
	}
	return best
}

// WriteTable prints the sweep's rows; the best is marked with '*'.
func (s *Sweep) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%-22s %10s %8s %7s %14s %10s %8s\n", "point", "batch-size", "pipeline", "clients", "ops/s", "p99", "errors")
	for _, r := range s.Rows {
		mark := " "
		if r.Best {
			mark = "*"
		}
		fmt.Fprintf(w, "%s%-21s %10s %8s %7d %14s %10s %8d\n", mark, r.Label, knob(r.BatchSize), knob(r.Pipeline), r.Clients,
			commas(r.Throughput), FormatNs(r.P99), r.Errors)
	}
	if s.P99MaxNs > 0 {
		bound := FormatNs(s.P99MaxNs)
		if slices.ContainsFunc(s.Rows, func(r SweepRow) bool { return r.Best }) {
			fmt.Fprintf(w, "* best throughput with p99 <= %s and no errors\n", bound)
		} else {
			fmt.Fprintf(w, "no point had p99 <= %s without errors\n", bound)
		}
	} else {
		fmt.Fprintln(w, "* best throughput without errors (no -p99-max bound)")
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
	for i, r := range s.Rows {
		pts[i] = plot.SweepPoint{Label: r.Label, P99: r.P99, Throughput: r.Throughput}
		if r.Best {
			best = i
		}
	}
	return plot.Sweep("sweep "+s.Name, pts, s.P99MaxNs, best)
}

// NewSweep returns an empty sweep summary.
func NewSweep(name string, cmd []string, p99Max time.Duration) *Sweep {
	return &Sweep{Kind: results.KindSweep, Format: results.Format, Name: name, Command: cmd, StartedAt: time.Now().UTC(), P99MaxNs: int64(p99Max)}
}
