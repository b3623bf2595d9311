package main

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/node"
	"github.com/mpaxos/mpaxos/resp"
)

// respOptions is what -resp-addr says: where this node's Redis protocol
// server listens, and every node's RESP address for -MOVED and CLUSTER
// SLOTS (empty Listen: no RESP server).
type respOptions struct {
	Listen string
	Addrs  map[uint16]string
}

// parseRESPAddr reads -resp-addr: "host:port" (this node only: a follower
// then names the leader in an -ERR instead of redirecting to it) or
// "1=host:port,2=host:port,..." like -peers, the same list on every node,
// each listening on its own entry.
func parseRESPAddr(s string, id uint16) (respOptions, error) {
	if s == "" {
		return respOptions{}, nil
	}
	if !strings.Contains(s, "=") {
		return respOptions{Listen: s, Addrs: map[uint16]string{id: s}}, nil
	}
	m := make(map[uint16]string)
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.ParseUint(k, 10, 16)
		if !ok || v == "" || err != nil || n == 0 {
			return respOptions{}, fmt.Errorf("-resp-addr: %q is not id=host:port with an id in 1..65535", part)
		}
		if _, dup := m[uint16(n)]; dup {
			return respOptions{}, fmt.Errorf("-resp-addr: id %d listed twice", n)
		}
		m[uint16(n)] = v
	}
	if m[id] == "" {
		return respOptions{}, fmt.Errorf("-resp-addr lists no address for this node (-id %d)", id)
	}
	return respOptions{Listen: m[id], Addrs: m}, nil
}

// startRESP serves the Redis protocol beside n. It reaches n through the
// client library on n's own client port, without following redirects, so
// that a follower answers -MOVED (see package resp).
func startRESP(o respOptions, cfg node.Config, n *node.Node, log *slog.Logger) (*resp.Server, *client.Client, error) {
	ccfg := client.DefaultConfig()
	ccfg.NoRedirect = true
	cl, err := client.Dial([]string{loopbackOf(cfg.ClientAddr)}, ccfg)
	if err != nil {
		return nil, nil, fmt.Errorf("-resp-addr: reaching this node's client port: %w", err)
	}
	rcfg := resp.DefaultConfig()
	rcfg.Addr = o.Listen
	rcfg.ID = uint16(cfg.ID)
	rcfg.Addrs = o.Addrs
	rcfg.Groups = cfg.Groups
	rcfg.Logger = log
	rcfg.NewSession = func() resp.Session { return cl.Session() }
	rcfg.Status = func() resp.Status {
		st := n.Status()
		rs := resp.Status{ID: st.ID, Role: st.Role, Leader: st.Leader, Commit: st.Commit, Applied: st.Applied}
		if cfg.Groups > 1 {
			rs.Leaders = st.Leaders()
		}
		return rs
	}
	s, err := resp.Listen(rcfg)
	if err != nil {
		cl.Close()
		return nil, nil, fmt.Errorf("-resp-addr: %w", err)
	}
	return s, cl, nil
}

// loopbackOf turns a listening address without a host, or with an
// unspecified one (":8001", "0.0.0.0:8001"), into one to dial on this
// machine.
func loopbackOf(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}
