package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/naive"
)

// runOpts are the run flags that are not part of benchkit.Config.
type runOpts struct {
	out     string // -out: results base name
	nodeBin string // -node-bin: prebuilt cmd/node
	quiet   bool   // -quiet: no progress lines
	ceiling bool   // -ceiling: measure null mode first and report the fraction
	// nodeArgs (-node-arg, repeatable) are appended to every started
	// node's command line.
	nodeArgs []string
	// recordApplied (-record-applied) sizes the nodes' applied-command
	// record for the session check; 0 sizes it for the run.
	recordApplied int
	// tls (-tls) measures the workload over plain TCP and over TLS,
	// -rounds times each, interleaved, and reports the cost. useTLS
	// starts the cluster of one run with TLS.
	tls    bool
	useTLS bool
	// syncCost (-sync-cost) runs the workload with -sync=false and synced,
	// interleaved, and reports synced throughput as a fraction.
	syncCost bool
	// rounds (-rounds, or its old name -tls-rounds) is the number of run
	// pairs of -tls and -sync-cost.
	rounds int
	// count (-count) is the number of runs of each configuration.
	count int
	// scenario (-scenario) names a preset of -faults and the workload
	// (benchkit.Scenarios).
	scenario string
}

// fieldFlags names the flag that sets each field benchkit.Config.Validate
// and benchkit.Grid.Validate can complain about, so a user reads the flag
// they typed, not a Go name.
var fieldFlags = map[string]string{
	"Nodes": "-nodes", "ClusterAdmin": "-cluster-admin", "Clients": "-clients", "Conns": "-conns",
	"Duration": "-duration", "Ops": "-ops", "Warmup": "-warmup", "Timeout": "-timeout",
	"ValueSize": "-value-size", "KeySize": "key size", "Keys": "-keys", "ReadRatio": "-read-ratio",
	"Dist": "-dist", "ZipfS": "-zipf-s", "Rate": "-rate", "RESP": "-resp",
	"Engine.BatchSize": "-batch-size", "Engine.BatchBytes": "-batch-bytes", "Engine.BatchDelay": "-batch-delay",
	"Engine.Pipeline": "-pipeline", "Engine.Null": "-null", "Engine.ReadMode": "-read-mode", "Engine.Protocol": "-protocol",
	"Engine.Groups": "-groups", "Hosts": "-hosts", "FaultLayer": "-fault-layer",
	"Faults": "-faults", "Check": "-check", "CheckSample": "-check-sample", "CheckTimeout": "-check-timeout",
	// Grid's fields, for bench sweep.
	"BatchSize": "-batch-size", "Pipeline": "-pipeline", "Rates": "-rates",
	"BatchSize, Pipeline, Clients, Rates": "-batch-size, -pipeline, -clients, -rates",
}

// maxCount bounds -count: each run is a full benchmark.
const maxCount = 100

// appendFlag collects a repeatable string flag.
type appendFlag struct{ p *[]string }

func (a appendFlag) String() string {
	if a.p == nil {
		return ""
	}
	return strings.Join(*a.p, " ")
}

func (a appendFlag) Set(s string) error {
	*a.p = append(*a.p, s)
	return nil
}

// listFlag is a comma-separated list of strings (-cluster a,b,c).
type listFlag struct{ p *[]string }

func (l listFlag) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l listFlag) Set(s string) error {
	*l.p = nil
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l.p = append(*l.p, f)
		}
	}
	return nil
}

// intsFlag is a comma-separated list of non-negative integers (sweeps).
type intsFlag struct{ p *[]int }

func (l intsFlag) String() string {
	if l.p == nil {
		return ""
	}
	s := make([]string, len(*l.p))
	for i, v := range *l.p {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l intsFlag) Set(s string) error {
	*l.p = nil
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 {
			return fmt.Errorf("%q is not a non-negative integer", f)
		}
		*l.p = append(*l.p, v)
	}
	return nil
}

// distFlag accepts uniform or zipf.
type distFlag struct{ p *benchkit.Dist }

func (d distFlag) String() string {
	if d.p == nil {
		return ""
	}
	return string(*d.p)
}

func (d distFlag) Set(s string) error {
	switch benchkit.Dist(s) {
	case benchkit.Uniform, benchkit.Zipf:
		*d.p = benchkit.Dist(s)
		return nil
	}
	return fmt.Errorf("want uniform or zipf, got %q", s)
}

// bindRun registers the run flags on fs, writing into cfg and o. With
// sweep, the swept knobs (-batch-size, -pipeline, -clients) are left for
// the caller to register as lists.
func bindRun(fs *flag.FlagSet, cfg *benchkit.Config, o *runOpts, sweep bool) {
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "number of local `nodes` to start (1..15)")
	fs.Var(listFlag{&cfg.Cluster}, "cluster", "target a running cluster at these client `host:port,...` instead of starting one")
	fs.Var(listFlag{&cfg.ClusterAdmin}, "cluster-admin", "admin `host:port,...` of the running -cluster (for the current leader)")
	fs.StringVar(&cfg.ClusterAdminTokenFile, "cluster-admin-token-file", "", "`file` with the running -cluster's admin token (its nodes' -admin-token-file), for -faults")
	fs.BoolVar(&cfg.Keep, "keep", cfg.Keep, "keep the started cluster's data and logs")
	fs.StringVar(&cfg.Hosts, "hosts", cfg.Hosts, "where started nodes run: local (loopback) or netns (a network namespace per node on a bridge, clients in another; Linux, root)")
	fs.StringVar(&cfg.FaultLayer, "fault-layer", cfg.FaultLayer, "what injects network faults: kernel (nftables, tc, ip link; -hosts netns) or hook (the nodes' transport hook) (default kernel with -hosts netns, else hook)")
	fs.StringVar(&o.nodeBin, "node-bin", "", "use this prebuilt cmd/node `binary` instead of building it")
	if !sweep {
		fs.IntVar(&cfg.Engine.BatchSize, "batch-size", 0, "engine: max commands per batch (0: node default)")
		fs.IntVar(&cfg.Engine.Pipeline, "pipeline", 0, "engine: max unacknowledged slots (0: node default)")
		fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "concurrent logical clients, each with one outstanding operation")
	}
	fs.IntVar(&cfg.Engine.BatchBytes, "batch-bytes", 0, "engine: max bytes per batch (0: node default)")
	fs.DurationVar(&cfg.Engine.BatchDelay, "batch-delay", 0, "engine: max time a batch waits to fill (0: node default)")
	fs.BoolVar(&cfg.Engine.Sync, "sync", cfg.Engine.Sync, "engine: sync every write to disk before acknowledging")
	fs.Var(&cfg.Engine.Protocol, "protocol", "nodes' replication `protocol`: "+strings.Join(naive.Names(), "|")+" (all but paxos are naive schemes, to compare against; see bench why-paxos)")
	fs.BoolVar(&cfg.Engine.Null, "null", false, "start the nodes in null mode: answer clients without replicating or storing")
	fs.IntVar(&cfg.Engine.Groups, "groups", 0, "engine: Paxos `groups` the nodes split the keys over, 1..64, leaders spread over the nodes (0: node default, 1)")
	fs.BoolVar(&o.ceiling, "ceiling", false, "first run the same workload in -null mode and report this run as a fraction of it")
	if !sweep {
		fs.BoolVar(&o.tls, "tls", false, "run the workload on a plain TCP cluster and on a mutual-TLS one (throwaway CA, client certificates), interleaved, and report TLS's cost in throughput and node CPU per op")
		fs.BoolVar(&o.syncCost, "sync-cost", false, "run the workload with -sync=false and synced, interleaved, and report synced throughput as a fraction of unsynced and the node CPU per op of each")
		fs.IntVar(&o.rounds, "rounds", 1, "with -tls or -sync-cost: run pairs, interleaved (A, B, A, B, ...)")
		fs.IntVar(&o.rounds, "tls-rounds", 1, "the old name of -rounds")
	}
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "client connections shared by all clients")
	fs.BoolVar(&cfg.RESP, "resp", false, "drive the load through the nodes' Redis protocol port (GET/SET, each connection's commands pipelined) instead of the client library")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured run time (after -warmup)")
	fs.Int64Var(&cfg.Ops, "ops", 0, "stop after this many measured operations instead of -duration")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "unmeasured warm-up before measuring")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "timeout of one operation")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "value size in `bytes` (keys are 16 bytes)")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "number of distinct keys")
	fs.Float64Var(&cfg.ReadRatio, "read-ratio", cfg.ReadRatio, "fraction of operations that are gets (0..1)")
	fs.StringVar(&cfg.Engine.ReadMode, "read-mode", "", "engine: how the started nodes serve gets: log, index or lease (empty: the node's default)")
	fs.Var(distFlag{&cfg.Dist}, "dist", "key distribution: uniform or zipf")
	fs.Float64Var(&cfg.ZipfS, "zipf-s", cfg.ZipfS, "zipf exponent s (> 1)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: total offered `ops/s`, latency from intended send times (0: closed loop)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed for key and operation choice (0: from the clock)")
	fs.StringVar(&o.out, "out", "", "results base `name`: writes NAME.json, NAME.hgrm, NAME.svg (default results/<timestamp>)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines")
	if !sweep {
		fs.StringVar(&o.scenario, "scenario", "", "play a named preset of -faults and the workload ("+strings.Join(benchkit.ScenarioNames(), ", ")+"; see below)")
	}
	fs.StringVar(&cfg.Faults, "faults", "", "fault `schedule` played during the measured run, e.g. kill-leader@5s+3s,drop=2%@10s+5s (see below)")
	fs.BoolVar(&cfg.Check, "check", false, "check correctness after the run: linearizability, acknowledged writes read back, sessions, state hashes (default on with -faults)")
	fs.Float64Var(&cfg.CheckSample, "check-sample", 0, "fraction of keys whose history is checked for linearizability (0: 1000 keys' worth)")
	fs.DurationVar(&cfg.CheckTimeout, "check-timeout", 0, "bound on the linearizability check (0: 60s)")
	fs.IntVar(&o.recordApplied, "record-applied", 0, "with -check: commands each node records for the session check (0: sized for the run)")
	fs.IntVar(&o.count, "count", 1, "run each configuration this many times (NAME-r1 ... NAME-rN) and report the median and spread; a sweep interleaves the points' runs")
	fs.Var(appendFlag{&o.nodeArgs}, "node-arg", "extra `argument` for every started node (repeatable), e.g. -node-arg=-election-timeout=300ms")
}

// finishRun applies flag interplay after parsing: -ops alone means no
// -duration, and a zero seed becomes a recorded clock seed.
func finishRun(fs *flag.FlagSet, cfg *benchkit.Config) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["ops"] && !set["duration"] {
		cfg.Duration = 0
	}
	if !set["conns"] && cfg.Conns > cfg.Clients && cfg.Clients > 0 {
		cfg.Conns = cfg.Clients // the default 4 connections, but never more than clients
	}
	if len(cfg.Cluster) > 0 {
		cfg.Nodes = len(cfg.Cluster) // what is measured, not the unused default
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	if cfg.Faults != "" && !set["check"] {
		cfg.Check = true // a faulted run without a verdict proves little
	}
}

// parseInterleaved parses flags that may follow positional arguments
// (bench compare A.json B.json -force) and returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
