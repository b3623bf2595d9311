package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// Env is what a run drives and where it reports, besides its Config.
type Env struct {
	// Target is the system under test. Required.
	Target Target
	// Leader returns the current leader's node id when known; optional,
	// used by the progress line.
	Leader func() (id uint64, ok bool)
	// Progress receives one line per second; nil prints nothing.
	Progress io.Writer
	// Stages, optional, fetches the nodes' cumulative per-stage histograms;
	// the run reads them when measuring begins and ends.
	Stages StagesFunc
	// CPU, optional, samples CPU time when measuring begins and ends
	// (Outcome.CPU).
	CPU CPUFunc
	// Wrap, optional, wraps client i's session (a Recording for the
	// correctness checks and the fault windows' fine-grained series).
	Wrap func(client int, s Session) Session
	// Status, optional, is appended to each measured progress line (the
	// faults in effect).
	Status func() string
	// OnMeasure, optional, is called once before any client starts, with
	// the instant measuring will begin (after the warm-up): the origin of
	// the fault schedule and of the per-second series.
	OnMeasure func(start time.Time)
}

// Outcome is what a run measured.
type Outcome struct {
	Mode       string           // "closed" or "open"
	Start      time.Time        // measuring began (after warm-up)
	Elapsed    time.Duration    // measured time: from Start to the last completion
	Ops        int64            // successful measured operations
	Errors     int64            // failed measured operations
	ErrorKinds map[string]int64 // Errors by kind (see ErrorKind)
	Clamped    int64            // latencies above hist.Highest, recorded as it
	WarmupOps  int64            // operations completed during warm-up
	// Abandoned (open loop) counts requests due before the end that were
	// never sent: the target fell behind the offered rate and the run
	// stopped at its -duration anyway.
	Abandoned int64
	// WarmupDropped (open loop) counts warm-up requests still due when
	// measuring began, dropped so the measured part does not pay for them.
	WarmupDropped int64
	Hist          *hdr.Histogram // latency of successful measured operations, ns
	// Uncorrected (open loop only, else nil) is the same operations'
	// latency from their actual send instead of their intended one: what
	// wrk2 -U prints, the service time without the wait for a late slot.
	// Beside Hist it shows how much of the latency is queueing behind
	// the offered rate.
	Uncorrected *hdr.Histogram
	Series      []results.Second
	Interrupted bool // the context was cancelled before the end
	// Stages are the nodes' per-stage histograms over the measured window,
	// BatchSizes their proposed batch sizes (encoded); StagesNote says why
	// they are missing.
	Stages     []results.Stage
	BatchSizes string
	StagesNote string
	// CPU is the processor time over the measured window; nil without
	// Env.CPU, or with a note when a sample failed.
	CPU *results.CPU
}

// Throughput returns measured operations per second.
func (o *Outcome) Throughput() float64 {
	if o.Elapsed <= 0 {
		return 0
	}
	return float64(o.Ops) / o.Elapsed.Seconds()
}

// ErrorKind names an error for the report's breakdown: "timeout" for a
// deadline, otherwise the error's text, cut to 80 bytes.
func ErrorKind(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// maxErrorKinds bounds the breakdown; further kinds count as "other".
const maxErrorKinds = 32

// interval is what one client recorded since the reporter last looked.
//
// Latencies are kept raw, not in a per-client histogram: an append to a
// reused slice is a sequential 8-byte write, where a RecordValue into one of
// Clients histograms (about 190 KiB of counters each, 2×Clients of them) is
// a cache miss per operation; and the reporter then records one second's
// values into a single histogram that stays in cache, instead of merging and
// clearing Clients histograms every second (about 20 ms of CPU per second at
// 200 clients, however few operations they did).
type interval struct {
	lat []int64 // measured successful operations' latencies, ns
	// raw (open loop) are the same operations' latencies from their
	// actual send, in the same order.
	raw   []int64
	errs  int64
	kinds map[string]int64
	warm  int64
	// lastDone is the unix ns of the last measured completion, 0 none.
	lastDone int64
}

func (iv *interval) reset() {
	iv.lat = iv.lat[:0] // keeps the capacity: no allocation once warm
	iv.raw = iv.raw[:0]
	iv.errs, iv.warm, iv.lastDone = 0, 0, 0
	clear(iv.kinds)
}

// tally is one client's double-buffered interval: the client records into
// active inside a phaser critical section (two atomic adds, no lock); the
// reporter swaps and flips (see hist.Phaser).
type tally struct {
	ph     hist.Phaser
	active atomic.Pointer[interval]
	spare  *interval
	// room is the latency capacity the next interval gets before the
	// client sees it: twice the operations of the last interval taken, so
	// the warm-up sizes the buffers and the client's appends do not
	// allocate while measuring (reporter only).
	room int
	// open: the client records uncorrected latencies too (open loop).
	open bool
}

func newTally() *tally {
	t := &tally{spare: &interval{kinds: map[string]int64{}}}
	t.ph.Init()
	t.active.Store(&interval{kinds: map[string]int64{}})
	return t
}

// record counts one operation; raw < 0 (closed loop) records no
// uncorrected latency.
func (t *tally) record(lat, raw time.Duration, done int64, err error, measured bool) {
	e := t.ph.Enter()
	iv := t.active.Load()
	if measured {
		iv.lastDone = done
	}
	switch {
	case !measured:
		iv.warm++
	case err != nil:
		iv.errs++
		k := ErrorKind(err)
		if _, ok := iv.kinds[k]; !ok && len(iv.kinds) >= maxErrorKinds {
			k = "other"
		}
		iv.kinds[k]++
	default:
		iv.lat = append(iv.lat, int64(lat))
		if raw >= 0 {
			iv.raw = append(iv.raw, int64(raw))
		}
	}
	t.ph.Exit(e)
}

// take returns the interval recorded since the last take; it is the
// caller's until the next take.
func (t *tally) take() *interval {
	next := t.spare
	next.reset()
	if cap(next.lat) < t.room {
		next.lat = make([]int64, 0, t.room)
	}
	if t.open && cap(next.raw) < t.room {
		next.raw = make([]int64, 0, t.room)
	}
	old := t.active.Swap(next)
	t.ph.Flip()
	t.spare = old
	t.room = 2 * (len(old.lat) + int(old.warm+old.errs))
	return old
}

// Run drives env.Target with cfg's workload: warm-up, then the measured
// part, printing a progress line per second. It returns what it measured
// even when ctx is cancelled part way (Outcome.Interrupted), so a user's
// Ctrl-C still yields results.
func Run(ctx context.Context, cfg Config, env Env) (*Outcome, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if env.Target == nil {
		return nil, fmt.Errorf("%w: no target", ErrConfig)
	}
	r := &runner{cfg: cfg, env: env, tallies: make([]*tally, cfg.Clients)}
	for i := range r.tallies {
		r.tallies[i] = newTally()
		r.tallies[i].open = cfg.Rate > 0
	}
	r.start = time.Now()
	r.measureStart = r.start.Add(cfg.Warmup)
	if cfg.Duration > 0 {
		r.end = r.measureStart.Add(cfg.Duration)
	}
	r.out = &Outcome{Mode: cfg.Mode(), Start: r.measureStart, Hist: hist.New(), ErrorKinds: map[string]int64{}}
	if cfg.Rate > 0 {
		r.out.Uncorrected = hist.New()
	}

	r.guards = make([]opGuard, cfg.Clients)
	for i := range r.guards {
		r.guards[i].init(ctx)
	}
	// Sessions are made here, one after another, so a Target need not make
	// them concurrently; each is then used by its client goroutine only.
	sessions := make([]Session, cfg.Clients)
	for i := range sessions {
		sessions[i] = env.Target.Session()
		if env.Wrap != nil {
			sessions[i] = env.Wrap(i, sessions[i])
		}
	}
	if env.OnMeasure != nil {
		env.OnMeasure(r.measureStart)
	}
	var wg sync.WaitGroup
	clientsDone := make(chan struct{})
	go watchdog(r.guards, cfg.Timeout, r.start, clientsDone)
	// The nodes' histograms and the CPU counters are read when measuring
	// begins; the difference to a second reading at the end is the run's.
	var before chan stageSnap
	if env.Stages != nil {
		before = make(chan stageSnap, 1)
		go atMeasureStart(ctx, r.measureStart,
			func() { before <- fetchStages(ctx, env.Stages) },
			func(err error) { before <- stageSnap{err: err} })
	}
	var cpuBefore chan cpuSnap
	if env.CPU != nil {
		cpuBefore = make(chan cpuSnap, 1)
		go atMeasureStart(ctx, r.measureStart,
			func() { s, err := env.CPU(); cpuBefore <- cpuSnap{s, err} },
			func(err error) { cpuBefore <- cpuSnap{err: err} })
	}
	for i := 0; i < cfg.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.client(ctx, i, sessions[i])
		}()
	}
	go func() { wg.Wait(); close(clientsDone) }()
	r.report(ctx, clientsDone)
	for i := range r.guards {
		r.guards[i].close()
	}
	r.out.Interrupted = ctx.Err() != nil
	r.out.Abandoned, r.out.WarmupDropped = r.abandoned.Load(), r.warmDropped.Load()
	if env.CPU != nil {
		r.out.CPU = cpuOver(<-cpuBefore, env.CPU, r.out.Ops)
	}
	if env.Stages != nil {
		r.stages(ctx, env.Stages, <-before)
	} else {
		r.out.StagesNote = "per-stage latency not fetched (no admin addresses)"
	}
	return r.out, nil
}

// atMeasureStart calls took when measuring begins at at, or cancelled
// with ctx's error if ctx ends first.
func atMeasureStart(ctx context.Context, at time.Time, took func(), cancelled func(error)) {
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-t.C:
		took()
	case <-ctx.Done():
		cancelled(ctx.Err())
	}
}

type cpuSnap struct {
	s   CPUSample
	err error
}

// cpuOver samples CPU time again and returns the cost since before.
func cpuOver(before cpuSnap, f CPUFunc, ops int64) *results.CPU {
	if before.err != nil {
		return &results.CPU{Note: fmt.Sprintf("CPU not measured: %v", before.err)}
	}
	after, err := f()
	if err != nil {
		return &results.CPU{Note: fmt.Sprintf("CPU not measured: %v", err)}
	}
	return CPUDelta(before.s, after, ops)
}

// stages reads the nodes' histograms again and keeps the difference.
func (r *runner) stages(ctx context.Context, f StagesFunc, before stageSnap) {
	if before.err != nil {
		r.out.StagesNote = fmt.Sprintf("per-stage latency not reported: %v", before.err)
		return
	}
	// Still read them after a Ctrl-C: the partial results want them too.
	after := fetchStages(context.WithoutCancel(ctx), f)
	if after.err != nil {
		r.out.StagesNote = fmt.Sprintf("per-stage latency not reported: %v", after.err)
		return
	}
	st, batches, err := StageDelta(before.reports, after.reports)
	if err != nil {
		r.out.StagesNote = fmt.Sprintf("per-stage latency unusable: %v", err)
		return
	}
	r.out.Stages, r.out.BatchSizes = st, batches
}

type runner struct {
	cfg          Config
	env          Env
	tallies      []*tally
	start        time.Time
	measureStart time.Time
	end          time.Time    // zero in -ops mode
	issued       atomic.Int64 // measured operations issued (-ops budget)
	abandoned    atomic.Int64 // open loop: requests due before the end, never sent
	warmDropped  atomic.Int64 // open loop: warm-up requests still due when measuring began
	guards       []opGuard    // per client: the operation timeout
	lastDone     int64        // unix ns of the last measured completion (reporter only)
	carryOps     int64        // measured ops collected in the warm-up's last interval (reporter only)
	carryErrs    int64
	out          *Outcome
}

// since returns the time since the run started. It reads only the
// monotonic clock: time.Now reads the wall clock as well, and the
// per-operation path needs two clock readings and no more.
func (r *runner) since() time.Duration { return time.Since(r.start) }

// client is one logical client's loop. In a closed loop it issues the next
// operation when the previous one returns and measures from the actual send.
// In an open loop it follows a fixed schedule of intended send times and
// measures from the intended time (wrk2), so a stalled system is charged
// for the requests it kept from being sent: no coordinated omission.
// Instants are durations since r.start (see since).
func (r *runner) client(ctx context.Context, i int, s Session) {
	w := newWorkload(r.cfg, i)
	t := r.tallies[i]
	g := &r.guards[i]
	startNs := r.start.UnixNano()
	measureAt := r.cfg.Warmup
	endAt := time.Duration(-1) // none: -ops mode
	if r.cfg.Duration > 0 {
		endAt = measureAt + r.cfg.Duration
	}
	var interval, next time.Duration
	var timer *time.Timer
	if r.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(r.cfg.Clients) / r.cfg.Rate)
		// Stagger the clients across one interval so the offered load is
		// smooth rather than a burst of Clients requests at once.
		next = interval * time.Duration(i) / time.Duration(r.cfg.Clients)
		timer = time.NewTimer(time.Hour)
		defer timer.Stop()
	}
	for ctx.Err() == nil {
		// sent starts the operation's timeout: the actual send, give or
		// take the timer's lateness (a few µs against seconds), which saves
		// reading the clock once more.
		var intended, sent time.Duration
		if interval > 0 {
			intended = next
			sent = r.since()
			if intended < measureAt && sent >= measureAt {
				// Measuring has begun with warm-up requests still due:
				// that backlog is the warm-up's, not the measured run's
				// to pay for. It is dropped, and the schedule goes on at
				// the first measured slot.
				n := (measureAt - intended + interval - 1) / interval
				intended += n * interval
				r.warmDropped.Add(int64(n))
			}
			if endAt >= 0 && intended < endAt && sent >= endAt {
				// Overloaded: the run's time is up with requests still
				// due. They are abandoned and counted, rather than the
				// run going on past -duration until the backlog clears.
				r.abandoned.Add(int64((endAt - intended + interval - 1) / interval))
				return
			}
			if endAt >= 0 && intended >= endAt {
				return // before waiting for a slot past the end
			}
			next = intended + interval
			if d := intended - sent; d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
				sent = intended
			}
		} else {
			intended = r.since()
			sent = intended
		}
		if endAt >= 0 && intended >= endAt {
			return
		}
		measured := intended >= measureAt
		if measured && r.cfg.Ops > 0 && r.issued.Add(1) > r.cfg.Ops {
			return
		}
		op := w.next()
		_, err := s.Do(g.begin(sent+r.cfg.Timeout), op)
		if g.end() {
			// Past its deadline: a timeout even if the answer raced the
			// cut-off (for a write, the outcome is unknown either way).
			err = errOpTimeout
		}
		done := r.since()
		if err != nil && ctx.Err() != nil {
			return // cut short by the run's cancellation: not the target's fault
		}
		raw := time.Duration(-1)
		if interval > 0 {
			raw = done - sent
		}
		t.record(done-intended, raw, startNs+int64(done), err, measured)
	}
}

// report collects every client's interval once per second (aligned to the
// start of measuring), prints the progress line and builds the time series,
// until every client has finished.
func (r *runner) report(ctx context.Context, clientsDone <-chan struct{}) {
	tick, last := r.start, r.start
	tickH := hist.New()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for finished := false; !finished; {
		prev := tick
		tick = tick.Add(time.Second)
		if prev.Before(r.measureStart) && tick.After(r.measureStart) {
			tick = r.measureStart // the first measured second starts exactly at measureStart
		}
		timer.Reset(time.Until(tick))
		select {
		case <-timer.C:
		case <-clientsDone:
			finished = true
		case <-ctx.Done():
			<-clientsDone // clients return promptly once ctx is done
			finished = true
		}
		now := time.Now()
		// The interval's phase follows the schedule; its length is what
		// really passed since the last collection (the timer may be late).
		r.collect(tickH, last, now, !prev.Before(r.measureStart))
		last = now
	}
	if r.lastDone > 0 {
		r.out.Elapsed = time.Unix(0, r.lastDone).Sub(r.measureStart)
	}
	if r.cfg.Duration > 0 && !r.out.Interrupted && ctx.Err() == nil && r.out.Elapsed < r.cfg.Duration {
		r.out.Elapsed = r.cfg.Duration
	}
}

// collect merges every client's interval since the last call.
func (r *runner) collect(tickH *hdr.Histogram, from, now time.Time, measuring bool) {
	tickH.Reset()
	var ops, errs, warm int64
	for _, t := range r.tallies {
		iv := t.take()
		for _, lat := range iv.lat {
			if hist.Record(tickH, time.Duration(lat)) {
				r.out.Clamped++
			}
		}
		if r.out.Uncorrected != nil {
			for _, lat := range iv.raw {
				hist.Record(r.out.Uncorrected, time.Duration(lat))
			}
		}
		ops += int64(len(iv.lat))
		errs += iv.errs
		warm += iv.warm
		r.lastDone = max(r.lastDone, iv.lastDone)
		for k, n := range iv.kinds {
			if _, ok := r.out.ErrorKinds[k]; !ok && len(r.out.ErrorKinds) >= maxErrorKinds {
				k = "other"
			}
			r.out.ErrorKinds[k] += n
		}
	}
	r.out.Hist.Merge(tickH)
	r.out.Ops += ops
	r.out.Errors += errs
	r.out.WarmupOps += warm
	leader, leaderOK := uint64(0), false
	if r.env.Leader != nil {
		leader, leaderOK = r.env.Leader()
	}
	secs := max(now.Sub(from).Seconds(), 1e-9)
	p50, p99 := tickH.ValueAtPercentile(50), tickH.ValueAtPercentile(99)
	if !measuring {
		// Operations due after measuring began that completed before the
		// warm-up's last collection: they belong to the first measured second.
		r.carryOps += ops
		r.carryErrs += errs
	} else {
		ops += r.carryOps
		errs += r.carryErrs
		r.carryOps, r.carryErrs = 0, 0
	}
	if n := len(r.out.Series); measuring && secs < 0.5 && n > 0 {
		// The stragglers after the last full second: fold them into it
		// rather than plot a rate over a few milliseconds.
		prev := &r.out.Series[n-1]
		start := 0.0
		if n > 1 {
			start = r.out.Series[n-2].At
		}
		prev.At = now.Sub(r.measureStart).Seconds()
		prev.Ops += ops
		prev.Errors += errs
		prev.Throughput = float64(prev.Ops) / (prev.At - start)
		prev.Max = max(prev.Max, tickH.Max())
	} else if measuring {
		s := results.Second{At: now.Sub(r.measureStart).Seconds(), Ops: ops, Throughput: float64(ops) / secs,
			P50: p50, P99: p99, P999: tickH.ValueAtPercentile(99.9), Max: tickH.Max(), Errors: errs}
		if leaderOK {
			s.Leader = leader
		}
		r.out.Series = append(r.out.Series, s)
	}
	if r.env.Progress == nil || secs < 0.5 {
		return // nothing to show, or the last few stragglers (the report follows)
	}
	ldr := "?"
	if leaderOK {
		ldr = fmt.Sprintf("n%d", leader)
	}
	if !measuring {
		// Warm-up latencies are not recorded (they would only slow the
		// warm-up's collections); the rate shows the cluster is serving.
		// Its clock is the warm-up's own: the measuring clock starts at 0
		// when it ends.
		fmt.Fprintf(r.env.Progress, "[warm-up %4.1fs of %v] %9.0f ops/s  leader %s\n",
			now.Sub(r.start).Seconds(), r.cfg.Warmup, float64(warm)/secs, ldr)
		return
	}
	extra := ""
	if r.env.Status != nil {
		if s := r.env.Status(); s != "" {
			extra = "  " + s
		}
	}
	// The measuring clock, the one of the fault windows, the series, the
	// JSON and the plots: a fault at 5s shows on the line that says 5s.
	fmt.Fprintf(r.env.Progress, "[%5.1fs] %9.0f ops/s  p50 %s  p99 %s  errors %d  leader %s%s\n",
		now.Sub(r.measureStart).Seconds(), float64(ops)/secs, FormatNs(p50), FormatNs(p99), errs, ldr, extra)
}

// FormatNs prints a latency in the unit that suits it (µs, ms or s).
func FormatNs(ns int64) string {
	switch {
	case ns < 1e6:
		return fmt.Sprintf("%.0fµs", float64(ns)/1e3)
	case ns < 1e9:
		return fmt.Sprintf("%.2fms", float64(ns)/1e6)
	default:
		return fmt.Sprintf("%.2fs", float64(ns)/1e9)
	}
}
