package faults

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// resolve picks the nodes event e acts on, now. It may wait (bounded by
// LeaderWait) for a leader to be known.
func (r *Runner) resolve(ctx context.Context, e Event) ([]NodeID, error) {
	members := slices.Sorted(slices.Values(r.cluster.Members()))
	switch e.Kind {
	case Kill, Pause, Isolate, ClientCut, Blackhole, Flap:
		id, err := r.endpoint(ctx, e.Target, members)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		_, killed := r.mu.killed[id]
		_, paused := r.mu.paused[id]
		r.mu.Unlock()
		if !e.Kind.isNet() && (killed || paused) {
			// Cutting a dead node off is fine (it is told when it is
			// back); killing or stopping it again is not.
			return []NodeID{id}, fmt.Errorf("%w: node %d is already %s", ErrNoTarget, id, map[bool]string{true: "killed", false: "paused"}[killed])
		}
		return []NodeID{id}, nil
	case Restart, Resume:
		if e.Target.Role == Node {
			return []NodeID{e.Target.Node}, nil
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		down := r.mu.killed
		if e.Kind == Resume {
			down = r.mu.paused
		}
		var ids []NodeID
		for _, id := range slices.Sorted(maps.Keys(down)) {
			// Only faults that wait for this event: a timed one
			// heals itself.
			if r.sched[down[id]].For == 0 {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("%w: no node is down until a %v", ErrNoTarget, e.Kind)
		}
		return ids, nil
	case Split:
		leader, err := r.waitLeader(ctx)
		if err != nil {
			return nil, err
		}
		minority := (len(members) - 1) / 2
		side := []NodeID{leader}
		size := minority
		if e.Target.Role == Majority {
			size = len(members) - minority
		}
		// The leader's companions: the lowest-numbered other members.
		for _, id := range members {
			if len(side) < size && id != leader {
				side = append(side, id)
			}
		}
		slices.Sort(side)
		return side, nil
	case OneWay:
		from, err := r.endpoint(ctx, e.Target, members)
		if err != nil {
			return nil, err
		}
		to, err := r.endpoint(ctx, e.To, members)
		if err != nil {
			return nil, err
		}
		if from == to {
			return []NodeID{from, to}, fmt.Errorf("%w: both ends are node %d", ErrNoTarget, from)
		}
		return []NodeID{from, to}, nil
	case Delay, Drop, Bandwidth, Dup:
		return members, nil
	}
	return nil, nil
}

// endpoint resolves a Leader, Follower or Node target to one node.
func (r *Runner) endpoint(ctx context.Context, t Target, members []NodeID) (NodeID, error) {
	switch t.Role {
	case Node:
		return t.Node, nil
	case Leader:
		return r.waitLeader(ctx)
	case Follower:
		leader, err := r.waitLeader(ctx)
		if err != nil {
			return 0, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, id := range members {
			_, killed := r.mu.killed[id]
			_, paused := r.mu.paused[id]
			if id != leader && !killed && !paused {
				return id, nil
			}
		}
		return 0, fmt.Errorf("%w: no live follower", ErrNoTarget)
	}
	panic(fmt.Sprintf("faults: endpoint of role %d", t.Role))
}

// waitLeader asks for the leader until one is known that the schedule has
// not killed or paused (a stopped leader may still be reported until the
// others notice), for at most LeaderWait.
func (r *Runner) waitLeader(ctx context.Context) (NodeID, error) {
	start := r.cfg.Clock.Now()
	var last error
	for {
		id, err := r.cluster.Leader(ctx)
		if err == nil && id != 0 {
			r.mu.Lock()
			_, killed := r.mu.killed[id]
			_, paused := r.mu.paused[id]
			r.mu.Unlock()
			if !killed && !paused {
				return id, nil
			}
		}
		if err != nil {
			last = err
		}
		if r.cfg.Clock.Now().Sub(start) >= r.cfg.LeaderWait {
			if last != nil {
				return 0, fmt.Errorf("%w within %v: %w", ErrNoLeader, r.cfg.LeaderWait, last)
			}
			return 0, fmt.Errorf("%w within %v", ErrNoLeader, r.cfg.LeaderWait)
		}
		if err := r.cfg.Clock.Sleep(ctx, r.cfg.LeaderPoll); err != nil {
			return 0, err
		}
	}
}

// netSpec is what network event e, resolved to targets, adds to each
// node's setting.
func (r *Runner) netSpec(e Event, targets []NodeID) (map[NodeID]NetSpec, error) {
	members := slices.Sorted(slices.Values(r.cluster.Members()))
	others := func(side []NodeID) []NodeID {
		return slices.DeleteFunc(slices.Clone(members), func(id NodeID) bool { return slices.Contains(side, id) })
	}
	switch e.Kind {
	case Isolate, Split:
		return blockBetween(targets, others(targets)), nil
	case OneWay:
		return map[NodeID]NetSpec{targets[0]: {Block: []NodeID{targets[1]}}}, nil
	case ClientCut:
		return map[NodeID]NetSpec{targets[0]: {ClientCut: true}}, nil
	case Blackhole:
		return map[NodeID]NetSpec{targets[0]: {Blackhole: true}}, nil
	case Flap:
		return map[NodeID]NetSpec{targets[0]: {Flap: e.Period}}, nil
	case Delay, Drop, Bandwidth, Dup:
		spec := make(map[NodeID]NetSpec, len(members))
		for _, id := range members {
			s := NetSpec{Delay: e.Delay, Jitter: e.Jitter, Rate: e.Rate}
			if e.Kind == Dup {
				s.Dup = e.Percent / 100
			} else {
				s.Loss = e.Percent / 100
			}
			spec[id] = s
		}
		return spec, nil
	}
	return nil, fmt.Errorf("faults: %v is not a network fault", e.Kind)
}
