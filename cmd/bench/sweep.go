package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/cluster"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

const sweepSynopsis = `usage: bench sweep [-batch-size L] [-pipeline L] [-clients L] [-rates L] [-p99-max D] [run flags]

Runs every combination of the comma-separated lists L, each point a full
benchmark (its own cluster and result files NAME-<point>.json/.hgrm/.svg),
prints throughput and p99 per point, marks the best throughput with p99
within -p99-max, and writes NAME.json and NAME.svg (throughput against p99).
With -count N every point runs N times, round by round (NAME-<point>-rK),
the table shows medians, and points whose throughput the noise cannot
tell from the best's (Mann-Whitney U, p >= 0.05) are marked '~'.

-rates runs open-loop points at rising offered loads (latency from the
intended send times) and, with -p99-max, reports the knee: the highest
rate whose p99 stays within the bound there and at every lower rate. A
configuration stops rising at its first rate past the bound.

  bench sweep -batch-size 1,8,64,256 -pipeline 1,16,128 -p99-max 10ms
  bench sweep -nodes 5 -clients 200 -rates 5000,10000,20000,40000,60000 -p99-max 10ms

flags:`

func cmdSweep(ctx context.Context, args, argv []string, stdout, stderr io.Writer) error {
	base := benchkit.DefaultConfig()
	var o runOpts
	var grid benchkit.Grid
	fs := newFlagSet("bench sweep")
	bindRun(fs, &base, &o, true)
	fs.Var(intsFlag{&grid.BatchSize}, "batch-size", "engine batch sizes to sweep, e.g. 1,8,64 (0: node default)")
	fs.Var(intsFlag{&grid.Pipeline}, "pipeline", "engine pipeline depths to sweep (0: node default)")
	fs.Var(intsFlag{&grid.Clients}, "clients", "client counts to sweep (default: 50)")
	fs.Var(intsFlag{&grid.Rates}, "rates", "rising open-loop offered loads in ops/s to sweep, e.g. 5000,10000,20000 (with -p99-max: the knee)")
	p99Max := fs.Duration("p99-max", 0, "mark the best throughput with p99 at most this (0: no bound)")
	pos, err := parse(fs, args, sweepSynopsis, stdout, false)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	finishRun(fs, &base)
	if err := checkSweep(base, grid, o, *p99Max); err != nil {
		return err
	}
	setSlack(base, stderr)
	name, err := sweepName(base, o.out)
	if err != nil {
		return err
	}
	if o.nodeBin == "" && len(base.Cluster) == 0 {
		// Build cmd/node once for every point rather than once per point.
		bin, cleanup, err := buildNode(ctx, stderr)
		if err != nil {
			return err
		}
		defer cleanup()
		o.nodeBin = bin
	}
	sw := benchkit.NewSweep(name, argv, *p99Max, o.count)
	pts := grid.Points(base)
	var runErr error
	sw.Rows, runErr = sweepRounds(ctx, base, pts, o, sw, argv, stdout, stderr)
	if len(sw.Rows) == 0 {
		return runErr
	}
	if err := reportSweep(sw, len(pts), o.count, stdout); err != nil {
		return errors.Join(runErr, err)
	}
	if errors.Is(runErr, errInterrupted) {
		return errInterrupted
	}
	return runErr
}

// sweepName is the sweep's results base name (-out, or a default), which
// must not name existing files.
func sweepName(base benchkit.Config, out string) (string, error) {
	name := out
	if name == "" {
		name = defaultName(base) + "-sweep"
	}
	name = results.Base(name)
	for _, ext := range []string{".json", ".svg"} {
		if err := results.CheckOverwrite(name + ext); err != nil {
			return "", err
		}
	}
	return name, nil
}

// checkSweep refuses a sweep that cannot be run, as a usageError.
func checkSweep(base benchkit.Config, grid benchkit.Grid, o runOpts, p99Max time.Duration) error {
	if p99Max < 0 {
		return usageError{"-p99-max must not be negative"}
	}
	if err := base.Validate(); err != nil {
		return badUsage(err)
	}
	if err := grid.Validate(base); err != nil {
		return badUsage(err)
	}
	switch {
	case o.count < 1 || o.count > maxCount:
		return usageError{fmt.Sprintf("-count must be 1..%d, got %d", maxCount, o.count)}
	case o.ceiling && len(base.Cluster) > 0:
		return usageError{"-ceiling needs a cluster bench starts, not -cluster"}
	}
	return nil
}

// sweepRounds runs every point once per round, o.count rounds: a drift of
// the machine (a neighbour's load, the page cache, thermal throttling)
// then falls on every point alike instead of on the last ones. It stops
// at the first run that fails or is interrupted, keeping what was
// measured: the rows of the points that have a run, in pts' order. An
// open-loop point past the bound in the first round skips the higher rates
// of its configuration (Sweep.Beyond).
func sweepRounds(ctx context.Context, base benchkit.Config, pts []benchkit.Point, o runOpts, sw *benchkit.Sweep, argv []string, stdout, stderr io.Writer) ([]benchkit.SweepRow, error) {
	name := sw.Name
	rows := make([]benchkit.SweepRow, len(pts))
	measured := func() []benchkit.SweepRow {
		return slices.DeleteFunc(rows, func(r benchkit.SweepRow) bool { return r.Label == "" })
	}
	skip := make([]bool, len(pts))
	for round := 1; round <= o.count; round++ {
		for i, pt := range pts {
			if skip[i] {
				continue
			}
			fmt.Fprintf(stdout, "\n=== sweep point %d/%d: %s", i+1, len(pts), pt.Label())
			if o.count > 1 {
				fmt.Fprintf(stdout, ", run %d/%d", round, o.count)
			}
			fmt.Fprintln(stdout)
			file := benchkit.RepeatName(name+"-"+pt.Label(), round, o.count)
			c := pt.Apply(base)
			c.Seed = base.Seed + uint64(round-1)
			res, err := runMeasured(ctx, c, o, file, argv, stdout, stderr)
			if res != nil && !(o.count > 1 && res.Interrupted) {
				rows[i].Point, rows[i].Label = pt, pt.Label()
				rows[i].Add(file+".json", res)
			}
			if err != nil {
				return measured(), fmt.Errorf("sweep point %s: %w", pt.Label(), err)
			}
			if round == 1 && rows[i].Label != "" && sw.Beyond(&rows[i]) {
				for j := i + 1; j < len(pts); j++ {
					if q := pts[j]; q.Rate > pt.Rate && q.BatchSize == pt.BatchSize && q.Pipeline == pt.Pipeline && q.Clients == pt.Clients {
						skip[j] = true
						fmt.Fprintf(stdout, "sweep: skipping %s: %s already missed the p99 bound\n", q.Label(), pt.Label())
					}
				}
			}
		}
	}
	return measured(), nil
}

// reportSweep marks the best point, prints the table and writes the
// sweep's files.
func reportSweep(sw *benchkit.Sweep, points, count int, stdout io.Writer) error {
	sw.MarkBest()
	fmt.Fprintf(stdout, "\nsweep %s (%d of %d points", sw.Name, len(sw.Rows), points)
	if count > 1 {
		fmt.Fprintf(stdout, ", %d runs each: medians ±the largest distance of a run from them", count)
	}
	fmt.Fprintln(stdout, ")")
	sw.WriteTable(stdout)
	if err := writeSweep(sw); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "results: %s.json  %s.svg\n", sw.Name, sw.Name)
	return nil
}

func writeSweep(sw *benchkit.Sweep) error {
	js, err := marshalIndent(sw)
	if err != nil {
		return err
	}
	return results.WriteFiles(
		results.Output{Path: sw.Name + ".json", Data: js},
		results.Output{Path: sw.Name + ".svg", Data: sw.SVG()},
	)
}

func marshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// buildNode builds cmd/node into a temporary directory, saying so on
// stderr (a cold build takes about a minute); cleanup removes it.
func buildNode(ctx context.Context, stderr io.Writer) (bin string, cleanup func(), err error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", nil, err
	}
	mod, err := cluster.FindModule(wd)
	if err != nil {
		return "", nil, err
	}
	if _, err := cluster.RemoveStale(""); err != nil {
		fmt.Fprintf(stderr, "bench: stale run directories not all removed: %v\n", err)
	}
	dir, err := cluster.MkdirRun("", cluster.TempBin, false)
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintf(stderr, "bench: building cmd/node in %s with go build (a first build takes about a minute; -node-bin skips it)\n", mod)
	cleanup = func() { os.RemoveAll(dir) }
	if bin, err = cluster.Build(ctx, mod, dir); err != nil {
		cleanup()
		return "", nil, err
	}
	return bin, cleanup, nil
}
