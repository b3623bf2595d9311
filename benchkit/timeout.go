package benchkit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// errOpTimeout is the error of an operation the watchdog cut off after
// Config.Timeout; ErrorKind reports it as "timeout".
var errOpTimeout = fmt.Errorf("benchkit: operation timed out: %w", context.DeadlineExceeded)

// guard bounds one client's operations without a context.WithTimeout per
// operation (a timer and three allocations each, half the harness's CPU at
// high rates). The client publishes its operation's deadline; a watchdog
// claims an expired deadline with a compare-and-swap and cancels the
// guard's context. A guard whose deadline was claimed is never reused, so a
// late cancel can only hit the operation that timed out.
type guard struct {
	ctx      context.Context
	cancel   context.CancelFunc
	deadline atomic.Int64 // time since the run started, ns (> 0); 0 idle; -1 claimed by the watchdog
}

func newGuard(parent context.Context) *guard {
	ctx, cancel := context.WithCancel(parent)
	return &guard{ctx: ctx, cancel: cancel}
}

// opGuard is a client's current guard.
type opGuard struct {
	parent context.Context
	cur    atomic.Pointer[guard]
}

func (o *opGuard) init(parent context.Context) {
	o.parent = parent
	o.cur.Store(newGuard(parent))
}

// begin publishes the deadline of the operation about to start, as time
// since the run started (positive), and returns the context to run it with.
func (o *opGuard) begin(deadline time.Duration) context.Context {
	g := o.cur.Load()
	g.deadline.Store(int64(deadline))
	return g.ctx
}

// end closes the operation; it reports whether the watchdog cut it off, in
// which case the guard is replaced for the next operation.
func (o *opGuard) end() (timedOut bool) {
	g := o.cur.Load()
	if g.deadline.Swap(0) != -1 {
		return false
	}
	g.cancel() // already cancelled by the watchdog, or about to be: release it
	o.cur.Store(newGuard(o.parent))
	return true
}

// close releases the current guard's context.
func (o *opGuard) close() { o.cur.Load().cancel() }

// expire cancels the operation if it is past its deadline at now (time
// since the run started, ns).
func (o *opGuard) expire(now int64) {
	g := o.cur.Load()
	d := g.deadline.Load()
	if d > 0 && now > d && g.deadline.CompareAndSwap(d, -1) {
		g.cancel()
	}
}

// watchdogPeriod is how often the watchdog looks: a tenth of the timeout,
// between 10 ms and 1 s, so timeouts fire within about 10% of Timeout.
func watchdogPeriod(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 10*time.Millisecond), time.Second)
}

// watchdog expires overdue operations of every client until done closes;
// deadlines count from start.
func watchdog(guards []opGuard, timeout time.Duration, start time.Time, done <-chan struct{}) {
	t := time.NewTicker(watchdogPeriod(timeout))
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			n := int64(time.Since(start))
			for i := range guards {
				guards[i].expire(n)
			}
		}
	}
}
