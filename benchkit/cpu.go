package benchkit

import (
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/mpaxos/mpaxos/benchkit/results"
)

// CPUSample is one reading of cumulative CPU time, taken when measuring
// begins and again when it ends; CPUDelta turns two into a results.CPU.
type CPUSample struct {
	At time.Time
	// Nodes is each local node process's user+system time, by pid; nil
	// when the nodes are not local processes (a -cluster run).
	Nodes map[int]time.Duration
	// Self is this process's user+system time (the load generator).
	Self time.Duration
	// Busy and Total are the machine's CPU time over all CPUs from
	// /proc/stat: Busy counts user, nice, system, irq and softirq time of
	// every process and the kernel; Total adds idle, iowait and steal.
	Busy, Total time.Duration
	// LeaderPid is the leader's process when sampled (0: unknown, or the
	// nodes are not local).
	LeaderPid int
	// Syncs is each node's count of store writes (one sync each when
	// durable), by node id; nil when not read.
	Syncs map[uint64]uint64
}

// NodeCounters optionally completes a CPUSample: the leader's pid and
// every node's store-write counter (either may be nil).
type NodeCounters struct {
	LeaderPid func() int
	Syncs     func() (map[uint64]uint64, error)
}

// CPUFunc takes a CPUSample.
type CPUFunc func() (CPUSample, error)

// ProcCPU samples from /proc: the processes pids returns (nil pids: no
// node processes), this process, and the machine. Linux only.
func ProcCPU(pids func() []int) CPUFunc { return NodeCPU(pids, NodeCounters{}) }

// NodeCPU is ProcCPU plus what nc reads: the leader's pid, so that the
// leader's CPU per operation is told from a follower's, and the nodes'
// sync counters.
func NodeCPU(pids func() []int, nc NodeCounters) CPUFunc {
	proc := procCPUFunc(pids)
	return func() (CPUSample, error) {
		s, err := proc()
		if err != nil {
			return s, err
		}
		if nc.LeaderPid != nil {
			s.LeaderPid = nc.LeaderPid()
		}
		if nc.Syncs != nil {
			if s.Syncs, err = nc.Syncs(); err != nil {
				return s, fmt.Errorf("sync counters: %w", err)
			}
		}
		return s, nil
	}
}

func procCPUFunc(pids func() []int) CPUFunc {
	return func() (CPUSample, error) {
		s := CPUSample{At: time.Now()}
		fs, err := procfs.NewDefaultFS()
		if err != nil {
			return s, err
		}
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			return s, fmt.Errorf("getrusage: %w", err)
		}
		s.Self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		if s.Busy, s.Total, err = machineCPU(fs); err != nil {
			return s, err
		}
		if pids == nil {
			return s, nil
		}
		s.Nodes = map[int]time.Duration{}
		for _, pid := range pids() {
			t, err := procCPU(fs, pid)
			if err != nil {
				return s, err
			}
			s.Nodes[pid] = t
		}
		return s, nil
	}
}

// procCPU reads utime+stime of pid from /proc/PID/stat (procfs, which
// also knows the clock tick /proc counts in).
func procCPU(fs procfs.FS, pid int) (time.Duration, error) {
	p, err := fs.Proc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return seconds(st.CPUTime()), nil
}

// machineCPU sums the "cpu" line of /proc/stat: busy is user, nice,
// system, irq and softirq time; total adds idle, iowait and steal.
func machineCPU(fs procfs.FS) (busy, total time.Duration, err error) {
	st, err := fs.Stat()
	if err != nil {
		return 0, 0, err
	}
	c := st.CPUTotal
	b := c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ
	return seconds(b), seconds(b + c.Idle + c.Iowait + c.Steal), nil
}

// seconds rounds procfs's float seconds to the nanosecond: truncation
// would let busy time exceed the total it is part of.
func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

// CPUDelta is the CPU spent between two samples, per successful operation
// (ops of them completed in between). Node time is reported only when the
// same node processes ran from a to b: a node killed or restarted in
// between took its counters with it.
func CPUDelta(a, b CPUSample, ops int64) *results.CPU {
	c := &results.CPU{
		WindowSec: b.At.Sub(a.At).Seconds(),
		Cores:     runtime.NumCPU(),
		BenchSec:  (b.Self - a.Self).Seconds(),
	}
	if b.Total > a.Total {
		c.MachineBusy = min(1, float64(b.Busy-a.Busy)/float64(b.Total-a.Total))
	}
	if ops > 0 {
		c.BenchUsPerOp = c.BenchSec * 1e6 / float64(ops)
	}
	switch {
	case a.Nodes == nil:
		c.Note = "node CPU not measured: the nodes are not local processes"
	case !samePids(a.Nodes, b.Nodes):
		c.Note = "node CPU not reported: a node was killed or restarted during the measured window"
	default:
		var d, lead time.Duration
		for pid, t := range b.Nodes {
			d += t - a.Nodes[pid]
			if pid == b.LeaderPid {
				lead = t - a.Nodes[pid]
			}
		}
		c.NodesSec = d.Seconds()
		if ops > 0 {
			c.NodesUsPerOp = c.NodesSec * 1e6 / float64(ops)
		}
		_, known := b.Nodes[b.LeaderPid]
		if ops > 0 && known && a.LeaderPid == b.LeaderPid && len(b.Nodes) > 1 {
			// One leader throughout: its cost bounds a real cluster's
			// throughput, a follower's is what each replica adds.
			c.LeaderUsPerOp = lead.Seconds() * 1e6 / float64(ops)
			c.FollowerUsPerOp = (d - lead).Seconds() * 1e6 / float64(ops) / float64(len(b.Nodes)-1)
		}
	}
	c.Syncs = syncDelta(a.Syncs, b.Syncs, c.WindowSec, ops)
	return c
}

// syncDelta is each node's syncs per second over the window and the
// operations per sync, for the nodes counted in both samples whose counter
// did not go back (a restarted node starts from 0).
func syncDelta(a, b map[uint64]uint64, window float64, ops int64) []results.NodeSyncs {
	var out []results.NodeSyncs
	for _, id := range slices.Sorted(maps.Keys(b)) {
		before, ok := a[id]
		if !ok || b[id] < before || window <= 0 {
			continue
		}
		n := b[id] - before
		ns := results.NodeSyncs{Node: id, Syncs: n, PerSec: float64(n) / window}
		if n > 0 {
			ns.OpsPerSync = float64(ops) / float64(n)
		}
		out = append(out, ns)
	}
	return out
}

func samePids(a, b map[int]time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for pid := range a {
		if _, ok := b[pid]; !ok {
			return false
		}
	}
	return true
}
