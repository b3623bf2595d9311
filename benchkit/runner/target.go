package runner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/client"
)

// DialFunc connects the benchmark's clients to the cluster whose client
// addresses are addrs, spreading sessions over conns client connections,
// over TLS with tlsCfg when it is not nil.
type DialFunc func(ctx context.Context, addrs []string, conns int, tlsCfg *tls.Config) (benchkit.Target, error)

// DialClients is the DialFunc of a real cluster: each of the conns
// connections is a client.Client holding one multiplexed connection per
// server.
func DialClients(ctx context.Context, addrs []string, conns int, tlsCfg *tls.Config) (benchkit.Target, error) {
	return DialClientsVia(nil)(ctx, addrs, conns, tlsCfg)
}

// DialClientsVia is DialClients with the clients' TCP connections made by
// dial (client.Config.Dial; nil is a plain dial): from the clients'
// namespace on netns hosts (cluster.Cluster.ClientDial).
func DialClientsVia(dial func(addr string, timeout time.Duration) (net.Conn, error)) DialFunc {
	return func(_ context.Context, addrs []string, conns int, tlsCfg *tls.Config) (benchkit.Target, error) {
		return dialClients(addrs, conns, tlsCfg, dial)
	}
}

func dialClients(addrs []string, conns int, tlsCfg *tls.Config, dial func(string, time.Duration) (net.Conn, error)) (benchkit.Target, error) {
	if conns < 1 {
		conns = 1
	}
	ccfg := client.DefaultConfig()
	ccfg.TLS, ccfg.Dial = tlsCfg, dial
	t := &clientTarget{}
	for i := 0; i < conns; i++ {
		c, err := client.Dial(addrs, ccfg)
		if err != nil {
			t.Close()
			return nil, err
		}
		t.clients = append(t.clients, c)
	}
	return t, nil
}

// clientTarget adapts the client library to benchkit.Target.
type clientTarget struct {
	clients []*client.Client
	next    atomic.Uint64
}

func (t *clientTarget) Session() benchkit.Session {
	c := t.clients[t.next.Add(1)%uint64(len(t.clients))]
	return clientSession{s: c.Session()}
}

func (t *clientTarget) Close() error {
	for _, c := range t.clients {
		c.Close()
	}
	return nil
}

type clientSession struct{ s *client.Session }

// Do runs op through the client library, which encodes op's slices into
// its request before returning, as benchkit.Session requires.
func (s clientSession) Do(ctx context.Context, op benchkit.Op) (benchkit.Result, error) {
	switch op.Kind {
	case benchkit.OpGet:
		v, found, err := s.s.Get(ctx, op.Key)
		return benchkit.Result{Value: v, Found: found}, err
	case benchkit.OpPut:
		return benchkit.Result{}, s.s.Put(ctx, op.Key, op.Value)
	case benchkit.OpDelete:
		return benchkit.Result{}, s.s.Delete(ctx, op.Key)
	case benchkit.OpCAS:
		err := s.s.CAS(ctx, op.Key, op.Expect, op.Value)
		if errors.Is(err, client.ErrCASFailed) {
			return benchkit.Result{Found: true, CASFailed: true}, nil
		}
		return benchkit.Result{Found: err == nil}, err
	}
	return benchkit.Result{}, fmt.Errorf("runner: unknown op %v", op.Kind)
}
