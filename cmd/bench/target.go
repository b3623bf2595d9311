package main

import (
	"context"
	"errors"

	"github.com/mpaxos/mpaxos/benchkit"
)

// errNoClient is returned until the client library is adapted to
// benchkit.Target here.
var errNoClient = errors.New("the client library is not wired into cmd/bench yet (cmd/bench/target.go)")

// dialTarget connects the benchmark's clients to the cluster whose client
// addresses are addrs, sharing conns connections among all sessions.
//
// It is the one place where the real client library meets the harness:
// adapt client.Dial / (*client.Client).Session to benchkit.Target /
// benchkit.Session here. Tests replace it with an in-process fake. With the
// client of CONTRACTS.md the adapter is about:
//
//	func (s clientSession) Do(ctx context.Context, op benchkit.Op) (benchkit.Result, error) {
//		switch op.Kind {
//		case benchkit.OpGet:
//			v, found, err := s.s.Get(ctx, op.Key)
//			return benchkit.Result{Value: v, Found: found}, err
//		case benchkit.OpPut:
//			return benchkit.Result{}, s.s.Put(ctx, op.Key, op.Value)
//		case benchkit.OpDelete:
//			return benchkit.Result{}, s.s.Delete(ctx, op.Key)
//		case benchkit.OpCAS:
//			err := s.s.CAS(ctx, op.Key, op.Expect, op.Value)
//			if errors.Is(err, client.ErrCASFailed) {
//				return benchkit.Result{Found: true, CASFailed: true}, nil
//			}
//			return benchkit.Result{Found: err == nil}, err
//		}
//		return benchkit.Result{}, fmt.Errorf("bench: unknown op %v", op.Kind)
//	}
//
// Op's slices are reused after Do returns: Put must have encoded or copied
// them by then.
var dialTarget = func(ctx context.Context, addrs []string, conns int) (benchkit.Target, error) {
	return nil, errNoClient
}
