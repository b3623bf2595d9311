package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/net/frame"
)

// PeersConfig holds the settings of the node mesh. The embedded ConnConfig
// applies to every peer connection (MaxFrameSize, SendQueue, buffers,
// timeouts, DialTimeout, Logger).
type PeersConfig struct {
	ConnConfig
	// ClusterID names the cluster; a node presenting another one is refused.
	// It must not be zero.
	ClusterID uint64
	// ID is this node's id, unique in the cluster. It must not be zero.
	ID uint64
	// Groups is how many Paxos groups this node runs; the handshake
	// refuses a peer that runs another number. 0 counts as 1, the
	// default.
	Groups uint32
	// Listen is the TCP address peers dial, such as "127.0.0.1:7001".
	// Ignored when Listener is set; otherwise required.
	Listen string
	// Listener, if set, is used instead of listening on Listen (tests pass a
	// listener on port 0). Peers closes it on Close.
	Listener net.Listener
	// Peers maps every other member's id to its address (self excluded).
	// Ids must not be zero or ID. The map is copied by NewPeers.
	Peers map[uint64]string
	// HandshakeTimeout bounds the handshake on a new connection, both ways.
	// The default is 5 s; it must be positive.
	HandshakeTimeout time.Duration
	// MaxPendingHandshakes bounds the accepted connections whose handshake
	// is still in progress: strangers, until they prove a member's id. One
	// more closes the oldest of them, so a flood of silent sockets holds at
	// most this many, each with a small read buffer (frame.
	// InitialBufferSize) and one goroutine, for at most HandshakeTimeout,
	// while a member's handshake (one round trip) still gets through. The
	// default is 64; it must be at least 1.
	MaxPendingHandshakes int
	// BackoffMin and BackoffMax bound the wait between dial attempts to a
	// peer: it starts at BackoffMin after a failure, doubles up to BackoffMax,
	// has up to 50% random jitter added, and resets after a successful
	// handshake. The defaults are 50 ms and 2 s; 0 < BackoffMin <= BackoffMax.
	BackoffMin, BackoffMax time.Duration
	// Seed seeds the dial jitter and the fault hook's random choices (drop
	// rate, delay jitter), so a test run with faults is repeatable. The
	// default is 1.
	Seed uint64
}

// DefaultPeersConfig returns the default mesh settings (ClusterID, ID, Listen
// and Peers still to set). Peer connections get a read buffer of up to 1 MiB
// (grown with the bytes received, so only after the handshake) and a
// 4096-frame send queue: they carry the batched hot path. Their frames may
// be as large as DefaultPeerMaxFrame: a snapshot travels in one frame, and
// a limit below the state machine's size would drop every snapshot sent
// to a lagging peer, which then never catches up.
func DefaultPeersConfig() PeersConfig {
	cc := DefaultConnConfig()
	cc.ReadBufferSize = 1 << 20
	cc.SendQueue = 4096
	cc.MaxFrameSize = DefaultPeerMaxFrame
	return PeersConfig{
		ConnConfig:           cc,
		HandshakeTimeout:     5 * time.Second,
		MaxPendingHandshakes: 64,
		BackoffMin:           50 * time.Millisecond,
		BackoffMax:           2 * time.Second,
		Seed:                 1,
	}
}

// DefaultPeerMaxFrame is DefaultPeersConfig's MaxFrameSize, 256 MiB, the
// node's -max-frame default. A peer is admitted only after its handshake,
// and a frame's buffer grows only with the bytes that arrive.
const DefaultPeerMaxFrame = 256 << 20

// Validate reports every problem with c at once.
func (c PeersConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.ClusterID == 0 {
		bad("ClusterID is zero")
	}
	if c.ID == 0 {
		bad("ID is zero")
	}
	if c.Listen == "" && c.Listener == nil {
		bad("neither Listen nor Listener set")
	}
	for id, addr := range c.Peers {
		if id == 0 || id == c.ID {
			bad("peer id %d is zero or this node's own id", id)
		}
		if addr == "" {
			bad("peer %d has no address", id)
		}
	}
	if c.HandshakeTimeout <= 0 {
		bad("HandshakeTimeout %v not positive", c.HandshakeTimeout)
	}
	if c.MaxPendingHandshakes < 1 {
		bad("MaxPendingHandshakes %d below 1", c.MaxPendingHandshakes)
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		bad("backoff [%v, %v] not 0 < min <= max", c.BackoffMin, c.BackoffMax)
	}
	errs = append(errs, c.ConnConfig.Validate())
	return errors.Join(errs...)
}

// PeerHandler is called for every frame from a peer, on that peer's
// connection reader goroutine: calls for one peer are sequential and in
// order, calls for different peers run concurrently. body is valid only
// during the call. Reserved (handshake) frame types never reach it.
type PeerHandler func(from uint64, typ byte, body []byte)

// Peers is the mesh between the nodes of one cluster: one long-lived TCP
// connection per pair of nodes.
//
// Who dials whom: the node with the smaller id dials, the larger id accepts.
// The rule is deterministic, so two nodes never race to build two
// connections and pick one. The dialler redials with backoff after any
// failure; the acceptor waits for the redial, and adopts a new connection
// from a peer (closing the old one) whenever a valid handshake arrives, since
// that peer has given up on the old one.
//
// Goroutines, all stopped by Close: one accept loop, one dial loop per peer
// with a larger id, one short-lived handshake goroutine per accepted
// connection, the two goroutines of every Conn, and the fault hook's delay
// goroutine.
type Peers struct {
	cfg PeersConfig
	h   PeerHandler
	log *slog.Logger
	ln  net.Listener
	// links maps each member to its link: a map never written once
	// stored (AddPeer and RemovePeer store a changed copy under members),
	// so the hot path reads it without a lock.
	links   atomic.Pointer[map[uint64]*link]
	members struct {
		sync.Mutex
		started bool // Start ran: a link added later starts dialling at once
	}
	faults *Faults

	inline atomic.Bool // SetInlineWrites; shared with every Conn

	ctx    context.Context // cancelled by Close; bounds dials
	cancel context.CancelFunc
	closed atomic.Bool
	start  sync.Once
	stop   sync.Once
	wg     sync.WaitGroup // every goroutine Peers started, Conns included

	mu struct {
		sync.Mutex
		// pending holds the accepted connections whose handshake is in
		// progress, each with its arrival number (the smallest is the
		// oldest, closed first when MaxPendingHandshakes is reached).
		pending  map[net.Conn]uint64
		arrivals uint64
	}
}

// link is the state of the connection to one peer.
type link struct {
	id    uint64
	addr  string
	dials bool                 // this node dials the peer (our id is the smaller)
	conn  atomic.Pointer[Conn] // written only with mu held; read freely
	// ctx ends when the peer is removed (RemovePeer) or Peers closes: it
	// stops the link's dial loop and refuses its new connections.
	ctx    context.Context
	cancel context.CancelFunc

	mu struct {
		sync.Mutex
		changed chan struct{} // closed and replaced whenever conn changes
		ups     uint64        // connections established so far
	}
}

// notifyLocked wakes every WaitConnected.
func (l *link) notifyLocked() {
	close(l.mu.changed)
	l.mu.changed = make(chan struct{})
}

// NewPeers validates cfg, listens, and returns the mesh, not yet connecting:
// call Start. h receives every frame from every peer (see PeerHandler).
func NewPeers(cfg PeersConfig, h PeerHandler) (*Peers, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("transport: peers listen: %w", err)
		}
	}
	p := &Peers{
		cfg: cfg,
		h:   h,
		log: cfg.logger().With("node", cfg.ID),
		ln:  ln,
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.mu.pending = make(map[net.Conn]uint64)
	links := make(map[uint64]*link, len(cfg.Peers))
	for id, addr := range cfg.Peers {
		links[id] = p.newLink(id, addr)
	}
	p.links.Store(&links)
	p.faults = newFaults(cfg.ID, cfg.Seed, cfg.BodyPool, p.sendDirect)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.faults.run(p.ctx.Done())
	}()
	return p, nil
}

func (p *Peers) newLink(id uint64, addr string) *link {
	l := &link{id: id, addr: addr, dials: p.cfg.ID < id}
	l.mu.changed = make(chan struct{})
	l.ctx, l.cancel = context.WithCancel(p.ctx)
	return l
}

// link returns the link to peer id, nil if id is no member.
func (p *Peers) link(id uint64) *link { return (*p.links.Load())[id] }

// ErrPeer is wrapped by AddPeer's and RemovePeer's refusals.
var ErrPeer = errors.New("transport: peer")

// AddPeer makes id, at addr, a member of the mesh (a configuration change
// that brought a new node in): this node dials it, or accepts it, like the
// peers it started with. Adding a member again at the same address does
// nothing; at another address, or this node's own id, is refused.
func (p *Peers) AddPeer(id uint64, addr string) error {
	if id == 0 || id == p.cfg.ID || addr == "" {
		return fmt.Errorf("%w: cannot add node %d at %q (this is node %d)", ErrPeer, id, addr, p.cfg.ID)
	}
	p.members.Lock()
	defer p.members.Unlock()
	if p.closed.Load() {
		return fmt.Errorf("%w: closed", ErrPeer)
	}
	old := *p.links.Load()
	if l := old[id]; l != nil {
		if l.addr == addr {
			return nil
		}
		return fmt.Errorf("%w: node %d is a member at %s, not %s (remove it first)", ErrPeer, id, l.addr, addr)
	}
	l := p.newLink(id, addr)
	next := make(map[uint64]*link, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[id] = l
	p.links.Store(&next)
	if p.members.started && l.dials {
		p.wg.Add(1)
		go p.dialLoop(l, p.cfg.Seed+id)
	}
	p.log.Info("transport: peer added", "peer", id, "addr", addr)
	return nil
}

// RemovePeer ends id's membership: its connection is closed, its dial loop
// stops, and its handshakes are refused from now on (frames to it are
// dropped, as to any non-member). Removing a non-member is refused.
func (p *Peers) RemovePeer(id uint64) error {
	p.members.Lock()
	defer p.members.Unlock()
	old := *p.links.Load()
	l := old[id]
	if l == nil {
		return fmt.Errorf("%w: node %d is not a member", ErrPeer, id)
	}
	next := make(map[uint64]*link, len(old))
	for k, v := range old {
		if k != id {
			next[k] = v
		}
	}
	p.links.Store(&next)
	l.cancel()
	l.mu.Lock()
	c := l.conn.Load()
	l.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	p.log.Info("transport: peer removed", "peer", id)
	return nil
}

// Addr returns the address Peers listens on.
func (p *Peers) Addr() net.Addr { return p.ln.Addr() }

// Faults returns the run-time fault hook.
func (p *Peers) Faults() *Faults { return p.faults }

// Start starts accepting and dialling. It is idempotent.
func (p *Peers) Start() {
	p.start.Do(func() {
		p.wg.Add(1)
		go p.acceptLoop()
		p.members.Lock()
		defer p.members.Unlock()
		p.members.started = true
		links := *p.links.Load()
		ids := make([]uint64, 0, len(links))
		for id := range links {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for i, id := range ids {
			if l := links[id]; l.dials {
				p.wg.Add(1)
				go p.dialLoop(l, p.cfg.Seed+uint64(i))
			}
		}
	})
}

// Close closes every connection, stops every goroutine Peers started and
// waits for them. Frames queued or delayed are discarded. Idempotent; must
// not be called from the handler.
func (p *Peers) Close() error {
	var err error
	p.stop.Do(func() {
		p.closed.Store(true)
		p.cancel()
		err = p.ln.Close()
		p.mu.Lock()
		for nc := range p.mu.pending {
			_ = nc.Close()
		}
		p.mu.Unlock()
		p.members.Lock()
		links := *p.links.Load()
		p.members.Unlock()
		for _, l := range links {
			l.mu.Lock()
			c := l.conn.Load()
			l.mu.Unlock()
			if c != nil {
				_ = c.Close()
			}
		}
		p.wg.Wait()
	})
	return err
}

// Send queues a frame for peer to and returns at once; it never blocks. It
// takes ownership of body like Conn.Send (it goes back to bytebufferpool when
// written or dropped). It returns false when the frame was dropped because
// there is no connection to the peer right now, its queue is full, or to is
// not a peer (this node included: messages to self never touch the network,
// the caller delivers them). A frame dropped by the fault hook returns true, as a frame lost
// on the wire would. It panics if typ is reserved (>= FirstReservedType).
func (p *Peers) Send(to uint64, typ byte, body *bytebufferpool.ByteBuffer) bool {
	if typ >= FirstReservedType {
		panic(fmt.Sprintf("transport: Peers.Send with reserved frame type %#x", typ))
	}
	if p.faults.active.Load() {
		return p.faults.send(to, typ, body)
	}
	return p.sendDirect(to, typ, body)
}

func (p *Peers) sendDirect(to uint64, typ byte, body *bytebufferpool.ByteBuffer) bool {
	l := p.link(to)
	if l == nil {
		release(p.cfg.BodyPool, body)
		return false
	}
	c := l.conn.Load()
	if c == nil {
		release(p.cfg.BodyPool, body)
		return false
	}
	return c.Send(typ, body)
}

// Connected reports whether a connection to peer id is up.
func (p *Peers) Connected(id uint64) bool {
	l := p.link(id)
	return l != nil && l.conn.Load() != nil
}

// Stats returns the counters of the current connection to peer id, and how
// many connections to it have been established so far (1 + reconnections).
func (p *Peers) Stats(id uint64) (st ConnStats, connects uint64) {
	l := p.link(id)
	if l == nil {
		return ConnStats{}, 0
	}
	l.mu.Lock()
	connects = l.mu.ups
	l.mu.Unlock()
	if c := l.conn.Load(); c != nil {
		st = c.Stats()
	}
	return st, connects
}

// WaitConnected waits until a connection to peer id is up, and for at least
// minConnects connections to it to have been established in total (pass 1 to
// wait for the first; more to wait for a reconnection). It returns ctx's
// error if ctx ends first.
func (p *Peers) WaitConnected(ctx context.Context, id uint64, minConnects uint64) error {
	l := p.link(id)
	if l == nil {
		return fmt.Errorf("transport: %d is not a peer", id)
	}
	for {
		l.mu.Lock()
		ok := l.conn.Load() != nil && l.mu.ups >= minConnects
		ch := l.mu.changed
		l.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// install makes c the connection to l's peer, replacing (and closing) any
// previous one, and starts it.
func (p *Peers) install(l *link, c *Conn) {
	c.onExit = func(c *Conn) {
		l.mu.Lock()
		if l.conn.Load() == c {
			l.conn.Store(nil)
			l.notifyLocked()
		}
		l.mu.Unlock()
		if err := c.Err(); !isClosedErr(err) || !p.closed.Load() {
			p.log.Info("transport: peer connection lost", "peer", l.id, "remote", c.RemoteAddr(), "err", err)
		}
		p.wg.Done()
	}
	p.wg.Add(1)
	l.mu.Lock()
	if p.closed.Load() || l.ctx.Err() != nil { // closed, or the peer was removed
		l.mu.Unlock()
		_ = c.tcp.Close()
		p.wg.Done()
		return
	}
	old := l.conn.Swap(c)
	l.mu.ups++
	l.notifyLocked()
	l.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	p.log.Info("transport: peer connected", "peer", l.id, "remote", c.RemoteAddr(), "dialled", l.dials)
	c.start()
}

// peerHandler wraps the user's handler for one peer: reserved types after the
// handshake are a protocol violation, and the fault hook may drop the frame.
func (p *Peers) peerHandler(from uint64) Handler {
	return func(c *Conn, typ byte, body []byte) {
		if typ == TypeKeepalive {
			return
		}
		if typ >= FirstReservedType {
			p.log.Warn("transport: reserved frame type after handshake; closing", "peer", from, "type", typ)
			c.closeWith(fmt.Errorf("%w: reserved frame type %#x after handshake", ErrHandshake, typ))
			return
		}
		if p.faults.active.Load() && p.faults.dropIncoming(from) {
			return
		}
		p.h(from, typ, body)
	}
}

func (p *Peers) newConn(nc net.Conn, rd *frame.Reader, from uint64) *Conn {
	c := newConn(nc, rd, p.cfg.ConnConfig, p.peerHandler(from))
	c.keepalive = p.cfg.IdleTimeout / 3
	c.inline = &p.inline
	return c
}

// SetInlineWrites sets whether Send may write a frame itself, on the
// caller's goroutine, when the connection's writer is idle and nothing is
// queued: one non-blocking writev, saving the writer goroutine's wake-up
// (whatever the socket does not take at once is left to the writer, so
// Send still never blocks on a peer). Off by default. Turn it on while
// frames are few and far between, as on a follower or a leader with
// nothing in flight; under load leave it off, so that the writer's yield
// gathers many frames into one writev.
func (p *Peers) SetInlineWrites(on bool) { p.inline.Store(on) }

func (p *Peers) dialLoop(l *link, seed uint64) {
	defer p.wg.Done()
	rng := rand.New(rand.NewPCG(seed, l.id))
	backoff := p.cfg.BackoffMin
	for !p.closed.Load() && l.ctx.Err() == nil {
		c, err := p.dial(l)
		if err == nil {
			backoff = p.cfg.BackoffMin
			p.install(l, c)
			select {
			case <-c.Done():
			case <-l.ctx.Done():
				return
			}
		} else if !p.closed.Load() && l.ctx.Err() == nil {
			if errors.Is(err, ErrHandshake) {
				p.log.Warn("transport: handshake with peer failed", "peer", l.id, "addr", l.addr, "err", err)
			} else {
				p.log.Debug("transport: dial failed", "peer", l.id, "addr", l.addr, "err", err)
			}
		}
		wait := backoff + time.Duration(rng.Int64N(int64(backoff)/2+1))
		backoff = min(2*backoff, p.cfg.BackoffMax)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-l.ctx.Done():
			t.Stop()
			return
		}
	}
}

// dial connects to l's peer and runs the dialler's half of the handshake:
// with TLS, first the TLS handshake and the check that the certificate is
// l's, then the hello exchange over it.
func (p *Peers) dial(l *link) (*Conn, error) {
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	nc, err := d.DialContext(l.ctx, "tcp", l.addr)
	if err != nil {
		return nil, err
	}
	setSockOpts(nc, p.cfg.ConnConfig)
	_ = nc.SetDeadline(time.Now().Add(p.cfg.HandshakeTimeout))
	var rw net.Conn = nc
	if p.cfg.TLS != nil {
		tc := tls.Client(nc, p.cfg.TLS)
		if err := p.tlsHandshake(tc, l.id); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("%w: peer %d at %s: %w", ErrHandshake, l.id, l.addr, err)
		}
		rw = tc
	}
	msg := hello{cluster: p.cfg.ClusterID, from: p.cfg.ID, to: l.id, groups: p.groups()}
	out := frame.AppendHeader(make([]byte, 0, frame.HeaderSize+handshakeSize), TypeHello, handshakeSize)
	if _, err := rw.Write(msg.append(out)); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("%w: send hello: %w", ErrHandshake, err)
	}
	rd := frame.NewReader(rw, p.cfg.ReadBufferSize, maxRefuseReason)
	typ, body, err := rd.Next()
	rd.SetMaxFrame(p.cfg.MaxFrameSize)
	if err == nil {
		err = p.checkWelcome(l, typ, body)
	} else {
		err = p.handshakeErr("welcome", err)
	}
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return p.newConn(rw, rd, l.id), nil
}

// tlsHandshake runs tc's TLS handshake (its chain is verified by the
// configuration, see Certs.PeerTLS) and, when want is not zero, checks the
// certificate names node want of this cluster. It runs within the
// connection's handshake deadline.
func (p *Peers) tlsHandshake(tc *tls.Conn, want uint64) error {
	if err := tc.HandshakeContext(p.ctx); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if want == 0 {
		return nil
	}
	return p.checkPeerCert(tc, want)
}

// checkPeerCert checks the certificate tc's other end presented names node
// want of this cluster.
func (p *Peers) checkPeerCert(tc *tls.Conn, want uint64) error {
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return fmt.Errorf("%w: no certificate", ErrIdentity)
	}
	id, err := CertIdentity(certs[0])
	if err != nil {
		return err
	}
	return checkIdentity(id, p.cfg.ClusterID, want)
}

func (p *Peers) checkWelcome(l *link, typ byte, body []byte) error {
	switch typ {
	case TypeWelcome:
	case TypeRefuse:
		return fmt.Errorf("%w: refused by peer: %q", ErrHandshake, body[:min(len(body), maxRefuseReason)])
	default:
		return fmt.Errorf("%w: first frame has type %#x, want welcome", ErrHandshake, typ)
	}
	w, err := parseHello(body)
	if err != nil {
		return err
	}
	switch {
	case w.cluster != p.cfg.ClusterID:
		return fmt.Errorf("%w: peer at %s is in cluster %d, want %d", ErrHandshake, l.addr, w.cluster, p.cfg.ClusterID)
	case w.from != l.id || w.to != p.cfg.ID:
		return fmt.Errorf("%w: peer at %s is node %d (addressing %d), want node %d", ErrHandshake, l.addr, w.from, w.to, l.id)
	case max(w.groups, 1) != p.groups():
		return fmt.Errorf("%w: node %d runs %d groups, this node runs %d: every member must run the same number", ErrHandshake, w.from, max(w.groups, 1), p.groups())
	}
	return nil
}

// groups is the group count this node announces in its handshake.
func (p *Peers) groups() uint32 { return max(p.cfg.Groups, 1) }

func (p *Peers) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			if !p.closed.Load() && !errors.Is(err, net.ErrClosed) {
				p.log.Error("transport: peer accept failed; no longer accepting", "err", err)
			}
			return
		}
		p.mu.Lock()
		if p.closed.Load() {
			p.mu.Unlock()
			_ = nc.Close()
			return
		}
		oldest := p.oldestPendingLocked()
		if len(p.mu.pending) < p.cfg.MaxPendingHandshakes {
			oldest = nil
		} else {
			delete(p.mu.pending, oldest)
		}
		p.mu.arrivals++
		p.mu.pending[nc] = p.mu.arrivals
		p.wg.Add(1)
		p.mu.Unlock()
		if oldest != nil {
			// Its handshake goroutine sees the close and exits.
			_ = oldest.Close()
			p.log.Warn("transport: too many pending peer handshakes; closing the oldest", "remote", oldest.RemoteAddr(), "max", p.cfg.MaxPendingHandshakes)
		}
		go p.accept(nc)
	}
}

// oldestPendingLocked returns the pending connection that arrived first, or
// nil. O(MaxPendingHandshakes), paid per accepted connection.
func (p *Peers) oldestPendingLocked() net.Conn {
	var oldest net.Conn
	var first uint64
	for nc, n := range p.mu.pending {
		if oldest == nil || n < first {
			oldest, first = nc, n
		}
	}
	return oldest
}

// handshakeErr wraps the error of a handshake frame's read. A timeout is
// the handshake's own deadline (set on the connection, not by the frame
// reader), so the message names it and its length.
func (p *Peers) handshakeErr(want string, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: no %s within the handshake timeout of %v: %w", ErrHandshake, want, p.cfg.HandshakeTimeout, err)
	}
	return fmt.Errorf("%w: read %s: %w", ErrHandshake, want, err)
}

// accept runs the acceptor's half of the handshake on nc: with TLS, the
// TLS handshake first, then the hello, whose sender must be the node the
// certificate names.
func (p *Peers) accept(nc net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.mu.pending, nc)
		p.mu.Unlock()
	}()
	setSockOpts(nc, p.cfg.ConnConfig)
	_ = nc.SetDeadline(time.Now().Add(p.cfg.HandshakeTimeout))
	// evicted says nc was closed by Close or to make room for a newer
	// stranger (logged there), which explains any error.
	evicted := func() bool {
		p.mu.Lock()
		_, mine := p.mu.pending[nc]
		p.mu.Unlock()
		return !mine || p.closed.Load()
	}
	var rw net.Conn = nc
	var tc *tls.Conn
	if p.cfg.TLS != nil {
		tc = tls.Server(nc, p.cfg.TLS)
		if err := p.tlsHandshake(tc, 0); err != nil {
			if !evicted() {
				// A stranger that cannot prove a member's certificate
				// gets no reason: it may not even speak TLS.
				if errors.Is(err, os.ErrDeadlineExceeded) {
					err = p.handshakeErr("TLS handshake", err)
				} else {
					err = fmt.Errorf("%w: %w", ErrHandshake, err)
				}
				p.log.Warn("transport: refusing peer connection", "remote", nc.RemoteAddr(), "err", err)
			}
			_ = nc.Close()
			return
		}
		rw = tc
	}
	// The hello is tiny; a handshake-only limit keeps a stranger from making
	// us read megabytes before we know who it is.
	rd := frame.NewReader(rw, p.cfg.ReadBufferSize, handshakeSize)
	typ, body, err := rd.Next()
	rd.SetMaxFrame(p.cfg.MaxFrameSize)
	var l *link
	if err == nil {
		l, err = p.checkHello(typ, body)
		if err == nil && tc != nil {
			if cerr := p.checkPeerCert(tc, l.id); cerr != nil {
				err = fmt.Errorf("%w: node %d: %w", ErrHandshake, l.id, cerr)
			}
		}
	} else {
		if evicted() {
			_ = nc.Close()
			return
		}
		err = p.handshakeErr("hello", err)
	}
	if err != nil {
		p.log.Warn("transport: refusing peer connection", "remote", nc.RemoteAddr(), "err", err)
		reason := err.Error()
		reason = reason[:min(len(reason), maxRefuseReason)]
		_, _ = rw.Write(append(frame.AppendHeader(nil, TypeRefuse, len(reason)), reason...))
		_ = nc.Close()
		return
	}
	msg := hello{cluster: p.cfg.ClusterID, from: p.cfg.ID, to: l.id, groups: p.groups()}
	out := frame.AppendHeader(make([]byte, 0, frame.HeaderSize+handshakeSize), TypeWelcome, handshakeSize)
	if _, err := rw.Write(msg.append(out)); err != nil {
		p.log.Info("transport: peer left during handshake", "peer", l.id, "err", err)
		_ = nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	p.install(l, p.newConn(rw, rd, l.id))
}

func (p *Peers) checkHello(typ byte, body []byte) (*link, error) {
	if typ != TypeHello {
		return nil, fmt.Errorf("%w: first frame has type %#x, want hello", ErrHandshake, typ)
	}
	h, err := parseHello(body)
	if err != nil {
		return nil, err
	}
	l := p.link(h.from)
	switch {
	case h.cluster != p.cfg.ClusterID:
		return nil, fmt.Errorf("%w: node %d is in cluster %d, this is cluster %d", ErrHandshake, h.from, h.cluster, p.cfg.ClusterID)
	case h.to != p.cfg.ID:
		return nil, fmt.Errorf("%w: node %d addressed node %d, this is node %d", ErrHandshake, h.from, h.to, p.cfg.ID)
	case l == nil:
		return nil, fmt.Errorf("%w: node %d is not a member (this is node %d)", ErrHandshake, h.from, p.cfg.ID)
	case l.dials:
		return nil, fmt.Errorf("%w: node %d dialled node %d, but the smaller id dials", ErrHandshake, h.from, p.cfg.ID)
	case max(h.groups, 1) != p.groups():
		return nil, fmt.Errorf("%w: node %d runs %d groups, this node runs %d: every member must run the same number", ErrHandshake, h.from, max(h.groups, 1), p.groups())
	}
	return l, nil
}
