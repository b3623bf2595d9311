package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/cluster"
	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/check"
	"github.com/mpaxos/mpaxos/faults"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// Bounds of the end-of-run steps, so a cluster that does not come back
// fails the run instead of hanging it.
const (
	healTimeout   = 60 * time.Second // HealAll: restarts, resumes, POST /faults
	leaderTimeout = 30 * time.Second // an agreed leader after healing
	settleTimeout = 20 * time.Second // every node at the same applied slot
	// appliedTimeout bounds reading every node's /applied: its size grows
	// with the run (a 30 s run at 37k ops/s is ~50 MB of JSON per node),
	// which a node sharing a busy machine takes well over 5 s to encode.
	appliedTimeout = 2 * time.Minute
)

// The applied-command record a node keeps for the session check is sized
// for the run at recordRate commands per second of warm-up and measured
// time: about twice the most this machine has executed (68k/s, in a
// 5-node faulted run), so the check sees the whole run. Each entry is 24 bytes in a node's memory, so
// maxRecord (about 190 MiB per node) bounds long runs; their check is then
// partial, and says so.
const (
	recordRate = 150_000
	maxRecord  = 8_000_000
)

// NodeArgs is what every started node gets besides the launcher's flags:
// extra, the read mode when cfg.Engine names one, and with cfg.Check a
// record of applied commands of recordApplied commands, or sized for the
// run when that is 0 (see recordRate).
func NodeArgs(cfg benchkit.Config, extra []string, recordApplied int) []string {
	args := append([]string(nil), extra...)
	if cfg.Engine.Protocol.Naive() {
		args = append(args, "-protocol="+cfg.Engine.Protocol.String())
	}
	if cfg.Engine.ReadMode != "" {
		args = append(args, "-read-mode", cfg.Engine.ReadMode)
	}
	if cfg.Check && !cfg.Engine.Null {
		n := recordApplied
		if n <= 0 {
			if cfg.Ops > 0 {
				n = int(cfg.Ops) * 2
			} else {
				n = int((cfg.Duration + cfg.Warmup).Seconds() * recordRate)
			}
			n = min(max(n, 100_000), maxRecord)
		}
		args = append(args, "-record-applied", strconv.Itoa(n))
	}
	return args
}

// verifier plays the fault schedule alongside the load and runs the
// correctness checks after it.
type verifier struct {
	cfg   benchkit.Config
	sched faults.Schedule
	local *cluster.Cluster
	// admins are a running cluster's admin addresses; a local cluster's
	// are read when needed (adminAddrs), since its members may change.
	admins []string
	rec    *benchkit.Recording
	// fine is the fault runner's series of the run, for the plot (set by
	// finish when faults were played).
	fine   *results.FineSeries
	runner *faults.Runner
	logger *slog.Logger

	// initialRead: the checked keys' values were read before the run
	// (readInitial); initialNote says so, or why not, for the verdict.
	initialRead bool
	initialNote string

	origin  time.Time
	cancel  context.CancelFunc
	done    chan error // the Runner's result; nil until it started
	started bool

	// quiescent (naive schemes, whose nodes need not reach one slot): the
	// hashes are taken once the nodes stop applying (quiescentHashes),
	// and kept in hashes for Run.Verify's divergence line.
	quiescent bool
	hashes    []check.NodeState
}

func newVerifier(ctx context.Context, cfg benchkit.Config, local *cluster.Cluster, logger *slog.Logger) (*verifier, error) {
	sched, err := cfg.Schedule()
	if err != nil {
		return nil, err
	}
	v := &verifier{cfg: cfg, sched: sched, local: local, logger: logger}
	if local == nil {
		v.admins = cfg.ClusterAdmin
	}
	if len(sched) == 0 && !cfg.Check {
		return v, nil
	}
	if v.rec, err = benchkit.NewRecording(cfg, len(sched) > 0); err != nil {
		return nil, err
	}
	if len(sched) == 0 {
		return v, nil
	}
	fc, err := faulter(ctx, cfg, local)
	if err != nil {
		return nil, err
	}
	rcfg := faults.DefaultRunnerConfig()
	rcfg.Logger = logger
	if v.runner, err = faults.NewRunner(rcfg, sched, fc); err != nil {
		return nil, err
	}
	if err := sched.Check(fc.Members()); err != nil {
		return nil, fmt.Errorf("the fault schedule: %w", err)
	}
	return v, nil
}

// faulter returns the controls the fault schedule acts through: the
// launcher's of a local cluster, or a running cluster's admin endpoints
// (with its admin token, which POST /faults needs).
func faulter(ctx context.Context, cfg benchkit.Config, local *cluster.Cluster) (*cluster.Faulter, error) {
	if local != nil {
		return local.Faulter(), nil
	}
	var token string
	if cfg.ClusterAdminTokenFile != "" {
		var err error
		if token, err = cluster.ReadToken(cfg.ClusterAdminTokenFile); err != nil {
			return nil, err
		}
	}
	return cluster.RemoteFaulter(ctx, cfg.ClusterAdmin, token)
}

// readInitial reads, before the run, what the checked keys hold on a
// cluster bench did not start (earlier runs' writes), so the
// linearizability check starts each key where it was. When the key space
// is too large to walk, the check takes each key's earlier value as found
// instead (check's PriorState), and the verdict says so.
func (v *verifier) readInitial(ctx context.Context, tgt benchkit.Target) error {
	if v.rec == nil || v.rec.History() == nil || v.local != nil {
		return nil
	}
	keys, ok := benchkit.SampledKeys(v.cfg)
	if !ok {
		v.initialNote = fmt.Sprintf("the checked keys' values before the run were not read (more than %d -keys to walk): each key's earlier value is taken as found", benchkit.SampledKeysMax)
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, appliedTimeout)
	defer cancel()
	read := readBack(tgt, v.cfg.Timeout)
	h := v.rec.History()
	sem := make(chan struct{}, benchkit.ReadBackConcurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, k := range keys {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			val, found, err := read(rctx, k)
			if err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
				return
			}
			h.SetInitial(k, val, found)
		}()
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("reading the checked keys' values before the run: %w", first)
	}
	v.initialRead = true
	v.initialNote = fmt.Sprintf("read the values of the %d checked keys before the run: a running cluster holds what earlier runs wrote", len(keys))
	return nil
}

// install hooks the recording and the schedule into the run.
func (v *verifier) install(env *benchkit.Env) {
	if v.rec != nil {
		env.Wrap = v.rec.Wrap
	}
	if v.runner != nil {
		env.Status = func() string {
			if a := v.runner.Active(); len(a) > 0 {
				return "faults: " + strings.Join(a, ",")
			}
			return ""
		}
	}
	env.OnMeasure = func(start time.Time) {
		v.origin = start
		if v.runner == nil {
			return
		}
		fctx, cancel := context.WithCancel(context.Background())
		v.cancel, v.done, v.started = cancel, make(chan error, 1), true
		go func() { v.done <- v.runner.Run(fctx, start) }()
	}
}

// stop ends the schedule and heals whatever is still in effect: restarts
// killed nodes, resumes paused ones, clears every node's network faults.
// It runs even after a Ctrl-C (a running cluster must not be left
// partitioned), bounded by healTimeout.
func (v *verifier) stop(ctx context.Context) error {
	if !v.started {
		return nil
	}
	v.started = false
	v.cancel()
	if err := <-v.done; err != nil && !errors.Is(err, context.Canceled) {
		v.logger.Warn("fault schedule", "err", err)
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healTimeout)
	defer cancel()
	return v.runner.HealAll(hctx)
}

// finish stops the schedule, heals, waits for the cluster to serve again,
// and returns the fault windows' statistics and the verdict (nil when
// nothing was checked).
func (v *verifier) finish(ctx context.Context, out *benchkit.Outcome, tgt benchkit.Target, base string) ([]results.Fault, *results.Verdict) {
	var notes []string
	if err := v.stop(ctx); err != nil {
		notes = append(notes, fmt.Sprintf("healing after the run: %v", err))
	}
	fres, fnotes := v.faultResults(out)
	notes = append(notes, fnotes...)
	if !v.cfg.Check || v.rec == nil {
		return fres, nil
	}
	if out.Interrupted || ctx.Err() != nil {
		return fres, &results.Verdict{Notes: append(notes, "not checked: the run was interrupted")}
	}
	if err := v.waitServing(ctx); err != nil {
		notes = append(notes, fmt.Sprintf("after healing: %v", err))
	}
	c := v.checks(tgt, base, fres)
	// The members of the final configuration: a node replaced or
	// removed during the run is left out, a joined one is in.
	admins := v.adminAddrs()
	if len(admins) > 0 {
		nc := cluster.NewNetClient("") // reads only
		c.Applied = v.appliedFunc(nc, admins, out, &notes)
		c.Groups = max(v.cfg.Engine.Groups, 1)
		c.Hashes = func(ctx context.Context, g int) ([]check.NodeState, error) {
			if v.quiescent { // naive schemes run one group
				var err error
				v.hashes, err = quiescentHashes(ctx, nc, admins)
				return v.hashes, err
			}
			sctx, cancel := context.WithTimeout(ctx, settleTimeout)
			defer cancel()
			return nc.SettledGroupHashes(sctx, admins, g)
		}
	}
	if v.initialNote != "" {
		notes = append(notes, v.initialNote)
	}
	if v.cfg.ReadRatio == 0 {
		notes = append(notes, "the workload has no reads: the linearizability check sees only writes (-read-ratio 0.5 -keys 1000 makes it bite)")
	}
	verdict := benchkit.Verify(ctx, c)
	verdict.Notes = append(notes, verdict.Notes...)
	return fres, verdict
}

// faultResults returns the fault windows' statistics of the run that
// ended with out (none when no schedule played), with notes on what went
// wrong computing them, and sets v.fine.
func (v *verifier) faultResults(out *benchkit.Outcome) ([]results.Fault, []string) {
	if v.runner == nil || v.origin.IsZero() {
		return nil, nil
	}
	var notes []string
	runEnd := out.Elapsed
	series := v.rec.Series(v.origin, runEnd, benchkit.FaultStep(runEnd))
	v.fine = benchkit.FineSeriesOf(series)
	recs := v.runner.Records()
	fres, err := benchkit.FaultResults(recs, series, runEnd)
	if err != nil {
		notes = append(notes, fmt.Sprintf("fault windows: %v", err))
	}
	for _, rec := range recs {
		// An -ops run can end before an event is due (FaultResults
		// leaves it out): say so rather than drop it in silence.
		if !out.Interrupted && !rec.Fired && rec.Err == nil && rec.Event.Kind.IsFault() {
			fres = append(fres, results.Fault{Spec: rec.Event.String(), StartSec: rec.Event.At.Seconds(), NotInjected: true,
				Error: fmt.Sprintf("not played: the run ended at %.2fs, before it was due", runEnd.Seconds())})
		}
	}
	return fres, notes
}

// adminAddrs returns the admin addresses of the cluster's members now.
func (v *verifier) adminAddrs() []string {
	if v.local != nil {
		return v.local.AdminAddrs()
	}
	return v.admins
}

// waitServing waits, up to leaderTimeout, until every node answers and a
// majority agree on a leader: the checks need a serving cluster.
func (v *verifier) waitServing(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, leaderTimeout)
	defer cancel()
	var err error
	switch {
	case v.local != nil:
		_, err = v.local.Monitor.WaitLeader(wctx, v.local.CheckAlive)
	case len(v.admins) > 0:
		_, err = cluster.NewMonitor(v.admins).WaitLeader(wctx, nil)
	}
	return err
}

// checks are the correctness checks of the run, without the nodes' reads
// (appliedFunc, Hashes), with the fault windows fres as spans of the
// history.
func (v *verifier) checks(tgt benchkit.Target, base string, fres []results.Fault) benchkit.Checks {
	c := benchkit.Checks{
		History:       v.rec.History(),
		ReadBack:      readBack(tgt, v.cfg.Timeout),
		LinTimeout:    v.cfg.CheckTimeout,
		VisualizePath: results.Base(base) + "-linearizability.html",
		Sample:        v.cfg.Sample(),
		// A cluster bench started is empty; a running one may hold what
		// earlier runs wrote to the same keys.
		PriorState:  v.local == nil,
		InitialRead: v.initialRead,
	}
	h0 := v.rec.History().Start()
	for _, f := range fres {
		if !f.NotInjected {
			off := v.origin.Sub(h0)
			c.Spans = append(c.Spans, check.Span{Label: f.Spec,
				Start: int64(off + time.Duration(f.StartSec*float64(time.Second))),
				End:   int64(off + time.Duration(f.EndSec*float64(time.Second)))})
		}
	}
	return c
}

// appliedFunc reads every node's /applied for the session check, adding
// to notes what limits it.
func (v *verifier) appliedFunc(nc *cluster.NetClient, admins []string, out *benchkit.Outcome, notes *[]string) func(context.Context, int) (benchkit.AppliedRecord, error) {
	return func(ctx context.Context, g int) (benchkit.AppliedRecord, error) {
		actx, cancel := context.WithTimeout(ctx, appliedTimeout)
		defer cancel()
		reps, err := nc.GroupApplied(actx, admins, g)
		if err != nil {
			return benchkit.AppliedRecord{}, err
		}
		// A node counts (and records) only what it executed since it
		// last started, so a node killed and restarted during the run
		// reports a Total that leaves out everything before. Every
		// command bench saw acknowledged was executed on every member
		// (or reached it in a snapshot), so that count bounds each
		// node's share from below and a restart cannot make part of
		// the run look like all of it.
		acked := uint64(max(out.Ops+out.WarmupOps, 0))
		if v.cfg.Engine.Groups > 1 {
			// The acknowledged commands are spread over the groups; what
			// the most complete record of this group counts bounds every
			// node's share of it instead.
			acked = 0
			for _, r := range reps {
				acked = max(acked, r.Total)
			}
		}
		var ar benchkit.AppliedRecord
		for _, r := range reps {
			ar.Recorded += uint64(len(r.Commands))
			ar.Executed += max(r.Total, uint64(len(r.Commands)), acked)
			for _, n := range recordNotes(r, acked, v.cfg.Engine.Groups > 1) {
				*notes = append(*notes, groupNote(v.cfg.Engine.Groups, g, n))
			}
		}
		ar.Nodes = cluster.AlignApplied(reps)
		for _, n := range pieceNotes(reps, ar.Nodes) {
			*notes = append(*notes, groupNote(v.cfg.Engine.Groups, g, n))
		}
		return ar, nil
	}
}

// groupNote prefixes note with group g's name when there are several.
func groupNote(groups, g int, note string) string {
	if groups <= 1 {
		return note
	}
	return fmt.Sprintf("group %d: %s", g, note)
}

// recordNotes says how much of the run node r's record covers: against
// the commands acknowledged in the run, or, with several groups (perGroup),
// against the most any node executed of r's group.
func recordNotes(r adminapi.AppliedReport, acked uint64, perGroup bool) []string {
	var notes []string
	against := "acknowledged in the run"
	if perGroup {
		against = "another node executed"
	}
	if r.Total < acked {
		notes = append(notes, fmt.Sprintf("node %d executed %d commands since it last started, fewer than the %d %s: its record covers part of the run", r.Node, r.Total, acked, against))
	}
	if r.Truncated {
		notes = append(notes, fmt.Sprintf("node %d recorded only its last %d of %d executed commands (raise -record-applied)", r.Node, len(r.Commands), r.Total))
	}
	return notes
}

// pieceNotes names the nodes whose record AlignApplied had to split.
func pieceNotes(reps []adminapi.AppliedReport, aligned []check.NodeApplied) []string {
	pieces := map[uint64]int{}
	for _, a := range aligned {
		pieces[a.Node]++
	}
	var notes []string
	for _, r := range reps {
		if n := pieces[uint64(r.Node)]; n > 1 {
			notes = append(notes, fmt.Sprintf("node %d's applied commands are checked in %d pieces: it skipped slots the others executed (caught up from a snapshot)", r.Node, n))
		}
	}
	return notes
}

// readBack reads keys back through the client library for the lost-write
// check, with a pool of sessions (a session has one operation at a time;
// LostWrites reads several keys at once).
func readBack(tgt benchkit.Target, timeout time.Duration) check.ReadBack {
	n := benchkit.ReadBackConcurrency
	pool := make(chan benchkit.Session, n)
	for range n {
		pool <- tgt.Session() // made here, one after another, as Target asks
	}
	return func(ctx context.Context, key string) ([]byte, bool, error) {
		var s benchkit.Session
		select {
		case s = <-pool:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		// The read's retries may outlast one operation timeout while a
		// restarted node catches up: give it a few.
		rctx, cancel := context.WithTimeout(ctx, 3*timeout)
		defer cancel()
		res, err := s.Do(rctx, benchkit.Op{Kind: benchkit.OpGet, Key: []byte(key)})
		val := append([]byte(nil), res.Value...)
		pool <- s
		return val, res.Found, err
	}
}
