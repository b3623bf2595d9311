// Package fake is a test double: an in-process key-value Target for the
// harness's tests, with configurable latency, errors and a one-time stall.
// It replicates nothing and measures nothing real; never use it for results.
package fake

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
)

// ErrInjected is the error the fake returns for injected failures.
var ErrInjected = errors.New("fake: injected failure")

// Target is an in-memory map behind the benchkit.Target interface.
type Target struct {
	// Latency, if set, returns how long operation n (counted from 1 across
	// all sessions) sleeps before answering.
	Latency func(n uint64) time.Duration
	// FailEvery makes every FailEvery-th operation fail with ErrInjected;
	// 0 never.
	FailEvery uint64

	ops      atomic.Uint64
	closed   atomic.Bool
	sessions atomic.Int64
	mu       sync.Mutex
	data     map[string][]byte
}

// Ops returns how many operations the fake answered or failed.
func (t *Target) Ops() uint64 { return t.ops.Load() }

// Sessions returns how many sessions were handed out.
func (t *Target) Sessions() int64 { return t.sessions.Load() }

// Session implements benchkit.Target.
func (t *Target) Session() benchkit.Session {
	t.sessions.Add(1)
	return &session{t: t}
}

// Close implements benchkit.Target.
func (t *Target) Close() error {
	t.closed.Store(true)
	return nil
}

type session struct {
	t    *Target
	busy atomic.Bool
}

// Do implements benchkit.Session.
func (s *session) Do(ctx context.Context, op benchkit.Op) (benchkit.Result, error) {
	if !s.busy.CompareAndSwap(false, true) {
		panic("fake: two outstanding operations on one session")
	}
	defer s.busy.Store(false)
	t := s.t
	if t.closed.Load() {
		return benchkit.Result{}, errors.New("fake: closed")
	}
	n := t.ops.Add(1)
	if t.Latency != nil {
		if d := t.Latency(n); d > 0 {
			tm := time.NewTimer(d)
			select {
			case <-tm.C:
			case <-ctx.Done():
				tm.Stop()
				return benchkit.Result{}, ctx.Err()
			}
		}
	}
	if t.FailEvery > 0 && n%t.FailEvery == 0 {
		return benchkit.Result{}, ErrInjected
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.data == nil {
		t.data = map[string][]byte{}
	}
	k := string(op.Key)
	switch op.Kind {
	case benchkit.OpGet:
		v, ok := t.data[k]
		return benchkit.Result{Value: v, Found: ok}, nil
	case benchkit.OpPut:
		t.data[k] = append([]byte(nil), op.Value...)
	case benchkit.OpDelete:
		delete(t.data, k)
	case benchkit.OpCAS:
		if string(t.data[k]) != string(op.Expect) {
			return benchkit.Result{Found: true, CASFailed: true}, nil
		}
		t.data[k] = append([]byte(nil), op.Value...)
	}
	return benchkit.Result{Found: true}, nil
}
