package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Where a started cluster's nodes run (Config.Hosts).
const (
	// HostsLocal runs every node on loopback in bench's own network
	// namespace; network faults go through the nodes' in-process hook.
	HostsLocal = "local"
	// HostsNetns runs every node in a network namespace of its own, on a
	// bridge, and the benchmark's clients in another; network faults act
	// in the kernel (see kernel.go).
	HostsNetns = "netns"
)

// The hosts of a netns cluster, drawn:
//
//	host namespace (bench: admin, monitor, fault control)
//	  bridge mpx<pid><k>  10.213.S.1/24 ----------------------------+
//	     |                 |                 |                      |
//	  veth mpx<pid><k>c  veth ...n1        veth ...n2       ...    |
//	     |                 |                 |                      |
//	  netns mpx<pid><k>-c netns ...-n1     netns ...-n2             |
//	  eth0 10.213.S.2     eth0 10.213.S.11 eth0 10.213.S.12        |
//	  (the clients'        node 1:          node 2: ...            |
//	   dials)              peer :7000, client :7001, admin :7002 <--+
//
// S is the first 10.213.S.0/24 (from the pid on) that overlaps no address
// or route of the host namespace, chosen under a lock file so concurrent
// runs take different ones. Nothing routes out: the namespaces have only
// their /24 and no default route, and the bridge forwards only between
// its ports.
//
// Names carry the pid of the bench that made them and a letter per
// cluster of that process: Start first removes every namespace and link
// whose pid no longer runs (a bench that was killed -9), and Close removes
// its own.
const (
	netnsPrefix = "mpx"
	peerPort    = 7000
	clientPort  = 7001
	adminPort   = 7002
	netnsDir    = "/var/run/netns"
	subnetLock  = "/run/mpaxos-netns.lock"
)

// ErrNetns: the netns hosts cannot be set up here (not Linux, not root,
// no ip, nft or tc).
var ErrNetns = errors.New("cluster: -hosts netns needs Linux, root, and the ip, nft and tc commands")

// NetnsUsable reports whether -hosts netns can work on this machine, and
// if not, why (for a test's one-line skip).
func NetnsUsable() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("%w: this is %s", ErrNetns, runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: not running as root", ErrNetns)
	}
	for _, c := range []string{"ip", "nft", "tc"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("%w: %s not found (Debian: apt-get install iproute2 nftables)", ErrNetns, c)
		}
	}
	return nil
}

// hostNet is the namespaces, bridge and veths of one netns cluster.
type hostNet struct {
	name   string   // mpx<pid><k>: the bridge, and the prefix of all else
	subnet [3]byte  // 10.213.S
	ids    []uint64 // the nodes' ids
	// clientNS is an open descriptor of the clients' namespace, which
	// clientDial's threads enter.
	clientNS int
	// netem: the kernel has netem, so delay and jitter act in the kernel.
	netem bool
	// bridge: the bridge was made; made: the hosts made (the x of ns(x)
	// and veth(x)), for close.
	bridge bool
	made   []string

	mu struct {
		sync.Mutex
		flaps map[uint64]*flapper
	}
}

// clusterSeq numbers this process's netns clusters (the <k> of the names).
var clusterSeq struct {
	sync.Mutex
	next int
}

func (h *hostNet) ns(x string) string      { return h.name + "-" + x }
func (h *hostNet) veth(x string) string    { return h.name + x }
func (h *hostNet) nodeNS(id uint64) string { return h.ns("n" + strconv.FormatUint(id, 10)) }
func (h *hostNet) ip(last int) string {
	return fmt.Sprintf("%d.%d.%d.%d", 10, h.subnet[1], h.subnet[2], last)
}
func (h *hostNet) hostIP() string            { return h.ip(1) }
func (h *hostNet) clientIP() string          { return h.ip(2) }
func (h *hostNet) nodeIP(id uint64) string   { return h.ip(10 + int(id)) }
func (h *hostNet) nodeVeth(id uint64) string { return h.veth("n" + strconv.FormatUint(id, 10)) }

// setupHostNet makes the bridge, the clients' namespace and one namespace
// per node id. On error, whatever it made is removed.
func setupHostNet(ctx context.Context, ids []uint64) (h *hostNet, err error) {
	if err := NetnsUsable(); err != nil {
		return nil, err
	}
	clusterSeq.Lock()
	k := clusterSeq.next
	clusterSeq.next++
	clusterSeq.Unlock()
	if k >= 26 {
		return nil, fmt.Errorf("%w: more than 26 netns clusters in one process", ErrNetns)
	}
	h = &hostNet{name: fmt.Sprintf("%s%d%c", netnsPrefix, os.Getpid(), 'a'+k), ids: ids, clientNS: -1}
	h.mu.flaps = map[uint64]*flapper{}
	defer func() {
		if err != nil {
			h.close()
			h = nil
		}
	}()
	if err = h.makeBridge(ctx); err != nil {
		return h, err
	}
	if err = h.makeHost(ctx, "c", h.clientIP()); err != nil {
		return h, err
	}
	for _, id := range ids {
		if err = h.makeHost(ctx, "n"+strconv.FormatUint(id, 10), h.nodeIP(id)); err != nil {
			return h, err
		}
	}
	fd, err := unix.Open(filepath.Join(netnsDir, h.ns("c")), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return h, fmt.Errorf("cluster: open the clients' namespace: %w", err)
	}
	h.clientNS = fd
	h.netem = h.hasNetem(ctx)
	return h, nil
}

// makeBridge picks a free subnet and makes the bridge with the host's
// address on it, under the lock file, so that a concurrent run sees the
// subnet taken (by its route) before it picks.
func (h *hostNet) makeBridge(ctx context.Context) error {
	lock, err := os.OpenFile(subnetLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("cluster: lock %s: %w", subnetLock, err)
	}
	taken, err := hostPrefixes(ctx)
	if err != nil {
		return err
	}
	found := false
	start := os.Getpid()
	for i := range 256 {
		s := byte((start + i) % 256)
		_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.213.%d.0/24", s))
		if !slices.ContainsFunc(taken, func(p *net.IPNet) bool { return p.Contains(cand.IP) || cand.Contains(p.IP) }) {
			h.subnet, found = [3]byte{10, 213, s}, true
			break
		}
	}
	if !found {
		return fmt.Errorf("%w: every 10.213.x.0/24 overlaps a route of this host", ErrNetns)
	}
	h.bridge = true
	return ipCmds(ctx,
		[]string{"link", "add", h.name, "type", "bridge"},
		[]string{"addr", "add", h.hostIP() + "/24", "dev", h.name},
		[]string{"link", "set", h.name, "up"})
}

// makeHost makes namespace h.ns(x) with a veth on the bridge, addressed
// addr/24.
func (h *hostNet) makeHost(ctx context.Context, x, addr string) error {
	ns := h.ns(x)
	if err := ipCmds(ctx, []string{"netns", "add", ns}); err != nil {
		return err
	}
	h.made = append(h.made, x)
	return ipCmds(ctx,
		[]string{"link", "add", h.veth(x), "type", "veth", "peer", "name", "eth0", "netns", ns},
		[]string{"link", "set", h.veth(x), "master", h.name, "up"},
		[]string{"-n", ns, "addr", "add", addr + "/24", "dev", "eth0"},
		[]string{"-n", ns, "link", "set", "eth0", "up"},
		[]string{"-n", ns, "link", "set", "lo", "up"})
}

// hasNetem reports whether the kernel has netem, tried on the clients'
// namespace's loopback.
func (h *hostNet) hasNetem(ctx context.Context) bool {
	ns := h.ns("c")
	if run(ctx, "ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms") != nil {
		return false
	}
	_ = run(ctx, "ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", "lo", "root")
	return true
}

// close stops the flappers and removes the namespaces (their veths go
// with them) and the bridge. Errors are ignored: close runs on every exit
// and removes what exists.
func (h *hostNet) close() {
	h.mu.Lock()
	flaps := h.mu.flaps
	h.mu.flaps = map[uint64]*flapper{}
	h.mu.Unlock()
	for _, f := range flaps {
		f.stop()
	}
	if h.clientNS >= 0 {
		unix.Close(h.clientNS)
		h.clientNS = -1
	}
	// A fresh context: close also runs after the run's was cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, x := range h.made {
		// The veth first: deleting one end removes the pair at once,
		// where a namespace's own links go some time after it.
		_ = ipCmds(ctx, []string{"link", "del", h.veth(x)})
		_ = ipCmds(ctx, []string{"netns", "del", h.ns(x)})
	}
	if h.bridge {
		_ = ipCmds(ctx, []string{"link", "del", h.name})
	}
	h.made, h.bridge = nil, false
}

// command returns the command line that runs argv in node id's namespace.
func (h *hostNet) command(id uint64, argv ...string) []string {
	return append([]string{"ip", "netns", "exec", h.nodeNS(id)}, argv...)
}

// clientDial connects to addr from the clients' namespace.
func (h *hostNet) clientDial(addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNetns(h.clientNS, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	return c, err
}

// inNetns runs f on an OS thread that entered the network namespace open
// at fd, and returns its error. A socket belongs to the namespace it was
// made in, whichever thread uses it later, so f may make sockets for use
// anywhere. The thread goes back to the process's own namespace before it
// is unlocked; if it cannot, it stays locked and ends with the goroutine,
// so no other goroutine ever runs in the clients' namespace. (A thread
// that ends used to kill the nodes forked from it, by their parent-death
// signal; StartProc now forks on a thread of its own, see spawner.)
func inNetns(fd int, f func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- fmt.Errorf("cluster: open this thread's network namespace: %w", err)
			return // the thread ends, still in its own namespace
		}
		defer unix.Close(home)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("cluster: enter a network namespace: %w", err)
			return
		}
		err = f()
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- err
	}()
	return <-ch
}

// RemoveStaleNetns removes the namespaces and links of netns clusters
// whose bench no longer runs, and returns their names. Like RemoveStale,
// a pid reused by a live process keeps its objects until it ends.
func RemoveStaleNetns(ctx context.Context) ([]string, error) {
	return removeNetns(ctx, func(pid int) bool { return !alive(pid) })
}

// RemoveNetnsOf removes the namespaces and links of process pid's netns
// clusters (a test's cleanup after a run that failed), and returns their
// names.
func RemoveNetnsOf(ctx context.Context, pid int) ([]string, error) {
	return removeNetns(ctx, func(p int) bool { return p == pid })
}

// NetnsOf lists the namespaces and links of process pid's netns clusters
// (none once every one of them is closed).
func NetnsOf(pid int) []string {
	var out []string
	for _, n := range netnsObjects() {
		if p, _ := netnsPid(n.name); p == pid {
			out = append(out, n.name)
		}
	}
	return out
}

// netnsObject is a namespace or link of a netns cluster.
type netnsObject struct {
	name string
	ns   bool // a namespace, else a link
}

// netnsObjects lists the namespaces and host links named like a netns
// cluster's, namespaces first (their veths go with them).
func netnsObjects() []netnsObject {
	var out []netnsObject
	if ents, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range ents {
			if _, ok := netnsPid(e.Name()); ok {
				out = append(out, netnsObject{e.Name(), true})
			}
		}
	}
	if links, err := net.Interfaces(); err == nil {
		for _, l := range links {
			if _, ok := netnsPid(l.Name); ok {
				out = append(out, netnsObject{l.Name, false})
			}
		}
	}
	return out
}

// removeNetns removes the objects whose pid gone says to.
func removeNetns(ctx context.Context, gone func(pid int) bool) ([]string, error) {
	var removed []string
	var errs []error
	for _, o := range netnsObjects() {
		if pid, _ := netnsPid(o.name); !gone(pid) {
			continue
		}
		args := []string{"link", "del", o.name}
		if o.ns {
			args = []string{"netns", "del", o.name}
		} else if _, err := net.InterfaceByName(o.name); err != nil {
			continue // a veth that went with its namespace
		}
		if err := ipCmds(ctx, args); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, o.name)
	}
	return removed, errors.Join(errs...)
}

// netnsPid returns the pid in the name of a netns cluster's namespace or
// link: mpx<pid><letter>[...].
func netnsPid(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, netnsPrefix)
	if !ok {
		return 0, false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || i == len(rest) || rest[i] < 'a' || rest[i] > 'z' {
		return 0, false
	}
	pid, err := strconv.Atoi(rest[:i])
	return pid, err == nil && pid > 0
}

// hostPrefixes lists the IPv4 prefixes of the host namespace's addresses
// and routes (the default route excepted: a /24 of our own is more
// specific, and never goes out through it).
func hostPrefixes(ctx context.Context) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, args := range [][]string{{"-4", "-o", "addr", "show"}, {"-4", "route", "show", "table", "all"}} {
		b, err := exec.CommandContext(ctx, "ip", args...).Output()
		if err != nil {
			return nil, fmt.Errorf("cluster: ip %s: %w", strings.Join(args, " "), err)
		}
		for _, f := range strings.Fields(string(b)) {
			if !strings.Contains(f, ".") {
				continue
			}
			if !strings.Contains(f, "/") {
				f += "/32"
			}
			if _, p, err := net.ParseCIDR(f); err == nil && !p.IP.IsUnspecified() {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// ipCmds runs `ip ARGS...` for each args in turn, stopping at the first
// failure.
func ipCmds(ctx context.Context, cmds ...[]string) error {
	for _, args := range cmds {
		if err := run(ctx, "ip", args...); err != nil {
			return err
		}
	}
	return nil
}

// run runs a command, its output in the error.
func run(ctx context.Context, name string, args ...string) error {
	return runIn(ctx, nil, name, args...)
}

// runIn runs a command with stdin, its output in the error.
func runIn(ctx context.Context, stdin []byte, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("cluster: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// layout returns the nodes on their namespaces' addresses, with fixed
// ports (each namespace has its own).
func (h *hostNet) layout(dir string) []*Node {
	nodes := make([]*Node, len(h.ids))
	for i, id := range h.ids {
		ip := h.nodeIP(id)
		nodes[i] = &Node{
			ID:         id,
			PeerAddr:   net.JoinHostPort(ip, strconv.Itoa(peerPort)),
			ClientAddr: net.JoinHostPort(ip, strconv.Itoa(clientPort)),
			AdminAddr:  net.JoinHostPort(ip, strconv.Itoa(adminPort)),
			DataDir:    filepath.Join(dir, fmt.Sprintf("node%d", id)),
			launch:     h.command(id),
		}
	}
	return nodes
}

// ClientDial returns how the benchmark's clients must connect to the
// nodes: from the clients' namespace on netns hosts; nil (plain dials) on
// loopback.
func (c *Cluster) ClientDial() func(addr string, timeout time.Duration) (net.Conn, error) {
	if c.hosts == nil {
		return nil
	}
	return c.hosts.clientDial
}
