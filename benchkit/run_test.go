package benchkit_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/internal/fake"
)

func quick() benchkit.Config {
	c := benchkit.DefaultConfig()
	c.Clients, c.Conns = 4, 1
	c.Duration, c.Ops = 0, 2000
	c.Warmup = 0
	c.Keys = 1000
	return c
}

func TestRunClosedLoopCountsEveryOp(t *testing.T) {
	cfg := quick()
	tgt := &fake.Target{FailEvery: 10}
	var progress bytes.Buffer
	out, err := benchkit.Run(context.Background(), cfg, benchkit.Env{Target: tgt, Progress: &progress,
		Leader: func() (uint64, bool) { return 2, true }})
	if err != nil {
		t.Fatal(err)
	}
	if out.Mode != "closed" || out.Interrupted {
		t.Fatalf("mode %q interrupted %v", out.Mode, out.Interrupted)
	}
	if got := out.Ops + out.Errors; got != cfg.Ops {
		t.Fatalf("ops %d + errors %d = %d, want %d", out.Ops, out.Errors, got, cfg.Ops)
	}
	if tgt.Ops() != uint64(cfg.Ops) {
		t.Fatalf("target saw %d ops, want %d", tgt.Ops(), cfg.Ops)
	}
	if out.Errors != cfg.Ops/10 || out.ErrorKinds[fake.ErrInjected.Error()] != out.Errors {
		t.Fatalf("errors %d kinds %v, want %d injected", out.Errors, out.ErrorKinds, cfg.Ops/10)
	}
	if out.Hist.TotalCount() != out.Ops {
		t.Fatalf("histogram holds %d, ops %d", out.Hist.TotalCount(), out.Ops)
	}
	if tgt.Sessions() != int64(cfg.Clients) {
		t.Fatalf("%d sessions, want %d", tgt.Sessions(), cfg.Clients)
	}
	var series int64
	for _, s := range out.Series {
		series += s.Ops
	}
	if series != out.Ops {
		t.Fatalf("series sums to %d ops, total %d", series, out.Ops)
	}
}

// TestOpenLoopChargesStalls: one stall of the target must be charged to
// every request that was due during it in an open loop (coordinated
// omission corrected), and only to the stalled request in a closed loop.
func TestOpenLoopChargesStalls(t *testing.T) {
	const stall = 100 * time.Millisecond
	const rate = 2000.0 // one client: an op due every 500 µs
	run := func(rateSet float64) *benchkit.Outcome {
		cfg := quick()
		cfg.Clients, cfg.Conns, cfg.Ops, cfg.Rate = 1, 1, 400, rateSet
		tgt := &fake.Target{Latency: func(n uint64) time.Duration {
			if n == 50 {
				return stall
			}
			return 0
		}}
		out, err := benchkit.Run(context.Background(), cfg, benchkit.Env{Target: tgt})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	open := run(rate)
	if open.Mode != "open" {
		t.Fatalf("mode %q", open.Mode)
	}
	// Requests due in the first half of the stall waited at least stall/2.
	slow := open.Hist.TotalCount() - countBelow(open, stall/2)
	if want := int64(rate*stall.Seconds()/2) - 1; slow < want {
		t.Fatalf("open loop: %d requests at or above %v, want at least %d", slow, stall/2, want)
	}
	// From the actual send (wrk2 -U), only the stalled request took long.
	u := open.Uncorrected
	if u == nil || u.TotalCount() != open.Hist.TotalCount() {
		t.Fatalf("open loop: uncorrected histogram %v, want as many as the corrected %d", u, open.Hist.TotalCount())
	}
	var uslow int64
	for _, b := range u.Distribution() {
		if b.To >= int64(stall/2) {
			uslow += b.Count
		}
	}
	if u.Max() < int64(stall) || uslow*2 > slow {
		t.Fatalf("open loop uncorrected: max %d, %d at or above %v (corrected %d): want the stalled one only", u.Max(), uslow, stall/2, slow)
	}
	closed := run(0)
	if closed.Hist.Max() < int64(stall) {
		t.Fatalf("closed loop: max %d, the stalled request took at least %v", closed.Hist.Max(), stall)
	}
	if closed.Uncorrected != nil {
		t.Fatalf("closed loop has an uncorrected histogram: its latency is from the actual send already")
	}
}

func countBelow(o *benchkit.Outcome, d time.Duration) int64 {
	var n int64
	for _, b := range o.Hist.Distribution() {
		if b.To < int64(d) {
			n += b.Count
		}
	}
	return n
}

func TestRunCancelKeepsPartialResults(t *testing.T) {
	cfg := quick()
	cfg.Ops, cfg.Duration = 0, time.Hour
	var n atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	tgt := &fake.Target{Latency: func(k uint64) time.Duration {
		if n.Add(1) == 500 {
			cancel() // Ctrl-C in the middle of the run
		}
		return 0
	}}
	out, err := benchkit.Run(ctx, cfg, benchkit.Env{Target: tgt})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Interrupted || out.Ops < 400 || out.Hist.TotalCount() != out.Ops {
		t.Fatalf("interrupted %v ops %d hist %d", out.Interrupted, out.Ops, out.Hist.TotalCount())
	}
}

func TestRunWarmupNotMeasured(t *testing.T) {
	cfg := quick()
	cfg.Ops, cfg.Duration, cfg.Warmup = 0, time.Second, 600*time.Millisecond
	cfg.Clients = 1
	tgt := &fake.Target{Latency: func(uint64) time.Duration { return time.Millisecond }}
	var progress bytes.Buffer
	out, err := benchkit.Run(context.Background(), cfg, benchkit.Env{Target: tgt, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if out.WarmupOps == 0 || out.Ops == 0 {
		t.Fatalf("warm-up ops %d, measured %d", out.WarmupOps, out.Ops)
	}
	if out.WarmupOps+out.Ops+out.Errors != int64(tgt.Ops()) {
		t.Fatalf("warm %d + measured %d + errors %d != %d answered", out.WarmupOps, out.Ops, out.Errors, tgt.Ops())
	}
	if out.Elapsed < cfg.Duration {
		t.Fatalf("elapsed %v < duration %v", out.Elapsed, cfg.Duration)
	}
	// A warm-up line (at 0.6 s) and a measured line (at 1.6 s); more if
	// stragglers under heavy load take over half a second.
	if p := progress.String(); strings.Count(p, "\n") < 2 || !strings.Contains(p, "warm-up") || !strings.Contains(p, "p99") {
		t.Fatalf("progress lines: %q", p)
	}
	// Measured lines show the measuring clock, the series' (and the
	// faults' and plots'), not the time since the warm-up began.
	for _, l := range strings.Split(progress.String(), "\n") {
		if !strings.Contains(l, "p99") {
			continue
		}
		var at float64
		if _, err := fmt.Sscanf(strings.TrimLeft(l, "[ "), "%fs]", &at); err != nil {
			t.Fatalf("progress line %q: %v", l, err)
		}
		if want := fmt.Sprintf("%.1f", out.Series[0].At); fmt.Sprintf("%.1f", at) != want {
			t.Fatalf("first measured line %q, want it at %ss as the series says", l, want)
		}
		break
	}
}

type noopTarget struct{}
type noopSession struct{}

func (noopTarget) Session() benchkit.Session { return noopSession{} }
func (noopTarget) Close() error              { return nil }
func (noopSession) Do(context.Context, benchkit.Op) (benchkit.Result, error) {
	return benchkit.Result{}, nil
}

// BenchmarkRunNoopTarget is the harness's own cost per operation (choose
// an op, time it, record it) against a target that does nothing: the
// ceiling of what the load generator can drive on this machine.
func BenchmarkRunNoopTarget(b *testing.B) {
	cfg := benchkit.DefaultConfig()
	cfg.Clients, cfg.Conns, cfg.Duration, cfg.Warmup, cfg.Ops = 4, 1, 0, 0, int64(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := benchkit.Run(context.Background(), cfg, benchkit.Env{Target: noopTarget{}}); err != nil {
		b.Fatal(err)
	}
}

// TestSeriesAccountsForEveryMeasuredOp: with a warm-up, the per-second
// series still adds up to the measured total.
func TestSeriesAccountsForEveryMeasuredOp(t *testing.T) {
	cfg := quick()
	cfg.Ops, cfg.Duration, cfg.Warmup = 0, 1200*time.Millisecond, 300*time.Millisecond
	tgt := &fake.Target{Latency: func(uint64) time.Duration { return 200 * time.Microsecond }}
	out, err := benchkit.Run(context.Background(), cfg, benchkit.Env{Target: tgt})
	if err != nil {
		t.Fatal(err)
	}
	var sum, errs int64
	for _, s := range out.Series {
		sum += s.Ops
		errs += s.Errors
	}
	if sum != out.Ops || errs != out.Errors || len(out.Series) == 0 {
		t.Fatalf("series: %d ops %d errors in %d points; total %d ops %d errors", sum, errs, len(out.Series), out.Ops, out.Errors)
	}
}

// An open loop whose clients' next slot lies past the end stops at the
// end, without waiting for it: 50 clients at 1 op/s have slots one second
// apart, and a 300 ms run must not last 49 s.
func TestOpenLoopEndsAtDuration(t *testing.T) {
	cfg := quick()
	cfg.Clients, cfg.Ops, cfg.Duration, cfg.Rate = 50, 0, 300*time.Millisecond, 1
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a bound, not a measurement
	defer cancel()
	out, err := benchkit.Run(ctx, cfg, benchkit.Env{Target: &fake.Target{}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Interrupted || out.Ops != 1 {
		t.Fatalf("interrupted %v (still waiting for slots past the end), %d ops, want the one due at 0", out.Interrupted, out.Ops)
	}
}

// An overloaded open loop (a 10 ms target offered an op every 1 ms)
// stops at -duration and counts the requests it never sent; every slot
// due before the end is either done or abandoned.
func TestOpenLoopOverloadedStopsAndCountsBacklog(t *testing.T) {
	cfg := quick()
	cfg.Clients, cfg.Ops, cfg.Duration, cfg.Rate = 1, 0, 300*time.Millisecond, 1000
	tgt := &fake.Target{Latency: func(uint64) time.Duration { return 10 * time.Millisecond }}
	out, err := benchkit.Run(context.Background(), cfg, benchkit.Env{Target: tgt})
	if err != nil {
		t.Fatal(err)
	}
	if out.Abandoned == 0 || tgt.Ops() >= 300 {
		t.Fatalf("sent %d of the 300 due, abandoned %d: the run went on past its end", tgt.Ops(), out.Abandoned)
	}
	if out.Ops+out.Errors+out.Abandoned != 300 {
		t.Fatalf("done %d + failed %d + abandoned %d != 300 due", out.Ops, out.Errors, out.Abandoned)
	}
}

// The warm-up's backlog of an overloaded open loop is dropped when
// measuring begins, not sent in the measured part (where it would pass
// as warm-up operations and leave the measured slots waiting).
func TestOpenLoopWarmupBacklogNotMeasured(t *testing.T) {
	cfg := quick()
	cfg.Clients, cfg.Ops, cfg.Warmup, cfg.Duration, cfg.Rate = 1, 0, 200*time.Millisecond, 200*time.Millisecond, 1000
	tgt := &fake.Target{Latency: func(uint64) time.Duration { return 10 * time.Millisecond }}
	out, err := benchkit.Run(context.Background(), cfg, benchkit.Env{Target: tgt})
	if err != nil {
		t.Fatal(err)
	}
	if out.WarmupDropped == 0 || out.Ops == 0 {
		t.Fatalf("warm-up backlog dropped %d, measured ops %d", out.WarmupDropped, out.Ops)
	}
	if out.WarmupOps+out.WarmupDropped != 200 {
		t.Fatalf("warm-up done %d + dropped %d != 200 due", out.WarmupOps, out.WarmupDropped)
	}
	if out.Ops+out.Errors+out.Abandoned != 200 {
		t.Fatalf("measured done %d + failed %d + abandoned %d != 200 due", out.Ops, out.Errors, out.Abandoned)
	}
}
