package faults

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Cluster is what the Runner needs from the harness: the members, who
// leads, and the means to hurt nodes. Every method may block up to the
// context's deadline; errors are recorded against the event, never fatal to
// the run.
type Cluster interface {
	// Members lists every node of the cluster, dead or alive.
	Members() []NodeID
	// Leader returns the current leader, or 0 when none is known right now
	// (an election is under way).
	Leader(ctx context.Context) (NodeID, error)
	// Kill kills the node's process without warning (SIGKILL).
	Kill(ctx context.Context, id NodeID) error
	// Restart starts a killed node again on its data directory.
	Restart(ctx context.Context, id NodeID) error
	// Pause stops the node's process (SIGSTOP); Resume continues it
	// (SIGCONT).
	Pause(ctx context.Context, id NodeID) error
	Resume(ctx context.Context, id NodeID) error
	// SetNet replaces the node's transport fault setting.
	SetNet(ctx context.Context, id NodeID, spec NetSpec) error
}

// Layered is implemented by a Cluster that can say which layer injects a
// network fault kind: "kernel" (nftables, tc, ip link in the hosts'
// namespaces) or "hook" (the node's in-process transport hook). The
// Runner records it; a Cluster without it injects through the hook.
type Layered interface {
	Layer(k Kind) string
}

// Clock is the Runner's time source, injected so tests run schedules
// without waiting.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx is done (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx is done.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Errors the Runner records against events.
var (
	// ErrConfig is wrapped by RunnerConfig.Validate's errors.
	ErrConfig = errors.New("faults: invalid config")
	// ErrNoLeader: no leader was known within RunnerConfig.LeaderWait.
	ErrNoLeader = errors.New("faults: no leader")
	// ErrNoTarget: the event's target does not exist right now (no live
	// follower, a restart of a node that is not down).
	ErrNoTarget = errors.New("faults: no target")
)

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Clock is the time source. nil means RealClock.
	Clock Clock
	// LeaderWait bounds how long an event aimed at the leader (or a
	// follower, or a split) waits for a leader to be known. The default is
	// 10 s. Must be > 0.
	LeaderWait time.Duration
	// LeaderPoll is how often the leader is asked for while waiting. The
	// default is 50 ms. Must be > 0.
	LeaderPoll time.Duration
	// ActionTimeout bounds each Cluster call. The default is 30 s. Must be
	// > 0.
	ActionTimeout time.Duration
	// CatchUpWait bounds how long a replace or add waits for its fresh
	// learner to catch up before promoting it. The default (also for 0)
	// is 60 s. Must be >= 0.
	CatchUpWait time.Duration
	// CatchUpPoll is how often the learner's progress is asked for
	// meanwhile. The default (also for 0) is 100 ms. Must be >= 0.
	CatchUpPoll time.Duration
	// Logger gets one line per injection and heal. nil discards.
	Logger *slog.Logger
}

// DefaultRunnerConfig returns the default RunnerConfig.
func DefaultRunnerConfig() RunnerConfig {
	return RunnerConfig{LeaderWait: 10 * time.Second, LeaderPoll: 50 * time.Millisecond, ActionTimeout: 30 * time.Second,
		CatchUpWait: time.Minute, CatchUpPoll: 100 * time.Millisecond}
}

// Validate reports every problem with c.
func (c RunnerConfig) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"LeaderWait", c.LeaderWait}, {"LeaderPoll", c.LeaderPoll}, {"ActionTimeout", c.ActionTimeout}} {
		if f.d <= 0 {
			errs = append(errs, fmt.Errorf("%w: %s %v <= 0", ErrConfig, f.name, f.d))
		}
	}
	if c.CatchUpWait < 0 || c.CatchUpPoll < 0 {
		errs = append(errs, fmt.Errorf("%w: CatchUpWait %v, CatchUpPoll %v: must be >= 0", ErrConfig, c.CatchUpWait, c.CatchUpPoll))
	}
	return errors.Join(errs...)
}

// Record is what happened to one event.
type Record struct {
	Event Event
	// Targets are the nodes it acted on, resolved when it fired (for a
	// split: the side the leader is on; for delay and drop: every member).
	Targets []NodeID
	// Start is when the fault took effect (its action returned), End when
	// it healed, both from the run's origin. For instants End == Start.
	Start, End time.Duration
	// Fired: the action was performed; Healed: the fault ended (always
	// true for instants that fired).
	Fired, Healed bool
	// Err is why the event (or its heal) failed.
	Err error
	// Layer is what injected a network fault: "kernel" or "hook" (see
	// Layered); "" for the other kinds.
	Layer string
	// Steps are the steps of a membership change done so far, in order
	// (StepKilled, StepAdded, ...); Targets then are the node taken out
	// (replace, remove) and the one joined (replace, add).
	Steps []Step
}

// Window returns the fault's window, closing an unhealed one at runEnd.
func (r Record) Window(runEnd time.Duration) (start, end time.Duration) {
	if r.Healed {
		return r.Start, r.End
	}
	return r.Start, max(r.Start, runEnd)
}

func (r Record) String() string {
	s := fmt.Sprintf("%v on %v", r.Event, r.Targets)
	if r.Layer != "" {
		s += " (" + r.Layer + ")"
	}
	switch {
	case !r.Fired:
		s += " not injected"
	case !r.Event.Kind.IsFault():
		s += fmt.Sprintf(" at %v", r.Start.Round(time.Millisecond))
	case r.Healed:
		s += fmt.Sprintf(" from %v to %v", r.Start.Round(time.Millisecond), r.End.Round(time.Millisecond))
	default:
		s += fmt.Sprintf(" from %v, not healed", r.Start.Round(time.Millisecond))
	}
	if len(r.Steps) > 0 {
		s += " (" + stepsString(r.Steps) + ")"
	}
	if r.Err != nil {
		s += ": " + r.Err.Error()
	}
	return s
}

// Runner plays a Schedule against a Cluster.
type Runner struct {
	cfg     RunnerConfig
	sched   Schedule
	cluster Cluster
	log     *slog.Logger

	mu struct {
		sync.Mutex
		origin  time.Time
		records []Record
		killed  map[NodeID]int // node -> record that killed it
		paused  map[NodeID]int
		net     []netFault
		pushed  map[NodeID]NetSpec // last NetSpec each node accepted
	}
}

// NewRunner returns a Runner for s on c.
func NewRunner(cfg RunnerConfig, s Schedule, c Cluster) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	d := DefaultRunnerConfig()
	if cfg.CatchUpWait == 0 {
		cfg.CatchUpWait = d.CatchUpWait
	}
	if cfg.CatchUpPoll == 0 {
		cfg.CatchUpPoll = d.CatchUpPoll
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Runner{cfg: cfg, sched: slices.Clone(s), cluster: c, log: log}
	r.mu.records = make([]Record, len(s))
	for i, e := range r.sched {
		r.mu.records[i].Event = e
	}
	r.mu.killed = make(map[NodeID]int)
	r.mu.paused = make(map[NodeID]int)
	r.mu.pushed = make(map[NodeID]NetSpec)
	return r, nil
}

// action is one step of the run: an event firing, or a fault's scheduled
// heal.
type action struct {
	at   time.Duration
	ev   int
	heal bool
}

// Run plays the schedule, event offsets counted from origin (the start of
// the measured run), and returns when every event has fired and every
// timed fault has healed, or when ctx is done (returning ctx.Err()). A
// failing event is recorded and the run goes on. Open-ended faults are left
// in place: call HealAll afterwards, in every case, before checking the
// cluster. Run must not be called twice.
func (r *Runner) Run(ctx context.Context, origin time.Time) error {
	if err := errors.Join(r.sched.Check(r.cluster.Members()), r.checkReconfigurer()); err != nil {
		return err
	}
	r.mu.Lock()
	r.mu.origin = origin
	r.mu.Unlock()
	var plan []action
	for i := range r.sched {
		plan = append(plan, action{at: r.sched[i].At, ev: i})
	}
	for len(plan) > 0 {
		a := plan[0]
		plan = plan[1:]
		if err := r.cfg.Clock.Sleep(ctx, a.at-r.cfg.Clock.Now().Sub(origin)); err != nil {
			return err
		}
		if a.heal {
			r.healEvent(ctx, a.ev)
		} else if r.sched[a.ev].Kind.ChangesMembers() {
			r.change(ctx, a.ev)
		} else if start, ok := r.fire(ctx, a.ev); ok && r.sched[a.ev].For > 0 {
			// A fault lasts its duration from when it took effect,
			// which may be later than planned (a leader to wait for).
			plan = insertAction(plan, action{at: start + r.sched[a.ev].For, ev: a.ev, heal: true})
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// insertAction inserts a into plan, which is sorted by time; a heal goes
// before the events firing at the same time, so kill=2@5s+5s,kill=2@10s
// is valid.
func insertAction(plan []action, a action) []action {
	i, _ := slices.BinarySearchFunc(plan, a, func(x, y action) int {
		if c := cmp.Compare(x.at, y.at); c != 0 {
			return c
		}
		if x.heal && !y.heal {
			return -1
		}
		return 1
	})
	return slices.Insert(plan, i, a)
}

// Records returns a copy of every event's record, in schedule order. Safe
// to call while Run runs.
func (r *Runner) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.mu.records)
	for i := range out {
		out[i].Targets = slices.Clone(out[i].Targets)
		out[i].Steps = slices.Clone(out[i].Steps)
	}
	return out
}

// Active describes the faults in effect now (for progress lines).
func (r *Runner) Active() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.mu.records {
		if rec.Fired && !rec.Healed {
			out = append(out, fmt.Sprintf("%v on %v", rec.Event, rec.Targets))
		}
	}
	return out
}

func (r *Runner) now() time.Duration { return r.cfg.Clock.Now().Sub(r.mu.origin) }

// fire performs event i and returns when it took effect, if it did.
func (r *Runner) fire(ctx context.Context, i int) (time.Duration, bool) {
	e := r.sched[i]
	targets, err := r.resolve(ctx, e)
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := &r.mu.records[i]
	rec.Targets = targets
	if e.Kind.isNet() {
		rec.Layer = "hook"
		if l, ok := r.cluster.(Layered); ok {
			rec.Layer = l.Layer(e.Kind)
		}
	}
	fired := false
	if err == nil {
		fired, err = r.injectLocked(ctx, i, targets)
	}
	rec.Start, rec.Err = r.now(), err
	if !fired {
		r.log.Warn("fault not injected", "event", e.String(), "targets", targets, "err", err)
		return 0, false
	}
	if err != nil {
		r.log.Warn("fault partly injected", "event", e.String(), "targets", targets, "err", err)
	}
	rec.Fired = true
	if !e.Kind.IsFault() {
		rec.Healed, rec.End = true, rec.Start
	}
	r.log.Info("fault injected", "event", e.String(), "targets", targets, "at", rec.Start)
	return rec.Start, true
}

// injectLocked performs event i's action on targets. fired says whether
// it took effect, if only in part (err then says which part failed): a
// network fault that reached some nodes, a restart of some of the nodes.
func (r *Runner) injectLocked(ctx context.Context, i int, targets []NodeID) (fired bool, err error) {
	e := r.sched[i]
	switch e.Kind {
	case Kill:
		if err := r.call(ctx, r.cluster.Kill, targets[0]); err != nil {
			return false, err
		}
		r.mu.killed[targets[0]] = i
	case Pause:
		if err := r.call(ctx, r.cluster.Pause, targets[0]); err != nil {
			return false, err
		}
		r.mu.paused[targets[0]] = i
	case Restart, Resume:
		var errs []error
		for _, id := range targets {
			if err := r.undoLocked(ctx, id, e.Kind); err != nil {
				errs = append(errs, err)
			}
		}
		return len(errs) < len(targets), errors.Join(errs...)
	case Heal:
		var open []int
		for _, f := range r.mu.net {
			if r.sched[f.rec].For == 0 {
				open = append(open, f.rec)
			}
		}
		if len(open) == 0 {
			return false, fmt.Errorf("%w: no open-ended network fault to heal", ErrNoTarget)
		}
		return true, r.removeNetLocked(ctx, open...)
	default:
		spec, err := r.netSpec(e, targets)
		if err != nil {
			return false, err
		}
		// Once in the active set the fault is in effect wherever the
		// push reached, and is healed like any other.
		r.mu.net = append(r.mu.net, netFault{rec: i, spec: spec})
		return true, r.pushLocked(ctx)
	}
	return true, nil
}

// undoLocked restarts (kind Restart) or resumes (Resume) node id and closes
// the record that took it down once all its targets are back.
func (r *Runner) undoLocked(ctx context.Context, id NodeID, kind Kind) error {
	down, undo := r.mu.killed, r.cluster.Restart
	if kind == Resume {
		down, undo = r.mu.paused, r.cluster.Resume
	}
	rec, ok := down[id]
	if !ok {
		return fmt.Errorf("%w: node %d is not %s", ErrNoTarget, id, map[Kind]string{Restart: "killed", Resume: "paused"}[kind])
	}
	if err := r.call(ctx, undo, id); err != nil {
		return err
	}
	delete(down, id)
	if kind == Restart {
		// A new process starts with a healthy network: tell it
		// about the faults still in effect.
		delete(r.mu.pushed, id)
	}
	r.mu.records[rec].Healed, r.mu.records[rec].End = true, r.now()
	r.log.Info("fault healed", "event", r.sched[rec].String(), "node", id, "at", r.mu.records[rec].End)
	return r.pushLocked(ctx)
}

// healEvent ends fault i after its duration.
func (r *Runner) healEvent(ctx context.Context, i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := &r.mu.records[i]
	if !rec.Fired || rec.Healed {
		return
	}
	var err error
	switch e := r.sched[i]; e.Kind {
	case Kill:
		err = r.undoLocked(ctx, rec.Targets[0], Restart)
	case Pause:
		err = r.undoLocked(ctx, rec.Targets[0], Resume)
	default:
		err = r.removeNetLocked(ctx, i)
	}
	if err != nil {
		rec.Err = errors.Join(rec.Err, fmt.Errorf("heal: %w", err))
		r.log.Warn("fault not healed", "event", r.sched[i].String(), "err", err)
	}
}

// removeNetLocked ends the network faults of records recs.
func (r *Runner) removeNetLocked(ctx context.Context, recs ...int) error {
	r.mu.net = slices.DeleteFunc(r.mu.net, func(f netFault) bool { return slices.Contains(recs, f.rec) })
	err := r.pushLocked(ctx)
	for _, i := range recs {
		r.mu.records[i].Healed, r.mu.records[i].End = true, r.now()
		r.log.Info("fault healed", "event", r.sched[i].String(), "at", r.mu.records[i].End)
	}
	return err
}

// pushLocked sends every live node whose NetSpec changed its new one. A
// killed or paused node cannot answer; it gets its setting when it is back.
func (r *Runner) pushLocked(ctx context.Context) error {
	want := combine(r.cluster.Members(), r.mu.net)
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if _, dead := r.mu.killed[id]; dead {
			continue
		}
		if _, stopped := r.mu.paused[id]; stopped {
			continue
		}
		if r.mu.pushed[id].Equal(want[id]) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, r.cfg.ActionTimeout)
		err := r.cluster.SetNet(cctx, id, want[id])
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("node %d: set network faults: %w", id, err))
			continue
		}
		r.mu.pushed[id] = want[id]
	}
	return errors.Join(errs...)
}

func (r *Runner) call(ctx context.Context, f func(context.Context, NodeID) error, id NodeID) error {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.ActionTimeout)
	defer cancel()
	if err := f(cctx, id); err != nil {
		return fmt.Errorf("node %d: %w", id, err)
	}
	return nil
}

// HealAll ends every fault still in effect: restarts killed nodes, resumes
// paused ones, clears every node's network faults. Call it after Run, with
// a fresh context if Run's was cancelled.
func (r *Runner) HealAll(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(r.mu.paused)) {
		errs = append(errs, r.undoLocked(ctx, id, Resume))
	}
	for _, id := range slices.Sorted(maps.Keys(r.mu.killed)) {
		errs = append(errs, r.undoLocked(ctx, id, Restart))
	}
	var open []int
	for _, f := range r.mu.net {
		open = append(open, f.rec)
	}
	errs = append(errs, r.removeNetLocked(ctx, open...))
	return errors.Join(errs...)
}
