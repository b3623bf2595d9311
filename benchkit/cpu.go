package benchkit

import (
	"fmt"
	"math"
	"runtime"
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
}

// CPUFunc takes a CPUSample.
type CPUFunc func() (CPUSample, error)

// ProcCPU samples from /proc: the processes pids returns (nil pids: no
// node processes), this process, and the machine. Linux only.
func ProcCPU(pids func() []int) CPUFunc {
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
		var d time.Duration
		for pid, t := range b.Nodes {
			d += t - a.Nodes[pid]
		}
		c.NodesSec = d.Seconds()
		if ops > 0 {
			c.NodesUsPerOp = c.NodesSec * 1e6 / float64(ops)
		}
	}
	return c
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
