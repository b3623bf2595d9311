package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/benchkit/runner"
	"github.com/mpaxos/mpaxos/faults"
)

var runSynopsis = `usage: bench [flags]

Starts a local mpaxos cluster (-nodes real node processes on loopback, data
in a temporary directory), waits for a leader, warms up, drives -clients
logical clients for -duration, stops the cluster and prints the report.
Writes NAME.json, NAME.hgrm and NAME.svg (-out NAME; by default under
results/runs/, which git ignores). Exit status: 0 success, 1 failure (a
correctness check FAILED among them), 2 bad usage, 130 interrupted.
"bench compare -h", "bench sweep -h" and "bench floor -h" list those
subcommands' flags.

  bench -nodes 5 -clients 200
  bench -rate 50000 -duration 30s          open loop at 50k ops/s
  bench -cluster 10.0.0.1:8001,10.0.0.2:8001,10.0.0.3:8001
  bench compare results/a.json results/b.json
  bench sweep -batch-size 1,8,64,256 -p99-max 10ms
  bench -nodes 5 -duration 30s -faults kill-leader@10s+5s,partition-leader@20s+5s
  bench -faults drop=2%@5s+10s -check-sample 0.1

With -faults, the report gives each fault's window (from the start of
measuring), throughput and p50/p99 before, during and after it, its
downtime and the time until throughput is back to 90%; the plot shades the
windows. -check (on with -faults) then heals everything, restarts killed
nodes and checks the run: linearizability of the sampled keys' history
(porcupine; NAME-linearizability.html on a violation), every acknowledged
write read back ("acknowledged writes lost: N"), each client's commands
applied in order and once on every node, and equal state machine hashes.
A violation or a lost write makes bench exit with status 1.

` + faults.Usage + `
` + benchkit.ScenarioUsage() + `
flags:`

func cmdRun(ctx context.Context, args, argv []string, stdout, stderr io.Writer) error {
	cfg := benchkit.DefaultConfig()
	var o runOpts
	fs := newFlagSet("bench")
	bindRun(fs, &cfg, &o, false)
	pos, err := parse(fs, args, runSynopsis, stdout, false)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	if err := applyScenario(fs, &cfg, o.scenario); err != nil {
		return err
	}
	finishRun(fs, &cfg)
	if err := cfg.Validate(); err != nil {
		return badUsage(err)
	}
	if err := o.check(cfg); err != nil {
		return err
	}
	setSlack(cfg, stderr)
	name := o.out
	if name == "" {
		name = defaultName(cfg)
	}
	switch {
	case o.tls:
		return runPair(ctx, tlsPair, cfg, o, name, argv, stdout, stderr)
	case o.syncCost:
		return runPair(ctx, syncPair, cfg, o, name, argv, stdout, stderr)
	}
	if o.count == 1 {
		_, err = runMeasured(ctx, cfg, o, name, argv, stdout, stderr)
		return err
	}
	return runRepeated(ctx, cfg, o, results.Base(name), argv, stdout, stderr)
}

// check refuses the combinations of run options that cannot be run, as
// a usageError.
func (o runOpts) check(cfg benchkit.Config) error {
	switch {
	case o.ceiling && len(cfg.Cluster) > 0:
		return usageError{"-ceiling needs a cluster bench starts, not -cluster"}
	case o.tls && len(cfg.Cluster) > 0:
		return usageError{"-tls needs a cluster bench starts, not -cluster"}
	case o.rounds < 1:
		return usageError{fmt.Sprintf("-rounds %d: must be at least 1", o.rounds)}
	case o.tls && o.syncCost:
		return usageError{"-tls and -sync-cost are two A/Bs: run them one at a time"}
	case o.syncCost && (o.count > 1 || o.ceiling || cfg.Engine.Null):
		return usageError{"-sync-cost with -count, -ceiling or -null: -rounds repeats the pairs, and null nodes do not sync"}
	case o.count < 1 || o.count > maxCount:
		return usageError{fmt.Sprintf("-count must be 1..%d, got %d", maxCount, o.count)}
	case o.tls && o.count > 1:
		return usageError{"-tls with -count: -rounds repeats the plain and TLS runs"}
	case cfg.RESP && (o.tls || o.ceiling):
		return usageError{"-resp with -tls or -ceiling: the RESP front end serves plain TCP only, and null-mode nodes serve no RESP"}
	}
	return nil
}

// runRepeated runs cfg o.count times as NAME-r1 ... NAME-rN, each with its
// own seed (values written by one run are told apart from another's by
// the seed), and prints the median and spread. It stops at the first run
// that fails.
func runRepeated(ctx context.Context, cfg benchkit.Config, o runOpts, base string, argv []string, stdout, stderr io.Writer) error {
	// Refuse before the first run if a later one could not be written.
	for i := 1; i <= o.count; i++ {
		for _, ext := range []string{".json", ".hgrm", ".svg"} {
			if err := results.CheckOverwrite(benchkit.RepeatName(base, i, o.count) + ext); err != nil {
				return err
			}
		}
	}
	g := benchkit.Group{Name: base}
	var runErr error
	for i := 1; i <= o.count; i++ {
		fmt.Fprintf(stdout, "\n=== run %d/%d\n", i, o.count)
		c := cfg
		c.Seed = cfg.Seed + uint64(i-1)
		res, err := runMeasured(ctx, c, o, benchkit.RepeatName(base, i, o.count), argv, stdout, stderr)
		if res != nil && !res.Interrupted {
			g.Runs = append(g.Runs, res)
		}
		if err != nil {
			runErr = fmt.Errorf("run %d of %d: %w", i, o.count, err)
			break
		}
	}
	if len(g.Runs) > 1 {
		benchkit.WriteRepeats(stdout, g)
	}
	if errors.Is(runErr, errInterrupted) {
		return errInterrupted
	}
	return runErr
}

// runMeasured is runOnce, preceded with -ceiling by the same workload on
// null-mode nodes (NAME-null.*), whose throughput the run is reported
// against: the ceiling set by the client path and the harness on this
// machine, measured in the same invocation.
func runMeasured(ctx context.Context, cfg benchkit.Config, o runOpts, name string, argv []string, stdout, stderr io.Writer) (*results.Result, error) {
	if !o.ceiling || cfg.Engine.Null {
		return runOnce(ctx, cfg, o, name, argv, nil, stdout, stderr)
	}
	nullCfg := cfg
	nullCfg.Engine.Null = true
	nullCfg.Faults, nullCfg.Check = "", false // null nodes neither replicate nor fail
	fmt.Fprintf(stdout, "=== ceiling: the same workload on null-mode nodes\n")
	nres, err := runOnce(ctx, nullCfg, o, results.Base(name)+"-null", argv, nil, stdout, stderr)
	if err != nil {
		return nil, fmt.Errorf("ceiling run: %w", err)
	}
	fmt.Fprintf(stdout, "\n=== the run\n")
	return runOnce(ctx, cfg, o, name, argv, nres, stdout, stderr)
}

// defaultName is results/<UTC time>-n<nodes>-c<clients>.
func defaultName(cfg benchkit.Config) string {
	n := fmt.Sprintf("n%d", cfg.Nodes)
	if len(cfg.Cluster) > 0 {
		n = "ext"
	}
	return filepath.Join("results", "runs", fmt.Sprintf("%s-%s-c%d", time.Now().UTC().Format("20060102T150405Z"), n, cfg.Clients))
}

// runOnce is one complete benchmark (runner.Run): the path every run and
// every sweep point takes. ceiling, if not nil, is the null-mode run this
// one is reported against.
func runOnce(ctx context.Context, cfg benchkit.Config, o runOpts, name string, argv []string, ceiling *results.Result, stdout, stderr io.Writer) (*results.Result, error) {
	dial := dialTarget
	if cfg.Engine.Protocol.Naive() {
		dial = runner.DialNaive(cfg.Engine.Protocol)
	}
	r, err := runner.New(runner.Config{
		Bench: cfg, Name: name, Command: argv, NodeBin: o.nodeBin, NodeArgs: o.nodeArgs, RecordApplied: o.recordApplied,
		TLS: o.useTLS, Quiet: o.quiet, Ceiling: ceiling, Stdout: stdout, Stderr: stderr, Dial: dial,
		WatchPrimaries: cfg.Engine.Protocol.Naive() || o.scenario != "",
	})
	if err != nil {
		return nil, err
	}
	return r.Do(ctx)
}

// dialTarget connects the clients; tests replace it with an in-process
// fake. nil is the runner's own: the client library (from the clients'
// namespace on netns hosts; a DialFunc given here would dial from bench's),
// or RESP with -resp.
var dialTarget runner.DialFunc
