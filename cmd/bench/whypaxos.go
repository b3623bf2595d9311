package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/runner"
	"github.com/mpaxos/mpaxos/naive"
)

var whyPaxosSynopsis = `usage: bench why-paxos [flags]

Runs every protocol (-protocol: the naive schemes and Multi-Paxos) under
every scenario (-scenario: none, concurrent, lost-write, split-brain) on a
fresh local cluster each, checks each faulted run, and writes the table to
-out (results/why-paxos.md), each run's files beside it in a why-paxos/
directory. Expected: every naive scheme fails in the scenario built for
it, and paxos fails in none. Exit status 1 if paxos failed a check or a
run could not be made.

flags:`

// cellTimeout bounds one cell of the matrix (start, run, checks, stop),
// so one that cannot finish is reported as such and the matrix goes on.
const cellTimeout = 90 * time.Second

// whyPaxosOpts are why-paxos's flags.
type whyPaxosOpts struct {
	out       string
	nodeBin   string
	duration  time.Duration
	clients   int
	protocols []string
	scenarios []string
	quiet     bool
}

// applyScenario sets -scenario's preset on cfg. The preset owns -faults;
// -keys and -read-ratio given on the command line win over its workload.
func applyScenario(fs *flag.FlagSet, cfg *benchkit.Config, name string) error {
	if name == "" {
		return nil
	}
	s, err := benchkit.LookupScenario(name)
	if err != nil {
		return usageError{fmt.Sprintf("-scenario: %v", err)}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["faults"] {
		return usageError{"-scenario sets -faults: give one of them"}
	}
	keys, ratio := cfg.Keys, cfg.ReadRatio
	s.Apply(cfg)
	if set["keys"] {
		cfg.Keys = keys
	}
	if set["read-ratio"] {
		cfg.ReadRatio = ratio
	}
	return nil
}

func cmdWhyPaxos(ctx context.Context, args, argv []string, stdout, stderr io.Writer) error {
	o := whyPaxosOpts{out: filepath.Join("results", "why-paxos.md"), duration: 3 * time.Second, clients: 32,
		protocols: naive.Names(), scenarios: benchkit.ScenarioNames()}
	fs := newFlagSet("bench why-paxos")
	fs.StringVar(&o.out, "out", o.out, "the table's `file`; the runs go to a why-paxos/ directory beside it")
	fs.StringVar(&o.nodeBin, "node-bin", "", "use this prebuilt cmd/node `binary` instead of building it")
	fs.DurationVar(&o.duration, "duration", o.duration, "measured time of each run")
	fs.IntVar(&o.clients, "clients", o.clients, "concurrent logical clients of each run")
	fs.Var(listFlag{&o.protocols}, "protocols", "the rows: `protocols` to run")
	fs.Var(listFlag{&o.scenarios}, "scenarios", "the columns: `scenarios` to play")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines of the runs")
	pos, err := parse(fs, args, whyPaxosSynopsis, stdout, false)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	protos, scens, err := o.matrix()
	if err != nil {
		return err
	}
	dir := filepath.Join(filepath.Dir(o.out), "why-paxos")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	var cells []benchkit.WhyPaxosCell
	for _, p := range protos {
		for _, s := range scens {
			if ctx.Err() != nil {
				return errInterrupted
			}
			fmt.Fprintf(stdout, "=== %s, scenario %s\n", p, s.Name)
			c := o.cell(ctx, p, s, dir, argv, stdout, stderr)
			fmt.Fprintf(stdout, "=== %s, scenario %s: %s\n\n", p, s.Name, c.VerdictWords(dir))
			cells = append(cells, c)
		}
	}
	var b bytes.Buffer
	benchkit.WriteWhyPaxos(&b, cells, filepath.Dir(o.out), strings.Join(argv, " "), time.Since(start))
	if err := os.WriteFile(o.out, b.Bytes(), 0o644); err != nil {
		return err
	}
	stdout.Write(b.Bytes())
	fmt.Fprintf(stdout, "\nwrote %s\n", o.out)
	return whyPaxosOutcome(cells)
}

func (o whyPaxosOpts) matrix() ([]naive.Protocol, []benchkit.Scenario, error) {
	var protos []naive.Protocol
	for _, name := range o.protocols {
		p, err := naive.ParseProtocol(name)
		if err != nil {
			return nil, nil, usageError{fmt.Sprintf("-protocols: %v", err)}
		}
		protos = append(protos, p)
	}
	var scens []benchkit.Scenario
	for _, name := range o.scenarios {
		s, err := benchkit.LookupScenario(name)
		if err != nil {
			return nil, nil, usageError{fmt.Sprintf("-scenarios: %v", err)}
		}
		scens = append(scens, s)
	}
	if o.duration <= 0 || o.clients < 1 {
		return nil, nil, usageError{"-duration and -clients must be positive"}
	}
	return protos, scens, nil
}

// cell runs protocol p under scenario s on a fresh cluster.
func (o whyPaxosOpts) cell(ctx context.Context, p naive.Protocol, s benchkit.Scenario, dir string, argv []string, stdout, stderr io.Writer) benchkit.WhyPaxosCell {
	cfg := benchkit.DefaultConfig()
	cfg.Engine.Protocol = p
	cfg.Duration, cfg.Warmup, cfg.Clients = o.duration, 500*time.Millisecond, o.clients
	cfg.Conns = min(cfg.Conns, cfg.Clients)
	cfg.Seed = uint64(time.Now().UnixNano())
	cfg.CheckTimeout = 20 * time.Second
	cfg.Timeout = 2 * time.Second // the read-back of a cluster that cannot serve ends sooner
	s.Apply(&cfg)
	out := filepath.Join(dir, fmt.Sprintf("%s-%s", p, s.Name))
	for _, ext := range []string{".json", ".hgrm", ".svg", "-linearizability.html"} {
		os.Remove(out + ext) // the matrix is rewritten whole
	}
	ro := runOpts{out: out, nodeBin: o.nodeBin, quiet: o.quiet, scenario: s.Name}
	cctx, cancel := context.WithTimeout(ctx, cellTimeout)
	defer cancel()
	res, err := runOnce(cctx, cfg, ro, out, argv, nil, progress(stdout, o.quiet), stderr)
	if err != nil && !errors.Is(err, runner.ErrVerdict) {
		return benchkit.WhyPaxosCell{Protocol: p, Scenario: s, Err: err}
	}
	return benchkit.WhyPaxosCell{Protocol: p, Scenario: s, Result: res}
}

// progress is where a cell's report goes: stdout, or nowhere with -quiet.
func progress(stdout io.Writer, quiet bool) io.Writer {
	if quiet {
		return io.Discard
	}
	return stdout
}

// whyPaxosOutcome fails the command when a run could not be made or paxos
// failed a check; a naive scheme failing is what the matrix shows.
func whyPaxosOutcome(cells []benchkit.WhyPaxosCell) error {
	var bad []string
	for _, c := range cells {
		switch {
		case c.Result == nil:
			bad = append(bad, fmt.Sprintf("%s/%s: %v", c.Protocol, c.Scenario.Name, c.Err))
		case c.Protocol == naive.Paxos && c.Failed():
			bad = append(bad, fmt.Sprintf("paxos/%s: %s", c.Scenario.Name, strings.Join(c.Result.Verdict.Failures, "; ")))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("why-paxos: %s", strings.Join(bad, "; "))
	}
	return nil
}
