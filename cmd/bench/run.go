package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/cluster"
	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/faults"
)

var runSynopsis = `usage: bench [flags]

Starts a local mpaxos cluster (-nodes real node processes on loopback, data
in a temporary directory), waits for a leader, warms up, drives -clients
logical clients for -duration, stops the cluster and prints the report.
Writes NAME.json, NAME.hgrm and NAME.svg (-out NAME; by default under
results/runs/, which git ignores). Exit status: 0 success, 1 failure (a
correctness check FAILED among them), 2 bad usage, 130 interrupted.
"bench compare -h" and "bench sweep -h" list those subcommands' flags.

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
	finishRun(fs, &cfg)
	if err := cfg.Validate(); err != nil {
		return badUsage(err)
	}
	if o.ceiling && len(cfg.Cluster) > 0 {
		return usageError{"-ceiling needs a cluster bench starts, not -cluster"}
	}
	if o.tls && len(cfg.Cluster) > 0 {
		return usageError{"-tls needs a cluster bench starts, not -cluster"}
	}
	if o.tlsRounds < 1 {
		return usageError{fmt.Sprintf("-tls-rounds %d: must be at least 1", o.tlsRounds)}
	}
	if o.count < 1 || o.count > maxCount {
		return usageError{fmt.Sprintf("-count must be 1..%d, got %d", maxCount, o.count)}
	}
	if o.tls && o.count > 1 {
		return usageError{"-tls with -count: -tls-rounds repeats the plain and TLS runs"}
	}
	setSlack(cfg, stderr)
	name := o.out
	if name == "" {
		name = defaultName(cfg)
	}
	if o.tls {
		return runTLSCost(ctx, cfg, o, name, argv, stdout, stderr)
	}
	if o.count == 1 {
		_, err = runMeasured(ctx, cfg, o, name, argv, stdout, stderr)
		return err
	}
	return runRepeated(ctx, cfg, o, results.Base(name), argv, stdout, stderr)
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

// runOnce is one complete benchmark: the path every run and every sweep
// point takes. It writes the result files and prints the report, and
// returns errInterrupted (after writing) if ctx was cancelled mid-run.
// ceiling, if not nil, is the null-mode run this one is reported against.
func runOnce(ctx context.Context, cfg benchkit.Config, o runOpts, name string, argv []string, ceiling *results.Result, stdout, stderr io.Writer) (*results.Result, error) {
	base := results.Base(name)
	// Refuse before spending minutes on a run whose results cannot be written.
	for _, ext := range []string{".json", ".hgrm", ".svg"} {
		if err := results.CheckOverwrite(base + ext); err != nil {
			return nil, err
		}
	}
	if err := results.CheckWritable(base); err != nil {
		return nil, err
	}
	wd, _ := os.Getwd()
	// Outside the repository there is no module to build cmd/node from:
	// the cluster then says so (cluster.ErrModule, which names -node-bin)
	// instead of a go build error from wherever bench was run.
	mod, modErr := cluster.FindModule(wd)
	where := mod
	if modErr != nil {
		where = wd
	}
	started := time.Now()
	machine := results.DescribeMachine(ctx, where)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	var (
		addrs  []string
		leader func() (uint64, bool)
		info   results.Cluster
		// durability is what the nodes reported on /status, "" if
		// they did not.
		durability string
		local      *cluster.Cluster
		stages     benchkit.StagesFunc
	)
	if len(cfg.Cluster) > 0 {
		addrs = cfg.Cluster
		info = results.Cluster{Nodes: len(addrs), External: true, Addrs: addrs, DurabilitySource: "flag",
			SettingsNote: "not asked (no -cluster-admin)"}
		if len(cfg.ClusterAdmin) > 0 {
			mon := cluster.NewMonitor(cfg.ClusterAdmin)
			mctx, cancel := context.WithCancel(ctx)
			defer cancel()
			sts := mon.Poll(mctx)
			go mon.Watch(mctx, 500*time.Millisecond)
			leader = mon.Leader
			stages = cluster.Stages(cfg.ClusterAdmin)
			durability = reported(&info, sts, leader)
		}
	} else {
		var err error
		local, err = cluster.Start(ctx, cluster.Config{
			Nodes: cfg.Nodes, Engine: cfg.Engine, Binary: o.nodeBin, ModuleDir: mod, Keep: cfg.Keep, Logger: logger,
			ExtraArgs: nodeArgs(cfg, o), TLS: o.useTLS,
		})
		if err != nil {
			return nil, err
		}
		defer func() {
			local.Close()
			if cfg.Keep {
				fmt.Fprintf(stdout, "kept          cluster data and logs in %s\n", local.Dir)
			}
		}()
		addrs, leader = local.ClientAddrs(), local.Leader
		stages = cluster.Stages(local.AdminAddrs())
		info = results.Cluster{Nodes: cfg.Nodes, Addrs: addrs, DurabilitySource: "started", TLS: o.useTLS}
		durability = reported(&info, local.Monitor.Poll(ctx), leader)
	}
	var tlsCfg *tls.Config
	if local != nil {
		tlsCfg = local.ClientTLS()
	}
	tgt, err := dialTarget(ctx, addrs, cfg.Conns, tlsCfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", strings.Join(addrs, ","), err)
	}
	defer tgt.Close()

	env := benchkit.Env{Target: tgt, Leader: leader, Stages: stages, CPU: benchkit.ProcCPU(nil)}
	if local != nil {
		env.CPU = benchkit.ProcCPU(local.Pids)
	}
	if !o.quiet {
		env.Progress = stdout
	}
	v, err := newVerifier(ctx, cfg, local, logger)
	if err != nil {
		return nil, err
	}
	v.install(&env)
	if err := v.readInitial(ctx, tgt); err != nil {
		return nil, err
	}
	out, err := benchkit.Run(ctx, cfg, env)
	if err != nil {
		v.stop(ctx)
		return nil, err
	}
	faultRes, verdict := v.finish(ctx, out, tgt, base)
	res, err := benchkit.NewResult(cfg, out, benchkit.Meta{
		Name: base, Command: argv, StartedAt: started, Machine: machine, Cluster: info,
	})
	if err != nil {
		return nil, err
	}
	res.Faults, res.Verdict, res.FaultSeries = faultRes, verdict, v.fine
	if durability != "" {
		res.Durability = durability // what the nodes said, not what bench passed or assumed
	}
	if ceiling != nil && ceiling.Throughput > 0 {
		res.Ceiling = &results.Ceiling{Throughput: ceiling.Throughput, Fraction: res.Throughput / ceiling.Throughput}
	}
	// The report comes first: whatever happens to the files, what was
	// measured is on the screen.
	benchkit.WriteReport(stdout, res)
	if local != nil {
		if err := local.CheckAlive(); err != nil {
			fmt.Fprintf(stdout, "%-12s a node exited during the run: %v\n", "WARNING", err)
		}
	}
	if err := writeResults(base, res, stdout); err != nil {
		return res, err
	}
	if out.Interrupted {
		return res, errInterrupted
	}
	if verdict != nil && len(verdict.Failures) > 0 {
		return res, fmt.Errorf("%w: %s", errVerdict, strings.Join(verdict.Failures, "; "))
	}
	return res, nil
}

// writeResults writes the run's files and says where they went: at base,
// or, when base cannot be written, in a temporary directory (and the run
// fails, since its results are not where they were asked for).
func writeResults(base string, res *results.Result, stdout io.Writer) error {
	files, err := benchkit.Files(base, res)
	if err != nil {
		return err
	}
	rescued, err := results.WriteOrRescue(files...)
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "%-12s %s.json  %s.hgrm  %s.svg\n", "results", base, base, base)
		return nil
	case rescued != "":
		b := filepath.Join(rescued, filepath.Base(base))
		fmt.Fprintf(stdout, "%-12s NOT written to %s: written to %s.json  %s.hgrm  %s.svg instead\n", "results", base, b, b, b)
		return fmt.Errorf("%w; the results were written to %s instead", err, rescued)
	}
	fmt.Fprintf(stdout, "%-12s NOT written: %v\n", "results", err)
	return err
}

// reported records in info what the nodes said on /status before the run:
// their effective settings, their durability (which then overrides what
// bench passed or was told) and the leader.
func reported(info *results.Cluster, sts []cluster.Status, leader func() (uint64, bool)) (durability string) {
	set, durability, note := cluster.ReportedSettings(sts)
	info.Settings, info.SettingsNote = set, note
	if durability != "" {
		info.DurabilitySource = "nodes"
	}
	if id, ok := leader(); ok {
		info.Leader = id
	}
	return durability
}
