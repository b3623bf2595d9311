package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Reconfigurer is implemented by a Cluster that can change its membership:
// the harness that started the nodes and has fresh ones ready. The Runner
// plays the membership kinds (replace, add, remove) through it, one step
// at a time, and times each step. Members must list the nodes of the
// configuration as it is now: a joined node from Join on, a removed one no
// more once Forget returned.
type Reconfigurer interface {
	// Wipe deletes the data directory of node id, which is down: its
	// disk is gone for good.
	Wipe(ctx context.Context, id NodeID) error
	// Join starts a fresh node with the next unused id (one above the
	// highest so far), which asks the cluster to add it as a learner, and
	// returns its id once the configuration names it.
	Join(ctx context.Context) (NodeID, error)
	// CaughtUp reports whether learner id trails the commit index by no
	// more than a promotion allows (the engine's PromoteLag), in every
	// group.
	CaughtUp(ctx context.Context, id NodeID) (bool, error)
	// Promote makes learner id a voter in every group.
	Promote(ctx context.Context, id NodeID) error
	// Remove takes node id out of every group's configuration (a leader
	// hands its leadership off first) and returns once that is chosen.
	Remove(ctx context.Context, id NodeID) error
	// Forget stops a removed node's process, if it still runs, and drops
	// it from Members.
	Forget(ctx context.Context, id NodeID) error
}

// The steps of the membership kinds, as Record.Steps names them.
const (
	StepKilled   = "killed"        // replace: kill -9 and data wiped
	StepAdded    = "learner added" // the configuration names the fresh node
	StepCaughtUp = "caught up"     // within the promotion bound of the commit index
	StepPromoted = "promoted"      // a voter
	StepRemoved  = "removed"       // the configuration no longer names the node
	StepStopped  = "stopped"       // remove: the removed node's process stopped
)

// Step is one step of a membership change.
type Step struct {
	Name string
	// Node is the node the step acted on.
	Node NodeID
	// At is when the step was done, from the run's origin.
	At time.Duration
}

func (s Step) String() string {
	return fmt.Sprintf("%s %d at %v", s.Name, s.Node, s.At.Round(time.Millisecond))
}

// ErrNoReconfigurer: a membership kind was scheduled on a Cluster that is
// not a Reconfigurer.
var ErrNoReconfigurer = errors.New("faults: the cluster cannot change its membership (replace, add and remove need the nodes bench started)")

// checkReconfigurer refuses a schedule with membership kinds on a cluster
// that cannot play them.
func (r *Runner) checkReconfigurer() error {
	if _, ok := r.cluster.(Reconfigurer); ok {
		return nil
	}
	var errs []error
	for _, e := range r.sched {
		if e.Kind.ChangesMembers() {
			errs = append(errs, eventError(e, "%v", ErrNoReconfigurer))
		}
	}
	return errors.Join(errs...)
}

// change plays membership event i, step by step, recording each step as
// it is done. It does not hold r.mu across the cluster's calls (a
// catch-up takes seconds, and Active and Records are read meanwhile).
//
// Once started, a change is finished even if ctx ends (the run's end,
// Ctrl-C): half a replace is a killed and wiped member that no heal can
// bring back, whose cluster the end-of-run checks could not read. Each
// step is bounded by its own timeout instead.
func (r *Runner) change(ctx context.Context, i int) {
	ctx = context.WithoutCancel(ctx)
	e := r.sched[i]
	rc := r.cluster.(Reconfigurer) // checkReconfigurer
	var old NodeID
	if e.Kind != Add {
		var err error
		if old, err = r.changeTarget(ctx, e); err != nil {
			r.mu.Lock()
			rec := &r.mu.records[i]
			rec.Start, rec.Err = r.now(), err
			if old != 0 {
				rec.Targets = []NodeID{old}
			}
			r.mu.Unlock()
			r.log.Warn("membership change not made", "event", e.String(), "err", err)
			return
		}
	}
	r.mu.Lock()
	rec := &r.mu.records[i]
	rec.Fired, rec.Start = true, r.now()
	if old != 0 {
		rec.Targets = []NodeID{old}
	}
	r.mu.Unlock()
	r.log.Info("membership change started", "event", e.String(), "node", old)
	// step runs f, bounded by timeout, and records it done on id, or the
	// event failed.
	step := func(name string, id NodeID, timeout time.Duration, f func(context.Context) error) bool {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := f(cctx)
		cancel()
		r.mu.Lock()
		defer r.mu.Unlock()
		rec := &r.mu.records[i]
		if err != nil {
			rec.Err = fmt.Errorf("%s node %d: %w", name, id, err)
			rec.Healed, rec.End = true, r.now()
			r.log.Warn("membership change failed", "event", e.String(), "step", name, "node", id, "err", err)
			return false
		}
		rec.Steps = append(rec.Steps, Step{Name: name, Node: id, At: r.now()})
		r.log.Info("membership step", "event", e.String(), "step", name, "node", id, "at", r.now())
		return true
	}
	if e.Kind == Replace {
		kill := func(ctx context.Context) error {
			if err := r.cluster.Kill(ctx, old); err != nil {
				return err
			}
			return rc.Wipe(ctx, old)
		}
		if !step(StepKilled, old, r.cfg.ActionTimeout, kill) {
			return
		}
	}
	if e.Kind == Replace || e.Kind == Add {
		var fresh NodeID
		join := func(ctx context.Context) error {
			var err error
			fresh, err = rc.Join(ctx)
			return err
		}
		if !step(StepAdded, 0, r.cfg.ActionTimeout, join) {
			return
		}
		r.mu.Lock()
		rec := &r.mu.records[i]
		rec.Steps[len(rec.Steps)-1].Node = fresh
		rec.Targets = append(rec.Targets, fresh)
		// A new process starts with a healthy network: tell it about
		// the faults in effect.
		if err := r.pushLocked(ctx); err != nil {
			rec.Err = errors.Join(rec.Err, err)
		}
		r.mu.Unlock()
		if !step(StepCaughtUp, fresh, r.cfg.CatchUpWait+r.cfg.ActionTimeout, func(ctx context.Context) error { return r.waitCaughtUp(ctx, rc, fresh) }) ||
			!step(StepPromoted, fresh, r.cfg.ActionTimeout, func(ctx context.Context) error { return rc.Promote(ctx, fresh) }) {
			return
		}
	}
	if e.Kind == Replace || e.Kind == Remove {
		remove := func(ctx context.Context) error { return rc.Remove(ctx, old) }
		forget := func(ctx context.Context) error { return rc.Forget(ctx, old) }
		if e.Kind == Replace {
			// The old node is dead already: forgetting it is part of
			// its removal, not a step of its own.
			remove = func(ctx context.Context) error {
				if err := rc.Remove(ctx, old); err != nil {
					return err
				}
				return rc.Forget(ctx, old)
			}
		}
		if !step(StepRemoved, old, r.cfg.ActionTimeout, remove) {
			return
		}
		if e.Kind == Remove && !step(StepStopped, old, r.cfg.ActionTimeout, forget) {
			return
		}
		r.mu.Lock()
		delete(r.mu.pushed, old)
		r.mu.Unlock()
	}
	r.mu.Lock()
	rec = &r.mu.records[i]
	rec.Healed, rec.End = true, r.now()
	r.mu.Unlock()
	r.log.Info("membership change done", "event", e.String(), "at", r.now())
}

// changeTarget resolves the node a replace or remove takes out: a member
// that the schedule has not killed or paused (a replace kills it itself),
// and never the last one.
func (r *Runner) changeTarget(ctx context.Context, e Event) (NodeID, error) {
	members := slices.Sorted(slices.Values(r.cluster.Members()))
	id, err := r.endpoint(ctx, e.Target, members)
	if err != nil {
		return 0, err
	}
	if !slices.Contains(members, id) {
		return id, fmt.Errorf("%w: node %d is not a member (members: %v)", ErrNoTarget, id, members)
	}
	if e.Kind == Remove && len(members) <= 1 {
		return id, fmt.Errorf("%w: node %d is the last member", ErrNoTarget, id)
	}
	r.mu.Lock()
	_, killed := r.mu.killed[id]
	_, paused := r.mu.paused[id]
	r.mu.Unlock()
	if killed || paused {
		return id, fmt.Errorf("%w: node %d is %s by the schedule", ErrNoTarget, id, map[bool]string{true: "killed", false: "paused"}[killed])
	}
	return id, nil
}

// waitCaughtUp polls rc until learner id caught up, for at most
// CatchUpWait (ctx's deadline too).
func (r *Runner) waitCaughtUp(ctx context.Context, rc Reconfigurer, id NodeID) error {
	start := r.cfg.Clock.Now()
	var last error
	for {
		ok, err := rc.CaughtUp(ctx, id)
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if r.cfg.Clock.Now().Sub(start) >= r.cfg.CatchUpWait {
			if last != nil {
				return fmt.Errorf("not caught up within %v: %w", r.cfg.CatchUpWait, last)
			}
			return fmt.Errorf("not caught up within %v", r.cfg.CatchUpWait)
		}
		if err := r.cfg.Clock.Sleep(ctx, r.cfg.CatchUpPoll); err != nil {
			return err
		}
	}
}

// stepsString lists steps for Record.String.
func stepsString(steps []Step) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = s.String()
	}
	return strings.Join(parts, ", ")
}
