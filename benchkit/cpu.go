package benchkit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

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
	// Busy and Total are the machine's jiffies over all CPUs from
	// /proc/stat: Busy counts user, nice, system, irq and softirq time of
	// every process and the kernel; Total adds idle, iowait and steal.
	Busy, Total uint64
}

// CPUFunc takes a CPUSample.
type CPUFunc func() (CPUSample, error)

// clockTick is the unit of /proc's CPU times. Linux reports them in
// USER_HZ, which is 100 on every architecture Go supports there.
const clockTick = 10 * time.Millisecond

// ProcCPU samples from /proc: the processes pids returns (nil pids: no
// node processes), this process, and the machine. Linux only.
func ProcCPU(pids func() []int) CPUFunc {
	return func() (CPUSample, error) {
		s := CPUSample{At: time.Now()}
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			return s, fmt.Errorf("getrusage: %w", err)
		}
		s.Self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		var err error
		if s.Busy, s.Total, err = machineJiffies(); err != nil {
			return s, err
		}
		if pids == nil {
			return s, nil
		}
		s.Nodes = map[int]time.Duration{}
		for _, pid := range pids() {
			t, err := procCPU(pid)
			if err != nil {
				return s, err
			}
			s.Nodes[pid] = t
		}
		return s, nil
	}
}

// procCPU reads utime+stime of pid from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// fields are counted after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	var sum uint64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		sum += v
	}
	return time.Duration(sum) * clockTick, nil
}

// machineJiffies sums the first line of /proc/stat.
func machineJiffies() (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, 0, errors.New("/proc/stat: no cpu line")
	}
	// user nice system idle iowait irq softirq steal
	var v [8]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(string(f[i+1]), 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	busy = v[0] + v[1] + v[2] + v[5] + v[6]
	return busy, busy + v[3] + v[4] + v[7], nil
}

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
		c.MachineBusy = float64(b.Busy-a.Busy) / float64(b.Total-a.Total)
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
