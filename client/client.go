package client

import (
	"github.com/mpaxos/mpaxos/route"

	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/transport"
)

// Errors a caller can act on.
var (
	// ErrTimeout: the command's context ended before any server answered
	// it. The command may or may not have executed; retrying the same
	// Session call is safe only through the library's own retries.
	ErrTimeout = errors.New("client: timed out")
	// ErrNoQuorum: servers answered, but none could commit (no leader was
	// found while the context lasted): a majority is down or cut off.
	ErrNoQuorum = errors.New("client: no quorum reachable")
	// ErrCASFailed: a compare-and-swap found another value.
	ErrCASFailed = errors.New("client: compare-and-swap failed")
	// ErrNoSpace: the leader refused a write because its disk is (nearly)
	// full (kv.StatusNoSpace); the command did not execute. Reads work.
	ErrNoSpace = errors.New("client: server out of disk space")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("client: closed")
	// ErrStale: the cluster had already applied a later sequence number of
	// this session, so the command was not executed. A Session numbers its
	// commands itself, so something else did: a copy of the session (its
	// id and token) in use elsewhere, or a bug.
	ErrStale = errors.New("client: stale sequence number, not executed")
	// ErrNotOwner: the session's id is held by another client (with another
	// token), so the command was not executed. It happens only if this
	// session expired on the cluster and its id was taken meanwhile.
	ErrNotOwner = errors.New("client: session owned by another client, not executed")
	// ErrNotLeader: with Config.NoRedirect, the server refused the
	// command because another node leads (LeaderOf names it). That
	// attempt did not execute (an earlier one that timed out may have).
	ErrNotLeader = errors.New("client: not the leader")
	// ErrRemoved: with Config.NoRedirect, the server refused the command
	// because it was removed from the cluster's configuration
	// (kv.StatusRemoved; LeaderOf names the leader it last knew). Without
	// NoRedirect the client goes to another server, as for a follower.
	ErrRemoved = errors.New("client: server removed from the cluster")
	// ErrUnexpected: a server answered with a status the operation cannot
	// end with; the command's effect is unknown.
	ErrUnexpected = errors.New("client: unexpected status")
)

// Config tunes a Client.
type Config struct {
	// Attempt is how long one try at one server may take before the
	// command is retried (same seq) at the next. Overdue attempts are
	// found by a sweep every Attempt/4 (at least 1ms), so an attempt ends
	// between Attempt and 1.25×Attempt after it was sent. An attempt that
	// expires without any frame having arrived from its server meanwhile
	// also closes that connection (a new one is dialled on next use), so a
	// connection stalled in the network costs at most one attempt after
	// the path heals, not TCP's retransmission back-off. The default is 1s.
	Attempt time.Duration
	// Backoff is the pause before retrying after a redirect with no known
	// leader (an election is under way). The default is 20ms.
	Backoff time.Duration
	// DialTimeout bounds connecting to one server. The default is 1s.
	DialTimeout time.Duration
	// MaxFrame is the largest response accepted, in bytes. The default is
	// 16 MiB.
	MaxFrame int
	// TLS, if set, connects to the servers over TLS with this
	// configuration (its Certificates or GetClientCertificate answer a
	// node started with -client-cert-auth; transport.Certs.ClientTLS
	// builds one from files). A configuration without ServerName gets
	// each server address's host. The handshake counts towards
	// DialTimeout. The default, nil, is plain TCP.
	TLS *tls.Config
	// NoRedirect makes a command that a server refuses because another
	// node leads end with ErrNotLeader (LeaderOf names that node)
	// instead of being sent there: for a proxy that must tell its own
	// client where the leader is (a Redis -MOVED) rather than forward.
	// A refusal naming no leader (an election under way) is still retried
	// after Backoff. The default is false: follow redirects.
	NoRedirect bool
	// ReadMode is how a Session's gets are served unless the Session or
	// the call says otherwise (Session.SetReadMode, Session.GetMode):
	// kv.ReadLog, kv.ReadIndex or kv.ReadLease are linearizable;
	// kv.ReadStale is NOT (any node answers from its own state, which may
	// miss writes that completed before the get). The default,
	// kv.ReadDefault, leaves the choice to each node's -read-mode, which
	// is linearizable.
	ReadMode kv.ReadMode
	// Dial, if set, makes the TCP connections to the servers (see
	// transport.ConnConfig.Dial). The default, nil, is net.DialTimeout.
	Dial func(addr string, timeout time.Duration) (net.Conn, error)
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Attempt: time.Second, Backoff: 20 * time.Millisecond, DialTimeout: time.Second, MaxFrame: 16 << 20}
}

// Client holds one connection per server and routes responses to sessions.
type Client struct {
	cfg   Config
	addrs []string

	mu struct {
		sync.Mutex
		conns  []*transport.Conn // by address index; nil until dialled
		free   []*slot           // slots of collected sessions, for reuse
		closed bool
	}
	// slots are the sessions' mailboxes by index (see slot.go); the
	// slice is replaced, never changed in place, when it grows (under mu),
	// so the connections' readers index it without a lock.
	slots atomic.Pointer[[]*slot]
	nodes []atomic.Uint32 // node id answering at each address; 0 unknown
	// heard counts the frames received from each address, over all its
	// connections: an attempt that expires with its address's count
	// unchanged since it was sent heard nothing at all from that server
	// (see dropSilent).
	heard []atomic.Uint64
	// leaders is, by group, the index into addrs of the node believed to
	// lead it; groups is the cluster's group count as learnt from the
	// nodes' redirects (kv.NotLeaderInfo), 1 until one says otherwise.
	// A command goes to the believed leader of its key's group
	// (route.GroupOf). Groups the client has not heard of yet start at
	// the address that answered Dial.
	leaders [MaxGroups]atomic.Int32
	groups  atomic.Int32
	// outstanding counts the sessions' requests sent and not yet answered
	// (or given up on); see Session.Do.
	outstanding atomic.Int32
	stop        chan struct{} // closed by Close: ends sweep
}

// Dial prepares a client for the cluster at addrs (client addresses of all
// members). It connects lazily but checks that at least one server answers.
func Dial(addrs []string, cfg Config) (*Client, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("client: no server addresses")
	}
	d := DefaultConfig()
	if cfg.Attempt <= 0 {
		cfg.Attempt = d.Attempt
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = d.Backoff
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = d.DialTimeout
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = d.MaxFrame
	}
	c := &Client{cfg: cfg, addrs: append([]string(nil), addrs...), stop: make(chan struct{})}
	c.mu.conns = make([]*transport.Conn, len(addrs))
	c.nodes = make([]atomic.Uint32, len(addrs))
	c.heard = make([]atomic.Uint64, len(addrs))
	c.slots.Store(new([]*slot))
	c.groups.Store(1)
	c.setLeaders(int32(rand.IntN(len(addrs))))
	var errs []error
	for i := range addrs {
		if _, err := c.conn(i); err == nil {
			c.setLeaders(int32(i))
			go c.sweep()
			return c, nil
		} else {
			errs = append(errs, err)
		}
	}
	return nil, fmt.Errorf("client: no server reachable: %w", errors.Join(errs...))
}

// Close closes every connection; waiting calls return ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.closed = true
	conns := c.mu.conns
	c.mu.Unlock()
	close(c.stop)
	for _, cn := range conns {
		if cn != nil {
			cn.Close()
		}
	}
	// An attempt whose Send got in before its connection closed has
	// published its request id by now (Send and Close order on the
	// connection's lock); later attempts find the client closed.
	for _, sl := range *c.slots.Load() {
		if id := sl.want.Load(); id != 0 && sl.want.CompareAndSwap(id, 0) {
			sl.deliver(response{err: ErrClosed})
		}
	}
	return nil
}

// conn returns the connection to address i, dialling it if needed.
func (c *Client) conn(i int) (*transport.Conn, error) {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if cn := c.mu.conns[i]; cn != nil {
		c.mu.Unlock()
		return cn, nil
	}
	c.mu.Unlock()
	ccfg := transport.DefaultConnConfig()
	ccfg.DialTimeout = c.cfg.DialTimeout
	ccfg.MaxFrameSize = c.cfg.MaxFrame
	ccfg.TLS = c.cfg.TLS
	ccfg.Dial = c.cfg.Dial
	cn, err := transport.Dial(c.addrs[i], ccfg, func(_ *transport.Conn, typ byte, body []byte) {
		c.onFrame(i, typ, body)
	})
	if err != nil {
		return nil, err
	}
	go func() { <-cn.Done(); c.onClosed(i, cn) }()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		cn.Close()
		return nil, ErrClosed
	}
	if old := c.mu.conns[i]; old != nil {
		cn.Close() // lost a race with another dialler
		return old, nil
	}
	c.mu.conns[i] = cn
	return cn, nil
}

// dropSilent closes cn, the connection to address i, because an attempt
// sent on it expired without a single frame arriving from that address
// meanwhile. Such a connection may be stalled in the network (a black hole,
// a middlebox that lost its state) while TCP backs off its retransmissions
// for many seconds, even after the path heals; a server that is merely
// slow would still be answering someone. A new connection is dialled on
// next use, so the client recovers within an attempt of the heal instead
// of TCP's back-off. It is taken out of conns before Close returns, so the
// retry that follows cannot pick it up again.
func (c *Client) dropSilent(i int, cn *transport.Conn) {
	c.mu.Lock()
	if c.mu.conns[i] == cn {
		c.mu.conns[i] = nil
	}
	c.mu.Unlock()
	cn.Close()
}

func (c *Client) onClosed(i int, cn *transport.Conn) {
	c.mu.Lock()
	if c.mu.conns[i] == cn {
		c.mu.conns[i] = nil
	}
	c.mu.Unlock()
}

// onFrame runs on a connection's reader goroutine; body is valid only
// during the call, so the value is copied for the session. It takes no
// lock: the request id names the session's slot, and claiming the slot's
// want (a compare-and-swap) decides whether the answer is still awaited.
func (c *Client) onFrame(i int, typ byte, body []byte) {
	c.heard[i].Add(1) // any frame shows the connection is alive
	if typ != kv.FrameResponse {
		return
	}
	r, err := kv.DecodeResponse(body)
	if err != nil {
		return
	}
	if n := uint32(r.Node); c.nodes[i].Load() != n {
		c.nodes[i].Store(n)
	}
	sl := c.slotOf(r.ReqID)
	if sl == nil || !sl.want.CompareAndSwap(r.ReqID, 0) {
		return // a late answer to an attempt we gave up on
	}
	var val []byte
	if len(r.Value) > 0 {
		val = append([]byte(nil), r.Value...)
	}
	sl.deliver(response{reqID: r.ReqID, status: r.Status, leader: r.Leader, value: val})
}

// MaxGroups is the most Paxos groups a cluster the client routes for may
// run (node.MaxGroups); a redirect naming more is followed as if the
// cluster ran one.
const MaxGroups = 64

// setLeaders points every group at address i.
func (c *Client) setLeaders(i int32) {
	for g := range c.leaders {
		c.leaders[g].Store(i)
	}
}

// leaderOf is where the believed leader of key's group is kept.
func (c *Client) leaderOf(key []byte) *atomic.Int32 {
	g := int(c.groups.Load())
	if g <= 1 {
		return &c.leaders[0]
	}
	return &c.leaders[route.GroupOf(key, g)]
}

// learn takes what a redirect's value says about the cluster's groups
// (kv.NotLeaderInfo) and returns where the leader of the redirected
// command's group is kept; lp itself if the value says nothing.
func (c *Client) learn(value []byte, lp *atomic.Int32) *atomic.Int32 {
	info, ok := kv.DecodeNotLeaderInfo(value)
	if !ok || int(info.Groups) > MaxGroups {
		return lp
	}
	c.groups.Store(int32(info.Groups))
	return &c.leaders[info.Group]
}

// Groups returns the number of Paxos groups the client knows the cluster
// runs (1 until a node's redirect said otherwise).
func (c *Client) Groups() int { return int(c.groups.Load()) }

// addrOf returns the address index of node id, if known.
func (c *Client) addrOf(id uint16) (int, bool) {
	if id == 0 {
		return 0, false
	}
	for i := range c.nodes {
		if c.nodes[i].Load() == uint32(id) {
			return i, true
		}
	}
	return 0, false
}
