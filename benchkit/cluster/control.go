package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mpaxos/mpaxos/faults"
)

// Errors of the fault controls.
var (
	// ErrUnknownNode: no node has that id.
	ErrUnknownNode = errors.New("cluster: no such node")
	// ErrNodeState: the node is not in a state the call applies to (kill
	// of a node already down, restart of a live one, ...).
	ErrNodeState = errors.New("cluster: node in the wrong state")
	// ErrClosed: the cluster was closed.
	ErrClosed = errors.New("cluster: closed")
)

func (n *Node) name() string { return fmt.Sprintf("node %d", n.ID) }

func (c *Cluster) logPath(n *Node) string {
	return filepath.Join(c.Dir, fmt.Sprintf("node%d.log", n.ID))
}

func (c *Cluster) node(id uint64) (*Node, error) {
	for _, n := range c.Nodes() {
		if n.ID == id {
			return n, nil
		}
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownNode, id)
}

// openNodeLocked returns node id while the cluster is open: ErrUnknownNode
// or ErrClosed otherwise. c.mu must be held.
func (c *Cluster) openNodeLocked(id uint64) (*Node, error) {
	n, err := c.node(id)
	if err != nil {
		return nil, err
	}
	if c.mu.closed {
		return nil, ErrClosed
	}
	return n, nil
}

// exitedNodeLocked is openNodeLocked of a node whose process has exited
// (ErrNodeState if it runs).
func (c *Cluster) exitedNodeLocked(id uint64) (*Node, error) {
	n, err := c.openNodeLocked(id)
	if err != nil {
		return nil, err
	}
	if ok, _ := n.Proc.Exited(); !ok {
		return nil, fmt.Errorf("%w: node %d is running", ErrNodeState, id)
	}
	return n, nil
}

// Kill SIGKILLs node id's process group (kill -9: no chance to flush
// anything) and waits until it is reaped. The node stays down until
// Restart; CheckAlive does not count it as a failure meanwhile.
func (c *Cluster) Kill(id uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.openNodeLocked(id)
	if err != nil {
		return err
	}
	if c.mu.down[id] {
		return fmt.Errorf("%w: node %d is already down", ErrNodeState, id)
	}
	c.mu.down[id] = true
	delete(c.mu.paused, id) // a stopped process dies of SIGKILL too
	n.Proc.Kill()
	c.cfg.Logger.Info("killed node", "node", id)
	return nil
}

// Restart starts node id again, killed or exited, with the same command
// line, data directory and log file (appended to).
func (c *Cluster) Restart(id uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.exitedNodeLocked(id)
	if err != nil {
		return err
	}
	p, err := c.startProc(n)
	if err != nil {
		return err
	}
	n.Proc = p
	delete(c.mu.down, id)
	c.cfg.Logger.Info("restarted node", "node", id, "pid", p.Pid())
	return nil
}

// Pause SIGSTOPs node id's process group; Resume SIGCONTs it.
func (c *Cluster) Pause(id uint64) error { return c.signal(id, unix.SIGSTOP, true) }

// Resume continues a node stopped by Pause.
func (c *Cluster) Resume(id uint64) error { return c.signal(id, unix.SIGCONT, false) }

func (c *Cluster) signal(id uint64, sig unix.Signal, pause bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.openNodeLocked(id)
	if err != nil {
		return err
	}
	if c.mu.down[id] {
		return fmt.Errorf("%w: node %d is down", ErrNodeState, id)
	}
	if err := unix.Kill(-n.Proc.Pid(), sig); err != nil {
		return fmt.Errorf("cluster: node %d: %v: %w", id, sig, err)
	}
	if pause {
		c.mu.paused[id] = true
	} else {
		delete(c.mu.paused, id)
	}
	return nil
}

// Faulter implements faults.Cluster: over a local Cluster every kind of
// fault; over a running cluster's admin addresses only the network faults
// (Kill, Restart, Pause and Resume then fail with ErrRemote).
type Faulter struct {
	local *Cluster // nil for a running cluster
	// ids and admins are a running cluster's nodes (a local one's are
	// read from it as they change).
	ids    []uint64
	admins map[uint64]string
	mon    *Monitor
	net    *NetClient
	// kernel, when set, injects network faults in the nodes' namespaces
	// (kernel.go); hooked is the part of each node's setting sent to its
	// hook meanwhile (delay without netem).
	kernel *hostNet
	hooked map[faults.NodeID]faults.NetSpec
}

// ErrRemote: a process fault was asked of a cluster bench did not start.
var ErrRemote = errors.New("cluster: cannot kill or pause the nodes of a running cluster (only network faults through their admin addresses)")

// Faulter returns the fault controls of the local cluster. Its members
// are the cluster's of the moment (Nodes): they change with Join and
// Forget.
func (c *Cluster) Faulter() *Faulter {
	f := &Faulter{local: c, mon: c.Monitor, net: NewNetClient(c.token)}
	if c.hosts != nil && !c.cfg.HookFaults {
		f.kernel, f.hooked = c.hosts, map[faults.NodeID]faults.NetSpec{}
	}
	return f
}

// RemoteFaulter returns network-only fault controls for a running cluster
// whose nodes' admin addresses are admins and whose admin token is token
// ("" sends none, and the nodes refuse the faults). It asks each node its
// id.
func RemoteFaulter(ctx context.Context, admins []string, token string) (*Faulter, error) {
	f := &Faulter{admins: map[uint64]string{}, mon: NewMonitor(admins), net: NewNetClient(token)}
	for _, a := range admins {
		st, err := FetchStatus(ctx, f.net.http, a)
		if err != nil {
			return nil, err
		}
		if st.ID == 0 {
			return nil, fmt.Errorf("cluster: %s reports no node id", a)
		}
		id := uint64(st.ID)
		if _, dup := f.admins[id]; dup {
			return nil, fmt.Errorf("cluster: two admin addresses report node id %d", id)
		}
		f.ids = append(f.ids, id)
		f.admins[id] = a
	}
	return f, nil
}

var _ faults.Cluster = (*Faulter)(nil)

// Members lists every node's id.
func (f *Faulter) Members() []faults.NodeID {
	if f.local != nil {
		var out []faults.NodeID
		for _, n := range f.local.Nodes() {
			out = append(out, faults.NodeID(n.ID))
		}
		return out
	}
	out := make([]faults.NodeID, len(f.ids))
	for i, id := range f.ids {
		out[i] = faults.NodeID(id)
	}
	return out
}

// admin returns node id's admin address.
func (f *Faulter) admin(id faults.NodeID) (string, bool) {
	if f.local != nil {
		for _, n := range f.local.Nodes() {
			if n.ID == uint64(id) {
				return n.AdminAddr, true
			}
		}
		return "", false
	}
	a, ok := f.admins[uint64(id)]
	return a, ok
}

// Leader polls every node's /status once and returns the agreed leader,
// 0 when there is none right now.
func (f *Faulter) Leader(ctx context.Context) (faults.NodeID, error) {
	f.mon.Poll(ctx)
	id, _ := f.mon.Leader()
	return faults.NodeID(id), ctx.Err()
}

// Kill kill -9s a node of a local cluster.
func (f *Faulter) Kill(_ context.Context, id faults.NodeID) error {
	return f.onLocal(id, (*Cluster).Kill)
}

// Restart restarts a node of a local cluster from its data directory.
func (f *Faulter) Restart(_ context.Context, id faults.NodeID) error {
	return f.onLocal(id, (*Cluster).Restart)
}

// Pause SIGSTOPs a node of a local cluster.
func (f *Faulter) Pause(_ context.Context, id faults.NodeID) error {
	return f.onLocal(id, (*Cluster).Pause)
}

// Resume SIGCONTs a node of a local cluster.
func (f *Faulter) Resume(_ context.Context, id faults.NodeID) error {
	return f.onLocal(id, (*Cluster).Resume)
}

// onLocal runs a process-level action, which only a cluster bench started
// itself allows.
func (f *Faulter) onLocal(id faults.NodeID, act func(*Cluster, uint64) error) error {
	if f.local == nil {
		return ErrRemote
	}
	return act(f.local, uint64(id))
}

// ErrKernelOnly: a fault only the kernel layer can inject was asked of
// the in-process hook.
var ErrKernelOnly = errors.New("cluster: only the kernel layer (-hosts netns) injects this fault")

// SetNet replaces the node's network fault setting: in the kernel for a
// netns cluster (see Layer), else through the node's admin POST /faults.
func (f *Faulter) SetNet(ctx context.Context, id faults.NodeID, spec faults.NetSpec) error {
	a, ok := f.admin(id)
	if !ok {
		return fmt.Errorf("%w: %d", ErrUnknownNode, id)
	}
	if f.kernel != nil {
		return f.setKernel(ctx, id, spec)
	}
	if spec.KernelOnly() {
		return fmt.Errorf("%w: %v", ErrKernelOnly, spec)
	}
	return f.net.SetFaults(ctx, a, spec)
}

// waitPoll is how often the end-of-run waits poll the nodes.
const waitPoll = 50 * time.Millisecond
