package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
)

// Module is the module path cmd/node is built from.
const Module = "github.com/mpaxos/mpaxos"

// Config is a local cluster to start.
type Config struct {
	// Nodes is the number of node processes. Required; 1..15.
	Nodes int
	// Spares is how many fresh nodes Join may start during the run (ids
	// Nodes+1, Nodes+2, ...): their ports, data directories and
	// certificates are laid out with the others, so the benchmark's
	// clients can be given their client addresses up front
	// (DialAddrs). The default is 0. Nodes+Spares is at most 15; loopback
	// hosts only, not with RESP.
	Spares int
	// Engine holds the knobs passed to every node (zero knobs are not
	// passed, so the node's defaults apply; -sync is always passed).
	Engine benchkit.Engine
	// ClusterID is passed as -cluster-id. The default 0 picks one from the
	// clock, so a stray node of an earlier run never joins.
	ClusterID uint64
	// Binary is a prebuilt cmd/node. The default "" builds it from
	// ModuleDir with `go build`.
	Binary string
	// ModuleDir is the module root to build from. The default "" finds it
	// upwards from the working directory.
	ModuleDir string
	// Keep keeps the data directory and logs after Close. The default is
	// false (removed).
	Keep bool
	// StartTimeout bounds the wait for an agreed leader. The default is 30 s.
	StartTimeout time.Duration
	// StopGrace is how long a node may take to exit after SIGTERM before it
	// is killed. The default is 5 s.
	StopGrace time.Duration
	// Logger receives start/stop events. The default discards them.
	Logger *slog.Logger
	// ExtraArgs are appended to every node's command line (for example
	// -record-applied N for the benchmark's checks). The default is none.
	ExtraArgs []string
	// AdminTokenFile is passed as -admin-token-file. The default "" has
	// Start write a random token into the cluster's directory (see
	// Cluster.AdminToken), so only this process can inject faults.
	AdminTokenFile string
	// TLS runs both of every node's ports over TLS with certificates of a
	// throwaway CA made by Start (peers verify each other's node id;
	// clients must present a certificate; see ClientTLS). The default is
	// plain TCP.
	TLS bool
	// RESP has every node serve the Redis protocol on a port of its own
	// (-resp-addr with every node's address, so followers redirect to the
	// leader); see Cluster.RESPAddrs. The default is off.
	RESP bool
	// Hosts is where the nodes run: HostsLocal (loopback, the default "")
	// or HostsNetns (a network namespace per node, Linux and root; see
	// netns.go). Not with TLS.
	Hosts string
	// HookFaults injects the network faults of a HostsNetns cluster
	// through the nodes' in-process hook instead of the kernel, to compare
	// the two. The default is false (the kernel). On loopback every
	// network fault goes through the hook anyway.
	HookFaults bool
}

// DefaultConfig returns a 3-node cluster with sync on, built from the
// module around the working directory.
func DefaultConfig() Config {
	return Config{Nodes: 3, Engine: benchkit.Engine{Sync: true}, StartTimeout: 30 * time.Second, StopGrace: 5 * time.Second}
}

// ErrConfig is wrapped by every error of Validate.
var ErrConfig = errors.New("cluster: invalid config")

// Validate reports every problem with c at once. Zero StartTimeout and
// StopGrace mean their defaults.
func (c Config) Validate() error {
	var errs []error
	if c.Nodes < 1 || c.Nodes > 15 {
		errs = append(errs, fmt.Errorf("nodes must be 1..15, got %d", c.Nodes))
	}
	if c.Spares < 0 || c.Nodes+c.Spares > 15 {
		errs = append(errs, fmt.Errorf("nodes and spares must be at most 15 together, got %d+%d", c.Nodes, c.Spares))
	}
	if c.Spares > 0 && c.Hosts == HostsNetns {
		errs = append(errs, errors.New("spare nodes (membership changes) need loopback hosts, not netns"))
	}
	if c.Spares > 0 && c.RESP {
		errs = append(errs, errors.New("spare nodes (membership changes) do not serve RESP (its -resp-addr lists every node up front)"))
	}
	if c.StartTimeout < 0 || c.StopGrace < 0 {
		errs = append(errs, errors.New("StartTimeout and StopGrace must not be negative"))
	}
	e := c.Engine
	if e.BatchSize < 0 || e.BatchBytes < 0 || e.BatchDelay < 0 || e.Pipeline < 0 {
		errs = append(errs, errors.New("engine knobs must not be negative"))
	}
	switch c.Hosts {
	case "", HostsLocal:
	case HostsNetns:
		if c.TLS {
			errs = append(errs, errors.New("TLS is not supported on netns hosts (the certificates name 127.0.0.1)"))
		}
	default:
		errs = append(errs, fmt.Errorf("hosts must be %s or %s, got %q", HostsLocal, HostsNetns, c.Hosts))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// Node is one started node.
type Node struct {
	ID         uint64
	PeerAddr   string
	ClientAddr string
	AdminAddr  string
	// RESPAddr is where the node serves the Redis protocol; empty without
	// Config.RESP.
	RESPAddr string
	DataDir  string
	// TLSDir holds the node's certificate, key and CA (-tls-dir); empty
	// without TLS.
	TLSDir string
	// Proc is the node's current process. Kill and Restart replace it
	// (under the Cluster's lock): read it through Cluster methods while
	// faults may be injected.
	Proc *Proc
	// args is the command line, kept to restart the node exactly as it
	// started.
	args []string
	// launch, if set, runs the node's binary (netns hosts: ip netns exec
	// NAMESPACE).
	launch []string
}

// Cluster is a running local cluster.
type Cluster struct {
	Dir string // temporary directory: data, logs, binary
	// nodes are the nodes of the configuration now (see Nodes): a slice
	// replaced, never changed in place, when a node joins or is forgotten
	// (members.go), so the monitor, the clients and the checks read it
	// without a lock while it grows.
	nodes   atomic.Pointer[[]*Node]
	Monitor *Monitor
	cfg     Config
	token   string // the nodes' admin token
	// clientTLS is the clients' TLS configuration; nil without TLS.
	clientTLS *tls.Config
	bin       string
	// hosts is the netns hosts' network; nil on loopback.
	hosts   *hostNet
	once    sync.Once
	stopMon context.CancelFunc
	monDone chan struct{}

	// mu guards the nodes' Proc and their fault state (see control.go).
	mu struct {
		sync.Mutex
		closed bool
		down   map[uint64]bool // killed on purpose, not restarted yet
		paused map[uint64]bool
		// spares are the nodes laid out for Join (Config.Spares), not
		// started yet, in id order.
		spares []*Node
	}
}

// Nodes returns the nodes of the configuration now: those started, and
// those joined since (Join), less those forgotten (Forget). The slice is
// the caller's to read, never to change.
func (c *Cluster) Nodes() []*Node {
	if p := c.nodes.Load(); p != nil {
		return *p
	}
	return nil
}

// setNodes replaces the node list (with c.mu held, so two changes do not
// race).
func (c *Cluster) setNodesLocked(nodes []*Node) { c.nodes.Store(&nodes) }

// ErrModule is returned when the module root cannot be found to build
// cmd/node.
var ErrModule = errors.New("cluster: cannot find the mpaxos module (run bench inside the repository, or pass -node-bin)")

// FindModule walks up from dir to the directory whose go.mod declares Module.
func FindModule(dir string) (string, error) {
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			sc := bufio.NewScanner(f)
			found := false
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "module ") {
					found = strings.TrimSpace(strings.TrimPrefix(l, "module ")) == Module
					break
				}
			}
			f.Close()
			if found {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrModule
		}
		dir = parent
	}
}

// Build compiles cmd/node from moduleDir into outDir and returns the
// binary's path. The Go build cache makes repeated builds cheap.
func Build(ctx context.Context, moduleDir, outDir string) (string, error) {
	bin := filepath.Join(outDir, "node")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/node")
	cmd.Dir = moduleDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cluster: go build ./cmd/node: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// NodeArgs returns node i's command line (i counts from 0; ids from 1).
func NodeArgs(cfg Config, nodes []*Node, i int) []string {
	peers := make([]string, len(nodes))
	for j, n := range nodes {
		peers[j] = fmt.Sprintf("%d=%s", n.ID, n.PeerAddr)
	}
	n := nodes[i]
	args := []string{
		"-id", strconv.FormatUint(n.ID, 10),
		"-cluster-id", strconv.FormatUint(cfg.ClusterID, 10),
		"-peers", strings.Join(peers, ","),
	}
	args = append(args, commonArgs(cfg, n)...)
	if n.RESPAddr != "" {
		resp := make([]string, len(nodes))
		for j, m := range nodes {
			resp[j] = fmt.Sprintf("%d=%s", m.ID, m.RESPAddr)
		}
		args = append(args, "-resp-addr", strings.Join(resp, ","))
	}
	return args
}

// JoinArgs returns the command line of node n joining the running cluster
// whose members' admin addresses are admins: -join instead of -peers, its
// peer address as -listen; the rest as NodeArgs.
func JoinArgs(cfg Config, n *Node, admins []string) []string {
	args := []string{
		"-id", strconv.FormatUint(n.ID, 10),
		"-cluster-id", strconv.FormatUint(cfg.ClusterID, 10),
		"-join", strings.Join(admins, ","),
		"-listen", n.PeerAddr,
	}
	return append(args, commonArgs(cfg, n)...)
}

// commonArgs are the flags of node n that NodeArgs and JoinArgs share:
// its addresses, data, admin token, certificates and the engine knobs.
func commonArgs(cfg Config, n *Node) []string {
	args := []string{
		"-client-addr", n.ClientAddr,
		"-admin-addr", n.AdminAddr,
		"-data", n.DataDir,
		"-sync=" + strconv.FormatBool(cfg.Engine.Sync),
		// The benchmark injects faults into the clusters it starts.
		"-enable-fault-hook",
	}
	if cfg.AdminTokenFile != "" {
		args = append(args, "-admin-token-file", cfg.AdminTokenFile)
	}
	if n.TLSDir != "" {
		args = append(args, "-tls-dir", n.TLSDir, "-client-cert-auth")
	}
	e := cfg.Engine
	if e.BatchSize > 0 {
		args = append(args, "-batch-size", strconv.Itoa(e.BatchSize))
	}
	if e.BatchBytes > 0 {
		args = append(args, "-batch-bytes", strconv.Itoa(e.BatchBytes))
	}
	if e.BatchDelay > 0 {
		args = append(args, "-batch-delay", e.BatchDelay.String())
	}
	if e.Pipeline > 0 {
		args = append(args, "-pipeline", strconv.Itoa(e.Pipeline))
	}
	if e.Groups > 1 {
		args = append(args, "-groups", strconv.Itoa(e.Groups))
	}
	if e.Null {
		args = append(args, "-null")
	}
	return args
}

// Layout assigns ids, loopback ports and data directories to n nodes under
// dir, without starting anything.
func Layout(n int, dir string) ([]*Node, error) {
	ports, err := FreePorts(3 * n)
	if err != nil {
		return nil, err
	}
	nodes := make([]*Node, n)
	for i := range nodes {
		id := uint64(i + 1)
		nodes[i] = &Node{
			ID:         id,
			PeerAddr:   fmt.Sprintf("127.0.0.1:%d", ports[3*i]),
			ClientAddr: fmt.Sprintf("127.0.0.1:%d", ports[3*i+1]),
			AdminAddr:  fmt.Sprintf("127.0.0.1:%d", ports[3*i+2]),
			DataDir:    filepath.Join(dir, fmt.Sprintf("node%d", id)),
		}
	}
	return nodes, nil
}

// Start builds cmd/node (unless cfg.Binary is set), starts cfg.Nodes nodes
// and waits until they agree on a leader. On any failure, and when ctx is
// cancelled, every process it started is stopped (and every namespace
// made removed) before it returns.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = withDefaults(cfg)
	removeStale(ctx, cfg)
	dir, err := MkdirRun("", TempData, cfg.Keep)
	if err != nil {
		return nil, err
	}
	c = &Cluster{Dir: dir, cfg: cfg}
	c.mu.down, c.mu.paused = map[uint64]bool{}, map[uint64]bool{}
	defer func() {
		if err != nil {
			c.Close()
			c = nil
		}
	}()
	for _, step := range []func(context.Context) error{c.build, c.setupToken, c.layout, c.startNodes, c.waitLeader} {
		if err := step(ctx); err != nil {
			return c, err
		}
	}
	mctx, stop := context.WithCancel(context.Background())
	c.stopMon, c.monDone = stop, make(chan struct{})
	go func() {
		defer close(c.monDone)
		c.Monitor.Watch(mctx, 500*time.Millisecond)
	}()
	return c, nil
}

// withDefaults fills cfg's zero fields with their defaults.
func withDefaults(cfg Config) Config {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClusterID == 0 {
		cfg.ClusterID = uint64(time.Now().UnixNano())&(1<<48-1) | 1
	}
	if cfg.Hosts == "" {
		cfg.Hosts = HostsLocal
	}
	return cfg
}

// removeStale removes what benches that no longer run left behind: run
// directories, and for netns hosts, namespaces and links.
func removeStale(ctx context.Context, cfg Config) {
	if removed, err := RemoveStale(""); err != nil {
		cfg.Logger.Warn("stale run directories not all removed", "err", err)
	} else if len(removed) > 0 {
		cfg.Logger.Info("removed the directories of benches that no longer run", "dirs", strings.Join(removed, " "))
	}
	if cfg.Hosts != HostsNetns {
		return
	}
	if removed, err := RemoveStaleNetns(ctx); err != nil {
		cfg.Logger.Warn("stale namespaces not all removed", "err", err)
	} else if len(removed) > 0 {
		cfg.Logger.Info("removed the namespaces and links of benches that no longer run", "names", strings.Join(removed, " "))
	}
}

// build finds or builds the node binary.
func (c *Cluster) build(ctx context.Context) error {
	bin := c.cfg.Binary
	if bin == "" {
		mod := c.cfg.ModuleDir
		if mod == "" {
			wd, err := os.Getwd()
			if err != nil {
				return fmt.Errorf("cluster: %w", err)
			}
			if mod, err = FindModule(wd); err != nil {
				return err
			}
		}
		c.cfg.Logger.Info("building cmd/node with go build (a first build takes about a minute; -node-bin skips it)", "module", mod)
		var err error
		if bin, err = Build(ctx, mod, c.Dir); err != nil {
			return err
		}
	}
	c.bin = bin
	return nil
}

// setupToken writes (unless given) and reads the nodes' admin token.
func (c *Cluster) setupToken(context.Context) error {
	if c.cfg.AdminTokenFile == "" {
		c.cfg.AdminTokenFile = filepath.Join(c.Dir, "admin-token")
		if err := WriteToken(c.cfg.AdminTokenFile); err != nil {
			return err
		}
	}
	var err error
	c.token, err = ReadToken(c.cfg.AdminTokenFile)
	return err
}

// layout assigns the nodes' addresses (making the netns hosts first) and
// certificates.
func (c *Cluster) layout(ctx context.Context) error {
	var err error
	if c.cfg.Hosts == HostsNetns {
		ids := make([]uint64, c.cfg.Nodes)
		for i := range ids {
			ids[i] = uint64(i + 1)
		}
		if c.hosts, err = setupHostNet(ctx, ids); err != nil {
			return err
		}
		c.setNodesLocked(c.hosts.layout(c.Dir))
		c.cfg.Logger.Info("netns hosts ready", "bridge", c.hosts.name, "subnet", c.hosts.ip(0)+"/24", "netem", c.hosts.netem)
	} else {
		all, err := Layout(c.cfg.Nodes+c.cfg.Spares, c.Dir)
		if err != nil {
			return err
		}
		c.setNodesLocked(all[:c.cfg.Nodes:c.cfg.Nodes])
		c.mu.spares = all[c.cfg.Nodes:]
	}
	if c.cfg.RESP {
		if err := c.layoutRESP(); err != nil {
			return err
		}
	}
	if c.cfg.TLS {
		return c.setupTLS()
	}
	return nil
}

// startNodes starts every node's process.
func (c *Cluster) startNodes(context.Context) error {
	nodes := c.Nodes()
	for i, n := range nodes {
		if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		n.args = append(NodeArgs(c.cfg, nodes, i), c.cfg.ExtraArgs...)
		p, err := c.startProc(n)
		if err != nil {
			return err
		}
		c.mu.Lock()
		n.Proc = p
		c.mu.Unlock()
		c.cfg.Logger.Info("started node", "node", n.ID, "pid", n.Proc.Pid(), "client", n.ClientAddr, "admin", n.AdminAddr)
	}
	return nil
}

// startProc starts node n's process with its command line.
func (c *Cluster) startProc(n *Node) (*Proc, error) {
	argv := append(append(slices.Clone(n.launch), c.bin), n.args...)
	return StartProc(n.name(), argv[0], argv[1:], c.logPath(n))
}

// waitLeader waits, up to StartTimeout, until the nodes agree on a
// leader.
func (c *Cluster) waitLeader(ctx context.Context) error {
	c.Monitor = NewMonitor(c.AdminAddrs())
	wctx, cancel := context.WithTimeoutCause(ctx, c.cfg.StartTimeout,
		fmt.Errorf("no agreed leader after %v", c.cfg.StartTimeout))
	defer cancel()
	leader, err := c.Monitor.WaitLeader(wctx, c.CheckAlive)
	if err != nil {
		if aerr := c.CheckAlive(); aerr != nil {
			return aerr
		}
		// The directory goes with Close unless Keep: quote the logs now.
		for _, n := range c.Nodes() {
			if tail := n.Proc.LogTail(3); tail != "" {
				err = fmt.Errorf("%w\nnode %d log:\n%s", err, n.ID, tail)
			}
		}
		return err
	}
	c.cfg.Logger.Info("leader elected", "node", leader)
	return nil
}

// CheckAlive returns an error naming the first node that exited, with the
// end of its log. A node killed on purpose (Kill) and not restarted yet is
// not an error.
func (c *Cluster) CheckAlive() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.Nodes() {
		if n.Proc == nil || c.mu.down[n.ID] {
			continue
		}
		if err := n.Proc.ExitError(); err != nil {
			return err
		}
	}
	return nil
}

// ClientAddrs returns the nodes' client addresses.
func (c *Cluster) ClientAddrs() []string {
	nodes := c.Nodes()
	a := make([]string, len(nodes))
	for i, n := range nodes {
		a[i] = n.ClientAddr
	}
	return a
}

// DialAddrs returns the client addresses of every node that runs or may
// join: the nodes' and then the spares' (Config.Spares). The client library
// cannot learn a joined node's address from the cluster (a redirect names
// a node id only), so the benchmark dials its clients with these: a spare
// not started yet refuses connections and the client moves on.
func (c *Cluster) DialAddrs() []string {
	a := c.ClientAddrs()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.mu.spares {
		a = append(a, n.ClientAddr)
	}
	return a
}

// AdminToken returns the bearer token the nodes' mutating admin endpoints
// require.
func (c *Cluster) AdminToken() string { return c.token }

// AdminTokenFile returns the file the nodes read their admin token from
// (for bench -cluster-admin-token-file against this cluster).
func (c *Cluster) AdminTokenFile() string { return c.cfg.AdminTokenFile }

// layoutRESP gives every node a RESP port.
func (c *Cluster) layoutRESP() error {
	nodes := c.Nodes()
	ports, err := FreePorts(len(nodes))
	if err != nil {
		return err
	}
	for i, n := range nodes {
		n.RESPAddr = fmt.Sprintf("127.0.0.1:%d", ports[i])
	}
	return nil
}

// RESPAddrs returns the nodes' Redis protocol addresses (empty strings
// without Config.RESP).
func (c *Cluster) RESPAddrs() []string {
	nodes := c.Nodes()
	a := make([]string, len(nodes))
	for i, n := range nodes {
		a[i] = n.RESPAddr
	}
	return a
}

// AdminAddrs returns the nodes' admin addresses.
func (c *Cluster) AdminAddrs() []string {
	nodes := c.Nodes()
	a := make([]string, len(nodes))
	for i, n := range nodes {
		a[i] = n.AdminAddr
	}
	return a
}

// Pids returns the process ids of the nodes running now (a killed node's
// process has exited: Kill waits until it is reaped).
func (c *Cluster) Pids() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var pids []int
	for _, n := range c.Nodes() {
		if n.Proc == nil { // Start failed before this node
			continue
		}
		if done, _ := n.Proc.Exited(); !done {
			pids = append(pids, n.Proc.Pid())
		}
	}
	return pids
}

// LeaderPid returns the process of the leader the monitor last saw
// agreed, 0 when none is known or it is not running.
func (c *Cluster) LeaderPid() int {
	id, ok := c.Leader()
	if !ok {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.Nodes() {
		if n.ID == id && n.Proc != nil && !c.mu.down[id] {
			if done, _ := n.Proc.Exited(); !done {
				return n.Proc.Pid()
			}
		}
	}
	return 0
}

// Leader returns the leader the monitor last saw agreed.
func (c *Cluster) Leader() (uint64, bool) {
	if c.Monitor == nil {
		return 0, false
	}
	return c.Monitor.Leader()
}

// Close stops every node (SIGTERM, then SIGKILL after StopGrace), in
// parallel, and removes the directory unless Keep. Safe to call more than
// once and on a partly started cluster.
func (c *Cluster) Close() error {
	c.once.Do(func() {
		if c.stopMon != nil {
			c.stopMon()
			<-c.monDone
		}
		c.mu.Lock()
		c.mu.closed = true // no Restart from now on
		var procs []*Proc
		for _, n := range c.Nodes() {
			if n.Proc != nil {
				procs = append(procs, n.Proc)
			}
		}
		c.mu.Unlock()
		var wg sync.WaitGroup
		for _, p := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.Stop(c.cfg.StopGrace)
			}()
		}
		wg.Wait()
		if c.hosts != nil {
			c.hosts.close()
		}
		if !c.cfg.Keep && c.Dir != "" {
			os.RemoveAll(c.Dir)
		}
	})
	return nil
}
