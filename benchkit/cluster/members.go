package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/faults"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// Membership changes of a local cluster: a fresh node joins (cmd/node
// -join, on a spare laid out at Start), catches up, is promoted; a member
// is removed and forgotten. The node list (Nodes) is replaced at each
// change, and the monitor polls the new members from then on.

// ErrNoSpare: Join was called with every spare node (Config.Spares) used.
var ErrNoSpare = errors.New("cluster: no spare node left to join (Config.Spares)")

// PromoteLag is how far, in slots, a learner may trail the commit index
// to be promoted: the engine's default, which cmd/node does not change.
var PromoteLag = uint64(engine.DefaultConfig().PromoteLag)

// memberPoll is how often a membership step polls the nodes.
const memberPoll = 50 * time.Millisecond

// adminHTTP is the client of the membership calls: a change waits until
// it is chosen (node.memberWait is 20 s), so it gets longer than a poll.
var adminHTTP = &http.Client{Timeout: 25 * time.Second}

// liveAdmins returns the admin addresses of the nodes not killed, in id
// order.
func (c *Cluster) liveAdmins() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, n := range c.Nodes() {
		if !c.mu.down[n.ID] {
			out = append(out, n.AdminAddr)
		}
	}
	return out
}

// Wipe deletes the data directory of node id, which must be down (Kill):
// the machine's disk is gone; the node can only be replaced.
func (c *Cluster) Wipe(id uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.exitedNodeLocked(id)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(n.DataDir); err != nil {
		return fmt.Errorf("cluster: wipe node %d: %w", id, err)
	}
	c.cfg.Logger.Info("wiped node's data", "node", id, "dir", n.DataDir)
	return nil
}

// Join starts the next spare node with cmd/node -join, pointed at the live
// members, and returns its id once every group's configuration, as a
// member reports it, names it (cmd/node -join asks for the add before it
// starts serving). The node is in Nodes, and polled by the monitor, from
// its start.
func (c *Cluster) Join(ctx context.Context) (uint64, error) {
	// Just after a kill an election may be under way; the node's -join
	// gives up after a few seconds of refusals.
	if err := c.poll(ctx, func() (bool, error) { c.Monitor.Poll(ctx); _, ok := c.Monitor.Leader(); return ok, nil }); err != nil {
		return 0, fmt.Errorf("cluster: no leader to join: %w", err)
	}
	admins := c.liveAdmins()
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	if len(c.mu.spares) == 0 {
		c.mu.Unlock()
		return 0, ErrNoSpare
	}
	n := c.mu.spares[0]
	c.mu.spares = c.mu.spares[1:]
	c.mu.Unlock()
	if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
		return 0, fmt.Errorf("cluster: %w", err)
	}
	n.args = append(JoinArgs(c.cfg, n, admins), c.cfg.ExtraArgs...)
	p, err := c.startProc(n)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	n.Proc = p
	c.setNodesLocked(append(slices.Clone(c.Nodes()), n))
	c.mu.Unlock()
	c.Monitor.SetAdmins(c.AdminAddrs())
	c.cfg.Logger.Info("started a node joining the cluster", "node", n.ID, "pid", p.Pid(), "client", n.ClientAddr, "admin", n.AdminAddr)
	err = c.poll(ctx, func() (bool, error) {
		if err := p.ExitError(); err != nil {
			return false, err
		}
		m, err := adminapi.GetMembers(ctx, adminHTTP, admins)
		return err == nil && namedIn(m, uint16(n.ID)), nil
	})
	if err != nil {
		return n.ID, fmt.Errorf("cluster: node %d did not join: %w", n.ID, err)
	}
	return n.ID, nil
}

// namedIn reports whether every group of m names node id.
func namedIn(m adminapi.Members, id uint16) bool {
	for _, g := range m.Groups {
		if _, ok := g.Member(id); !ok {
			return false
		}
	}
	return len(m.Groups) > 0
}

// poll calls cond every memberPoll until it holds, fails, or ctx ends.
func (c *Cluster) poll(ctx context.Context, cond func() (bool, error)) error {
	t := time.NewTicker(memberPoll)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// CaughtUp reports whether learner id trails each group's commit index
// by at most PromoteLag slots: both by what each group's leader reports
// (its /members Match, which is what the engine's promotion checks) and
// by what the learner itself applied (its /status). The leader's view
// alone is not enough: it takes a fresh peer to be at the leader's
// compaction point until the peer answers, so right after a snapshot it
// would call a learner that has nothing yet caught up.
func (c *Cluster) CaughtUp(ctx context.Context, id uint64) (bool, error) {
	sts := c.Monitor.Poll(ctx)
	leads := map[int]string{} // group -> its leader's admin address
	commits := map[int]uint64{}
	var own *Status
	for i, st := range sts {
		n, err := c.node(uint64(st.ID))
		if st.ID == 0 || err != nil {
			continue // did not answer, or forgotten meanwhile
		}
		if n.ID == id {
			own = &sts[i]
		}
		for _, g := range st.GroupStatus {
			if g.Role == "leader" {
				leads[g.Group], commits[g.Group] = n.AdminAddr, g.Commit
			}
		}
	}
	if own == nil || len(own.GroupStatus) == 0 || len(leads) < len(own.GroupStatus) {
		return false, nil // the learner does not answer yet, or an election is under way
	}
	for _, g := range own.GroupStatus {
		if Behind(g.Applied, commits[g.Group]) {
			return false, nil
		}
	}
	for g, admin := range leads {
		m, err := adminapi.GetMembers(ctx, adminHTTP, []string{admin})
		if err != nil {
			return false, err
		}
		gm, ok := m.Group(g)
		if !ok {
			return false, fmt.Errorf("cluster: %s reports no group %d", admin, g)
		}
		mb, ok := gm.Member(uint16(id))
		if !ok {
			return false, fmt.Errorf("cluster: group %d's configuration does not name node %d", g, id)
		}
		if Behind(mb.Match, commits[g]) {
			return false, nil
		}
	}
	c.cfg.Logger.Info("learner caught up", "node", id, "applied", own.Applied, "leader_commit", commits[0])
	return true, nil
}

// Behind reports whether a learner that acknowledged slot match is too
// far behind commit to be promoted.
func Behind(match, commit uint64) bool { return match+PromoteLag < commit }

// Promote makes learner id a voter in every group, through whichever
// member leads (adminapi.ChangeMembers follows the 421s). A learner still
// too far behind, or a change in flight (409), is asked again until ctx
// ends.
func (c *Cluster) Promote(ctx context.Context, id uint64) error {
	return c.change(ctx, adminapi.MemberChange{Op: adminapi.OpPromote, ID: uint16(id)},
		engine.ErrLearnerBehind, engine.ErrNotLearner)
}

// Remove takes node id out of every group's configuration and returns
// once that is chosen; a leader hands its leadership off first (the node
// does that). A change in flight (409), or one dropped by a change of
// leader (503), is asked again until ctx ends.
func (c *Cluster) Remove(ctx context.Context, id uint64) error {
	return c.change(ctx, adminapi.MemberChange{Op: adminapi.OpRemove, ID: uint16(id)},
		engine.ErrConfChangeInProgress, engine.ErrNotMember)
}

// change posts ch to the live members until it is made. It asks again
// after a 503 or 504, or a 409 naming retry or engine.ErrConfChangeInProgress
// (a group's change in flight), and takes a 409 naming done as made: an
// earlier attempt took effect before its answer came back (a 504 that
// was chosen after all, or groups done before a refusal).
func (c *Cluster) change(ctx context.Context, ch adminapi.MemberChange, retry, done error) error {
	var last error
	err := c.poll(ctx, func() (bool, error) {
		_, err := adminapi.ChangeMembers(ctx, adminHTTP, c.liveAdmins(), c.token, ch)
		var ce *adminapi.ChangeError
		if err == nil {
			return true, nil
		}
		if !errors.As(err, &ce) {
			last = err // no member answered, or ctx: poll again
			return false, nil
		}
		says := func(e error) bool { return strings.Contains(ce.MemberError.Error, e.Error()) }
		switch {
		case ce.Status == http.StatusConflict && says(done):
			return true, nil
		case ce.Status == http.StatusServiceUnavailable || ce.Status == http.StatusGatewayTimeout,
			ce.Status == http.StatusConflict && (says(retry) || says(engine.ErrConfChangeInProgress)):
			last = err
			return false, nil
		}
		return false, err
	})
	if err != nil && last != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (last: %v)", err, last)
	}
	return err
}

// Forget stops node id's process if it still runs (a removed node keeps
// answering as an acceptor until stopped) and drops it from Nodes and
// from the monitor's polls.
func (c *Cluster) Forget(id uint64) error {
	c.mu.Lock()
	n, err := c.openNodeLocked(id)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	c.setNodesLocked(slices.DeleteFunc(slices.Clone(c.Nodes()), func(m *Node) bool { return m.ID == id }))
	delete(c.mu.down, id)
	delete(c.mu.paused, id)
	p := n.Proc
	c.mu.Unlock()
	c.Monitor.SetAdmins(c.AdminAddrs())
	if p != nil {
		p.Stop(c.cfg.StopGrace)
	}
	c.cfg.Logger.Info("forgot a removed node", "node", id)
	return nil
}

var _ faults.Reconfigurer = (*Faulter)(nil)

// Wipe deletes a killed node's data directory (local clusters only).
func (f *Faulter) Wipe(_ context.Context, id faults.NodeID) error {
	return f.onLocal(id, (*Cluster).Wipe)
}

// Join starts a spare node that joins the cluster (local clusters only).
func (f *Faulter) Join(ctx context.Context) (faults.NodeID, error) {
	if f.local == nil {
		return 0, ErrRemote
	}
	id, err := f.local.Join(ctx)
	return faults.NodeID(id), err
}

// CaughtUp reports whether learner id can be promoted.
func (f *Faulter) CaughtUp(ctx context.Context, id faults.NodeID) (bool, error) {
	if f.local == nil {
		return false, ErrRemote
	}
	return f.local.CaughtUp(ctx, uint64(id))
}

// Promote makes learner id a voter.
func (f *Faulter) Promote(ctx context.Context, id faults.NodeID) error {
	if f.local == nil {
		return ErrRemote
	}
	return f.local.Promote(ctx, uint64(id))
}

// Remove takes node id out of the configuration.
func (f *Faulter) Remove(ctx context.Context, id faults.NodeID) error {
	if f.local == nil {
		return ErrRemote
	}
	return f.local.Remove(ctx, uint64(id))
}

// Forget stops a removed node and drops it from the members.
func (f *Faulter) Forget(_ context.Context, id faults.NodeID) error {
	return f.onLocal(id, (*Cluster).Forget)
}
