package runner

import (
	"context"
	"crypto/tls"
	"errors"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/naive"
)

// DialNaive is the DialFunc for a cluster running naive scheme p (the
// nodes were started with -protocol). Each logical client has a home
// node (spread round-robin) and asks it first on every operation, so
// during a partition clients sit on both sides of it; a node that does
// not lead names the one it takes for the primary and the client follows
// that once per hop. Under Unsync the client also sends every write to
// every node, its home first, and answers with its home's result.
//
// A client connection per node carries every session homed there; a
// session is one client.Session per node (a different client id at each),
// used only after that node's refusal (not executed) or for Unsync's
// copies, so no command runs twice through the switch.
func DialNaive(p naive.Protocol) DialFunc {
	return func(_ context.Context, addrs []string, _ int, tlsCfg *tls.Config) (benchkit.Target, error) {
		ccfg := client.DefaultConfig()
		ccfg.TLS = tlsCfg
		ccfg.NoRedirect = true
		t := &homedTarget{fanout: p == naive.Unsync}
		for i := range addrs {
			// Node i first, then the others: a dead home is retried at
			// the next node by the library, in the same session.
			rot := append(append([]string(nil), addrs[i:]...), addrs[:i]...)
			c, err := client.Dial(rot, ccfg)
			if err != nil {
				t.Close()
				return nil, err
			}
			t.clients = append(t.clients, c)
		}
		return t, nil
	}
}

type homedTarget struct {
	clients []*client.Client // clients[i] prefers node i+1
	fanout  bool
	next    int
}

func (t *homedTarget) Session() benchkit.Session {
	s := &homedSession{home: t.next % len(t.clients), fanout: t.fanout}
	t.next++
	for _, c := range t.clients {
		s.at = append(s.at, clientSession{s: c.Session()})
	}
	return s
}

func (t *homedTarget) Close() error {
	for _, c := range t.clients {
		c.Close()
	}
	return nil
}

type homedSession struct {
	home   int
	fanout bool
	at     []clientSession // by node index
}

func (s *homedSession) Do(ctx context.Context, op benchkit.Op) (benchkit.Result, error) {
	if s.fanout && op.Kind != benchkit.OpGet {
		return s.fanOut(ctx, op)
	}
	i := s.home
	for hop := 0; ; hop++ {
		res, err := s.at[i].Do(ctx, op)
		if !errors.Is(err, client.ErrNotLeader) || hop == len(s.at) {
			return res, err
		}
		id := int(client.LeaderOf(err))
		if id < 1 || id > len(s.at) {
			return res, err
		}
		i = id - 1
	}
}

// fanOut sends a write to every node, the home first; the home's answer is
// the client's. The other nodes' errors are not looked at: a naive client
// has no way to repair a copy that failed.
func (s *homedSession) fanOut(ctx context.Context, op benchkit.Op) (benchkit.Result, error) {
	res, err := s.at[s.home].Do(ctx, op)
	if err != nil {
		return res, err
	}
	value := append([]byte(nil), res.Value...) // aliases the session's buffer
	for k := 1; k < len(s.at); k++ {
		s.at[(s.home+k)%len(s.at)].Do(ctx, op)
	}
	res.Value = value
	return res, nil
}
