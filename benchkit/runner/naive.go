package runner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/cluster"
	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/check"
	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/naive"
)

// DialNaive is the DialFunc for a cluster running naive scheme p (the
// nodes were started with -protocol). Each logical client has a home
// node (spread round-robin) and asks it first on every operation, so
// during a partition clients sit on both sides of it; the library fails
// over to the next node when the home does not answer. A node that does
// not lead names the primary it believes in, and the client asks exactly
// that node next, once per hop. Under Unsync the client also sends every
// write to every node, its home first, and returns its home's result.
//
// Per node there are two client connections: one that starts at the node
// and fails over (the home's), one bound to it alone (the hops' and
// Unsync's copies). A logical client is a client.Session on each: a
// different client id at each, used only after a refusal (not executed
// there) or for Unsync's copies, so the switch runs no command twice.
func DialNaive(p naive.Protocol) DialFunc {
	return func(_ context.Context, addrs []string, _ int, tlsCfg *tls.Config) (benchkit.Target, error) {
		ccfg := client.DefaultConfig()
		ccfg.TLS = tlsCfg
		ccfg.NoRedirect = true
		t := &homedTarget{fanout: p == naive.Unsync}
		for i := range addrs {
			rot := append(append([]string(nil), addrs[i:]...), addrs[:i]...)
			home, err := client.Dial(rot, ccfg)
			if err != nil {
				t.Close()
				return nil, err
			}
			t.homes = append(t.homes, home)
			pinned, err := client.Dial(addrs[i:i+1], ccfg)
			if err != nil {
				t.Close()
				return nil, err
			}
			t.pinned = append(t.pinned, pinned)
		}
		return t, nil
	}
}

type homedTarget struct {
	homes  []*client.Client // homes[i] starts at node i+1 and fails over
	pinned []*client.Client // pinned[i] talks to node i+1 only
	fanout bool
	next   int
}

func (t *homedTarget) Session() benchkit.Session {
	i := t.next % len(t.homes)
	t.next++
	s := &homedSession{home: clientSession{s: t.homes[i].Session()}, homeIdx: i, fanout: t.fanout}
	for _, c := range t.pinned {
		s.at = append(s.at, clientSession{s: c.Session()})
	}
	return s
}

func (t *homedTarget) Close() error {
	for _, c := range append(t.homes, t.pinned...) {
		c.Close()
	}
	return nil
}

type homedSession struct {
	home    clientSession
	homeIdx int
	fanout  bool
	at      []clientSession // bound to node index
}

func (s *homedSession) Do(ctx context.Context, op benchkit.Op) (benchkit.Result, error) {
	res, err := s.home.Do(ctx, op)
	if s.fanout && op.Kind != benchkit.OpGet && err == nil {
		return s.fanOut(ctx, op, res)
	}
	for hop := 0; errors.Is(err, client.ErrNotLeader) && hop < len(s.at); hop++ {
		id := int(client.LeaderOf(err))
		if id < 1 || id > len(s.at) {
			break
		}
		res, err = s.at[id-1].Do(ctx, op)
	}
	return res, err
}

// fanOut sends a write the home executed to every other node. The other
// nodes' errors are not looked at: a naive client has no way to repair a
// copy that failed.
func (s *homedSession) fanOut(ctx context.Context, op benchkit.Op, res benchkit.Result) (benchkit.Result, error) {
	value := append([]byte(nil), res.Value...) // aliases the session's buffer
	for k := 1; k < len(s.at); k++ {
		s.at[(s.homeIdx+k)%len(s.at)].Do(ctx, op)
	}
	res.Value = value
	return res, nil
}

// quiescentPoll and quiescentMax pace and bound quiescentHashes.
const (
	quiescentPoll = 200 * time.Millisecond
	quiescentMax  = 10 * time.Second
)

// quiescentHashes returns the nodes' state hashes once no node's applied
// slot moved between two polls (or after quiescentMax): under a naive
// scheme the nodes may never reach one slot, so waiting for that, as
// SettledHashes does, would wait in vain.
func quiescentHashes(ctx context.Context, nc *cluster.NetClient, admins []string) ([]check.NodeState, error) {
	deadline := time.Now().Add(quiescentMax)
	var last []check.NodeState
	for {
		hs, err := nc.Hashes(ctx, admins)
		if err != nil {
			return nil, err
		}
		cur := make([]check.NodeState, len(hs))
		for i, h := range hs {
			cur[i] = check.NodeState{Node: uint64(h.Node), Applied: h.Applied, Hash: h.Hash}
		}
		if slices.EqualFunc(cur, last, func(a, b check.NodeState) bool { return a.Node == b.Node && a.Applied == b.Applied }) ||
			time.Now().After(deadline) {
			return cur, nil
		}
		last = cur
		select {
		case <-ctx.Done():
			return cur, nil
		case <-time.After(quiescentPoll):
		}
	}
}

// divergence adds to v the naive schemes' divergence line: the nodes
// stopped applying with different state hashes (at whatever slots; a
// correct protocol's nodes all reach one slot and one hash).
func divergence(v *results.Verdict, states []check.NodeState) {
	if len(states) < 2 {
		return
	}
	by := map[uint64][]string{}
	for _, s := range states {
		by[s.Hash] = append(by[s.Hash], fmt.Sprintf("%d (slot %d)", s.Node, s.Applied))
	}
	if len(by) == 1 || v.StateHashesAgree != nil && !*v.StateHashesAgree {
		return // agree, or Verify already failed the run on them
	}
	agree := false
	v.StateHashesAgree = &agree
	var parts []string
	for _, h := range slices.Sorted(maps.Keys(by)) {
		parts = append(parts, fmt.Sprintf("nodes %s hash %016x", strings.Join(by[h], ", "), h))
	}
	v.Failures = append(v.Failures, "replica hashes differ (divergence) once the nodes stopped applying: "+strings.Join(parts, "; "))
}
