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
// benchkit.Session here. Tests replace it with an in-process fake.
var dialTarget = func(ctx context.Context, addrs []string, conns int) (benchkit.Target, error) {
	return nil, errNoClient
}
