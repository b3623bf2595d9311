package benchkit

import (
	"context"
	"testing"
	"time"
)

func TestOpGuard(t *testing.T) {
	var g opGuard
	g.init(context.Background())
	base := 1000 * time.Second // since the run started

	// An operation past its deadline is cancelled and reported timed out;
	// the next operation gets a fresh context.
	ctx := g.begin(base)
	g.expire(int64(base + time.Nanosecond))
	if ctx.Err() == nil {
		t.Fatal("overdue operation not cancelled")
	}
	if !g.end() {
		t.Fatal("end did not report the timeout")
	}
	ctx2 := g.begin(base + time.Hour)
	if ctx2.Err() != nil || ctx2 == ctx {
		t.Fatal("next operation reuses the cancelled context")
	}

	// An operation within its deadline is left alone, and a stale expiry
	// (for an operation that already ended) cannot hit the next one.
	g.expire(int64(base + time.Minute))
	if ctx2.Err() != nil || g.end() {
		t.Fatal("operation within its deadline was cut off")
	}
	ctx3 := g.begin(base + 2*time.Hour)
	g.expire(int64(base + 90*time.Minute))
	if ctx3.Err() != nil || g.end() {
		t.Fatal("expiry of an earlier deadline hit a later operation")
	}
	g.close()
}

// hangTarget's sessions never answer operation 3 until cancelled.
type hangTarget struct{ n int }
type hangSession struct{ t *hangTarget }

func (h *hangTarget) Session() Session { return hangSession{h} }
func (h *hangTarget) Close() error     { return nil }
func (s hangSession) Do(ctx context.Context, op Op) (Result, error) {
	s.t.n++ // one client: no concurrency
	if s.t.n == 3 {
		<-ctx.Done()
		return Result{}, ctx.Err()
	}
	return Result{}, nil
}

func TestRunTimesOutHungOperation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Clients, cfg.Conns, cfg.Duration, cfg.Ops, cfg.Warmup = 1, 1, 0, 10, 0
	cfg.Timeout = 30 * time.Millisecond
	out, err := Run(context.Background(), cfg, Env{Target: &hangTarget{}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Errors != 1 || out.ErrorKinds["timeout"] != 1 || out.Ops != 9 {
		t.Fatalf("ops %d errors %d kinds %v", out.Ops, out.Errors, out.ErrorKinds)
	}
}
