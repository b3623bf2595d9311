package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

const compareSynopsis = `usage: bench compare [-force] [-out NAME] A.json B.json [C.json ...]

Prints the runs side by side (throughput and percentiles, with ratios to
the first run) and writes NAME.svg overlaying their percentile curves.
Refuses runs of different durability modes unless -force.

Repeated runs (bench -count N writes NAME-r1.json ... NAME-rN.json) given
together form one column: each figure is the median over its runs, and
the table is followed by whether each column differs from the first
beyond the noise (Mann-Whitney U over the runs, p < 0.05; 4 runs or more
each are needed to show any difference, 5 are a good start):

  bench compare results/a-r*.json results/b-r*.json

flags:`

func cmdCompare(args, argv []string, stdout io.Writer) error {
	fs := newFlagSet("bench compare")
	force := fs.Bool("force", false, "compare runs even if their durability modes differ")
	out := fs.String("out", "", "write the overlay plot to `NAME`.svg (default results/compare-<timestamp>)")
	files, err := parse(fs, args, compareSynopsis, stdout, true)
	if err != nil {
		return err
	}
	return compare(files, *force, *out, stdout)
}

func compare(files []string, force bool, out string, stdout io.Writer) error {
	if len(files) < 2 {
		return usageError{"compare needs at least two result files"}
	}
	rs := make([]*results.Result, len(files))
	names := make([]string, len(files))
	for i, f := range files {
		r, err := results.Load(f)
		if err != nil {
			return err
		}
		rs[i], names[i] = r, benchkit.RunName(f)
	}
	if err := benchkit.CheckComparable(rs, force); err != nil {
		return err
	}
	groups := benchkit.GroupRuns(rs, names)
	meds := make([]*results.Result, len(groups))
	gnames := make([]string, len(groups))
	for i, g := range groups {
		m, err := g.Median()
		if err != nil {
			return err
		}
		meds[i], gnames[i] = m, g.Name
		if len(g.Runs) > 1 {
			gnames[i] = fmt.Sprintf("%s (%d runs)", g.Name, len(g.Runs))
		}
	}
	// The table first: a plot that cannot be drawn or written must not
	// cost the user the comparison.
	benchkit.WriteCompare(stdout, meds, gnames)
	benchkit.WriteNoise(stdout, groups)
	svg, err := benchkit.CompareSVG(meds, gnames)
	if err != nil {
		fmt.Fprintf(stdout, "plot: not drawn: %v\n", err)
		return err
	}
	if out == "" {
		out = filepath.Join("results", "compare-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	path := results.Base(out) + ".svg"
	if err := results.WriteFiles(results.Output{Path: path, Data: svg}); err != nil {
		fmt.Fprintf(stdout, "plot: NOT written: %v\n", err)
		return err
	}
	fmt.Fprintf(stdout, "plot: %s\n", path)
	return nil
}
