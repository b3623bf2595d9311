package runner

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
)

// Config is one run: the workload and what surrounds it.
type Config struct {
	// Bench is the workload and the cluster to run it on. Required valid.
	Bench benchkit.Config
	// Name is the results' base name: Write writes NAME.json, NAME.hgrm
	// and NAME.svg. Required.
	Name string
	// Command is the command line, recorded in the result.
	Command []string
	// NodeBin is a prebuilt cmd/node binary to start; "" builds one.
	NodeBin string
	// NodeArgs are appended to every started node's command line.
	NodeArgs []string
	// RecordApplied sizes the nodes' applied-command record for the
	// session check; 0 sizes it for the run (see NodeArgs).
	RecordApplied int
	// TLS starts the cluster with mutual TLS (a throwaway CA).
	TLS bool
	// Quiet prints no progress lines.
	Quiet bool
	// Ceiling, if not nil, is the null-mode run this one is reported
	// against.
	Ceiling *results.Result
	// Stdout receives the progress lines and the report, Stderr the logs.
	// Required.
	Stdout, Stderr io.Writer
	// Dial connects the clients; nil is DialClients (from the clients'
	// namespace on netns hosts).
	Dial DialFunc
	// WatchPrimaries polls the started nodes during the measured run for
	// which of them answer clients, and with Bench.Check fails the run on
	// a split brain (two answering within one poll interval).
	WatchPrimaries bool
}

// ErrInterrupted: the context was cancelled during the run; what was
// measured was written.
var ErrInterrupted = errors.New("runner: interrupted; partial results written")

// ErrVerdict: a correctness check failed (the results were written).
var ErrVerdict = errors.New("runner: correctness check FAILED")

// Run is one benchmark run, step by step (see the package documentation).
// A Run is used once, from one goroutine.
type Run struct {
	cfg     Config
	base    string // results.Base(cfg.Name)
	logger  *slog.Logger
	started time.Time
	machine results.Machine

	// Set by Start.
	local  *cluster.Cluster // nil against a running cluster
	addrs  []string         // the client addresses
	info   results.Cluster
	leader func() (uint64, bool)
	stages benchkit.StagesFunc
	// durability is what the nodes reported on /status, "" if they did
	// not.
	durability string
	tgt        benchkit.Target
	v          *verifier
	cancel     context.CancelFunc // stops the leader monitor of a running cluster
	mon        *cluster.Monitor   // a running cluster's, with -cluster-admin

	// Set by Measure and Verify.
	out     *benchkit.Outcome
	faults  []results.Fault
	verdict *results.Verdict
	split   *benchkit.SplitBrain // with WatchPrimaries
}

// New returns a Run of cfg, not started.
func New(cfg Config) (*Run, error) {
	if err := cfg.Bench.Validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" || cfg.Stdout == nil || cfg.Stderr == nil {
		return nil, fmt.Errorf("%w: a run needs a name, Stdout and Stderr", benchkit.ErrConfig)
	}
	if cfg.Bench.RESP && cfg.TLS {
		return nil, fmt.Errorf("%w: the RESP front end serves plain TCP only, not TLS", benchkit.ErrConfig)
	}
	return &Run{cfg: cfg, base: results.Base(cfg.Name),
		logger: slog.New(slog.NewTextHandler(cfg.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}, nil
}

// Do runs every step, writes the result files and prints the report, and
// returns the result. It returns ErrInterrupted (after writing) if ctx
// was cancelled mid-run, and an error wrapping ErrVerdict when a
// correctness check failed.
func (r *Run) Do(ctx context.Context) (*results.Result, error) {
	defer r.Close()
	if err := r.Start(ctx); err != nil {
		return nil, err
	}
	if err := r.Measure(ctx); err != nil {
		return nil, err
	}
	r.Verify(ctx)
	return r.Write()
}

// Start refuses a run whose results could not be written (before minutes
// are spent on it), starts the cluster or attaches to the running one,
// records what the nodes report, connects the clients and prepares the
// fault schedule and the checks.
func (r *Run) Start(ctx context.Context) error {
	for _, ext := range []string{".json", ".hgrm", ".svg"} {
		if err := results.CheckOverwrite(r.base + ext); err != nil {
			return err
		}
	}
	if err := results.CheckWritable(r.base); err != nil {
		return err
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
	r.started = time.Now()
	r.machine = results.DescribeMachine(ctx, where)
	var err error
	if len(r.cfg.Bench.Cluster) > 0 {
		r.attach(ctx)
	} else if err = r.startLocal(ctx, mod); err != nil {
		return err
	}
	if err := r.connect(ctx); err != nil {
		return err
	}
	if r.v, err = newVerifier(ctx, r.cfg.Bench, r.local, r.logger); err != nil {
		return err
	}
	r.v.quiescent = r.cfg.Bench.Engine.Protocol.Naive()
	return r.v.readInitial(ctx, r.tgt)
}

// attach targets the running cluster of Bench.Cluster, watching its
// leader and reading its settings when its admin addresses are known.
func (r *Run) attach(ctx context.Context) {
	c := r.cfg.Bench
	r.addrs = c.Cluster
	r.info = results.Cluster{Nodes: len(r.addrs), External: true, Addrs: r.addrs, DurabilitySource: "flag",
		SettingsNote: "not asked (no -cluster-admin)"}
	if len(c.ClusterAdmin) == 0 {
		return
	}
	mon := cluster.NewMonitor(c.ClusterAdmin)
	r.mon = mon
	var mctx context.Context
	mctx, r.cancel = context.WithCancel(ctx)
	sts := mon.Poll(mctx)
	go mon.Watch(mctx, 500*time.Millisecond)
	r.leader = mon.Leader
	r.stages = cluster.Stages(c.ClusterAdmin)
	r.durability = reported(&r.info, sts, r.leader)
}

// startLocal starts Bench.Nodes node processes on loopback.
func (r *Run) startLocal(ctx context.Context, mod string) error {
	c := r.cfg.Bench
	sched, err := c.Schedule()
	if err != nil {
		return err
	}
	local, err := cluster.Start(ctx, cluster.Config{
		Nodes: c.Nodes, Spares: sched.Joins(), Engine: c.Engine, Binary: r.cfg.NodeBin, ModuleDir: mod, Keep: c.Keep, Logger: r.logger,
		ExtraArgs: NodeArgs(c, r.cfg.NodeArgs, r.cfg.RecordApplied), TLS: r.cfg.TLS, RESP: c.RESP,
		Hosts: c.Hosts, HookFaults: c.FaultLayer == benchkit.LayerHook,
	})
	if err != nil {
		return err
	}
	r.local = local
	// The clients get the spares' addresses too: a node that joins
	// during the run is one they can be redirected to.
	r.addrs, r.leader = local.DialAddrs(), local.Leader
	r.stages = local.Stages()
	r.info = results.Cluster{Nodes: c.Nodes, Addrs: local.ClientAddrs(), DurabilitySource: "started", TLS: r.cfg.TLS, Hosts: c.Hosts}
	sts := local.Monitor.Poll(ctx)
	if c.Engine.Groups > 1 && !c.Engine.Null {
		if sts, err = waitSpread(ctx, local.Monitor, c.Engine.Groups); err != nil {
			r.logger.Warn("the groups' leaders did not spread before the run", "err", err)
		}
	}
	r.durability = reported(&r.info, sts, r.leader)
	return nil
}

// spreadTimeout bounds waitSpread: a group hands its leadership to its
// preferred node a few election timeouts after that node caught up.
const spreadTimeout = 20 * time.Second

// waitSpread waits until every one of groups has a leader and each leads
// on its preferred node (group g on node g mod N + 1, the nodes' rule),
// so a run measures leaders spread over the nodes as they settle; it
// returns the last statuses, with an error if they never got there.
func waitSpread(ctx context.Context, mon *cluster.Monitor, groups int) ([]cluster.Status, error) {
	wctx, cancel := context.WithTimeout(ctx, spreadTimeout)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		sts := mon.Poll(wctx)
		leaders := groupLeaders(sts, groups)
		spread := true
		for g, id := range leaders {
			spread = spread && id == uint64(g%len(sts)+1)
		}
		if spread {
			return sts, nil
		}
		select {
		case <-wctx.Done():
			return sts, fmt.Errorf("after %v the groups' leaders are %v", spreadTimeout, leaders)
		case <-t.C:
		}
	}
}

// groupLeaders is, by group, the node whose /status says it leads the
// group (0 none).
func groupLeaders(sts []cluster.Status, groups int) []uint64 {
	out := make([]uint64, groups)
	for _, s := range sts {
		for _, gs := range s.GroupStatus {
			if gs.Role == "leader" && gs.Group >= 0 && gs.Group < groups {
				out[gs.Group] = uint64(s.ID)
			}
		}
	}
	return out
}

// connect dials the clients.
func (r *Run) connect(ctx context.Context) error {
	var tlsCfg *tls.Config
	dial, addrs := r.cfg.Dial, r.addrs
	if r.local != nil {
		tlsCfg = r.local.ClientTLS()
	}
	switch {
	case dial != nil:
	case r.cfg.Bench.RESP && r.local != nil:
		dial, addrs = DialRESP, r.local.RESPAddrs()
	case r.local != nil:
		dial = DialClientsVia(r.local.ClientDial())
	default:
		dial = DialClients
	}
	tgt, err := dial(ctx, addrs, r.cfg.Bench.Conns, tlsCfg)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", strings.Join(addrs, ","), err)
	}
	r.tgt = tgt
	return nil
}

// Measure warms up and drives the measured window, playing the fault
// schedule from its start. A cancelled ctx ends it early: what was
// measured is kept (and Write marks the result interrupted).
func (r *Run) Measure(ctx context.Context) error {
	env := benchkit.Env{Target: r.tgt, Leader: r.leader, Stages: r.stages, CPU: benchkit.ProcCPU(nil)}
	switch {
	case r.local != nil:
		env.CPU = benchkit.NodeCPU(r.local.Pids, benchkit.NodeCounters{LeaderPid: r.local.LeaderPid, Syncs: r.local.Monitor.Syncs})
	case r.mon != nil:
		env.CPU = benchkit.NodeCPU(nil, benchkit.NodeCounters{Syncs: r.mon.Syncs})
	}
	if !r.cfg.Quiet {
		env.Progress = r.cfg.Stdout
	}
	r.v.install(&env)
	var watch *primaryWatch
	if r.cfg.WatchPrimaries && r.local != nil {
		watch = watchPrimaries(ctx, r.local.AdminAddrs())
	}
	out, err := benchkit.Run(ctx, r.cfg.Bench, env)
	if watch != nil {
		sb := watch.Stop()
		r.split = &sb
	}
	if err != nil {
		r.v.stop(ctx)
		return err
	}
	r.out = out
	return nil
}

// Verify stops the fault schedule, heals the cluster and runs the
// correctness checks; their outcome is in the result Write builds.
func (r *Run) Verify(ctx context.Context) {
	r.faults, r.verdict = r.v.finish(ctx, r.out, r.tgt, r.base)
	if r.verdict != nil && r.v.quiescent {
		divergence(r.verdict, r.v.hashes)
	}
	if r.verdict != nil && r.split != nil {
		n := r.split.Intervals
		r.verdict.SplitBrainIntervals = &n
		r.verdict.Notes = append(r.verdict.Notes, r.split.String())
		if r.split.Found() {
			r.verdict.Failures = append(r.verdict.Failures, r.split.String())
		}
	}
}

// Write builds the result, prints the report and writes the result
// files. The error is ErrInterrupted if the run was cut short, wraps
// ErrVerdict if a check failed, or says why the files were not written
// where asked.
func (r *Run) Write() (*results.Result, error) {
	res, err := benchkit.NewResult(r.cfg.Bench, r.out, benchkit.Meta{
		Name: r.base, Command: r.cfg.Command, StartedAt: r.started, Machine: r.machine, Cluster: r.info,
	})
	if err != nil {
		return nil, err
	}
	res.Faults, res.Verdict, res.FaultSeries = r.faults, r.verdict, r.v.fine
	if r.durability != "" {
		res.Durability = r.durability // what the nodes said, not what bench passed or assumed
	}
	if c := r.cfg.Ceiling; c != nil && c.Throughput > 0 {
		res.Ceiling = &results.Ceiling{Throughput: c.Throughput, Fraction: res.Throughput / c.Throughput}
	}
	// The report comes first: whatever happens to the files, what was
	// measured is on the screen.
	benchkit.WriteReport(r.cfg.Stdout, res)
	if r.local != nil {
		if err := r.local.CheckAlive(); err != nil {
			fmt.Fprintf(r.cfg.Stdout, "%-12s a node exited during the run: %v\n", "WARNING", err)
		}
	}
	if err := writeResults(r.base, res, r.cfg.Stdout); err != nil {
		return res, err
	}
	if r.out.Interrupted {
		return res, ErrInterrupted
	}
	if r.verdict != nil && len(r.verdict.Failures) > 0 {
		return res, fmt.Errorf("%w: %s", ErrVerdict, strings.Join(r.verdict.Failures, "; "))
	}
	return res, nil
}

// Close disconnects the clients and stops a cluster Start started.
func (r *Run) Close() {
	if r.tgt != nil {
		r.tgt.Close()
		r.tgt = nil
	}
	if r.cancel != nil {
		r.cancel()
		r.cancel = nil
	}
	if r.local != nil {
		r.local.Close()
		if r.cfg.Bench.Keep {
			fmt.Fprintf(r.cfg.Stdout, "kept          cluster data and logs in %s\n", r.local.Dir)
		}
		r.local = nil
	}
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
	if set != nil && set.Groups > 1 {
		info.GroupLeaders = groupLeaders(sts, set.Groups)
		for _, s := range sts {
			if s.ID == 0 {
				continue
			}
			n := results.NodeGroups{Node: uint64(s.ID)}
			for _, id := range info.GroupLeaders {
				if id == uint64(s.ID) {
					n.Led++
				}
			}
			info.GroupsLed = append(info.GroupsLed, n)
		}
	}
	return durability
}
