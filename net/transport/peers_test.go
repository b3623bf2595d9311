package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/net/frame"
)

// inbox collects frames received by one node, per sender.
type inbox struct {
	// override, if set, replaces the recording (set before traffic starts).
	override atomic.Pointer[PeerHandler]

	mu   sync.Mutex
	got  map[uint64][]string
	more chan struct{}
}

func newInbox() *inbox { return &inbox{got: make(map[uint64][]string), more: make(chan struct{})} }

func (in *inbox) handle(from uint64, typ byte, body []byte) {
	if h := in.override.Load(); h != nil {
		(*h)(from, typ, body)
		return
	}
	in.mu.Lock()
	in.got[from] = append(in.got[from], fmt.Sprintf("%d:%s", typ, body))
	close(in.more)
	in.more = make(chan struct{})
	in.mu.Unlock()
}

// waitFor waits until the frame "typ:body" has arrived from `from`, and
// returns everything received from `from` so far.
func (in *inbox) waitFor(t *testing.T, from uint64, want string) []string {
	t.Helper()
	ctx := testCtx(t)
	for {
		in.mu.Lock()
		got := append([]string(nil), in.got[from]...)
		ch := in.more
		in.mu.Unlock()
		for _, g := range got {
			if g == want {
				return got
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("never received %q from %d; got %q", want, from, got)
		}
	}
}

func (in *inbox) reset() {
	in.mu.Lock()
	clear(in.got)
	in.mu.Unlock()
}

type testNode struct {
	p   *Peers
	in  *inbox
	log *logRecorder
}

// newCluster starts n nodes of cluster 7 on loopback, ids 1..n.
func newCluster(t *testing.T, n int, tweak func(*PeersConfig)) []*testNode {
	t.Helper()
	lns := make([]net.Listener, n)
	addrs := make(map[uint64]string)
	for i := range lns {
		lns[i] = listenLoopback(t)
		addrs[uint64(i+1)] = lns[i].Addr().String()
	}
	nodes := make([]*testNode, n)
	for i := range nodes {
		id := uint64(i + 1)
		cfg := DefaultPeersConfig()
		cfg.ClusterID, cfg.ID, cfg.Listener = 7, id, lns[i]
		cfg.BackoffMin, cfg.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
		cfg.Seed = 42
		cfg.Peers = make(map[uint64]string)
		for pid, a := range addrs {
			if pid != id {
				cfg.Peers[pid] = a
			}
		}
		tn := &testNode{in: newInbox(), log: newLogRecorder()}
		cfg.Logger = tn.log.logger()
		if tweak != nil {
			tweak(&cfg)
		}
		p, err := NewPeers(cfg, tn.in.handle)
		if err != nil {
			t.Fatal(err)
		}
		tn.p = p
		t.Cleanup(func() { p.Close() })
		nodes[i] = tn
	}
	for _, tn := range nodes {
		tn.p.Start()
	}
	for _, tn := range nodes {
		for id := range *tn.p.links.Load() {
			if err := tn.p.WaitConnected(testCtx(t), id, 1); err != nil {
				t.Fatalf("node %d never connected to %d: %v", tn.p.cfg.ID, id, err)
			}
		}
	}
	return nodes
}

func send(t *testing.T, from *testNode, to uint64, typ byte, body string) {
	t.Helper()
	if !from.p.Send(to, typ, pooled([]byte(body))) {
		t.Fatalf("node %d: Send to %d dropped", from.p.cfg.ID, to)
	}
}

func TestPeersMesh(t *testing.T) {
	nodes := newCluster(t, 3, nil)
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				send(t, a, b.p.cfg.ID, 1, fmt.Sprintf("%d->%d", a.p.cfg.ID, b.p.cfg.ID))
			}
		}
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				b.in.waitFor(t, a.p.cfg.ID, fmt.Sprintf("1:%d->%d", a.p.cfg.ID, b.p.cfg.ID))
			}
		}
	}
	if nodes[0].p.Send(99, 1, pooled([]byte("x"))) {
		t.Fatal("Send to a non-peer returned true")
	}
}

// TestPeersConcurrentOrder: several goroutines stream to one peer at once;
// each goroutine's frames arrive intact and in its order.
func TestPeersConcurrentOrder(t *testing.T) {
	nodes := newCluster(t, 2, func(c *PeersConfig) { c.MaxFrameSize = 64 << 10 })
	var sizes []int
	for n := 0; n <= 64<<10; n += 331 {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 64<<10)
	const senders = 4
	k := &sizeChecker{next: make(map[byte]int), done: make(chan struct{}), left: senders * len(sizes)}
	perSender := make(map[byte][]int)
	for s := range byte(senders) {
		perSender[s] = sizes
	}
	h := PeerHandler(func(_ uint64, typ byte, body []byte) { k.check(perSender, typ, body) })
	nodes[1].in.override.Store(&h)
	var wg sync.WaitGroup
	for s := range byte(senders) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendAll(t, func(typ byte, b []byte) bool { return nodes[0].p.Send(2, typ, pooled(b)) }, s, sizes)
		}()
	}
	wg.Wait()
	select {
	case <-k.done:
	case <-time.After(testTimeout):
		t.Fatalf("%d frames missing", k.left)
	}
	if len(k.errs) > 0 {
		t.Fatalf("%d bad frames, first: %s", len(k.errs), k.errs[0])
	}
}

// TestPeersRedialAfterDeathMidFrame: node 1 dials a fake node 2 that
// completes the handshake, sends half a frame and dies. Node 1 must see the
// connection fail and dial again.
func TestPeersRedialAfterDeathMidFrame(t *testing.T) {
	ln := listenLoopback(t)
	defer ln.Close()
	rec := newLogRecorder()
	cfg := DefaultPeersConfig()
	cfg.ClusterID, cfg.ID, cfg.Listener = 7, 1, listenLoopback(t)
	cfg.Peers = map[uint64]string{2: ln.Addr().String()}
	cfg.BackoffMin, cfg.BackoffMax = 5*time.Millisecond, 20*time.Millisecond
	cfg.Logger = rec.logger()
	in := newInbox()
	p, err := NewPeers(cfg, in.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Start()

	fakeAccept := func() net.Conn {
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		rd := frame.NewReader(nc, 512, 512)
		typ, body, err := rd.Next()
		if err != nil || typ != TypeHello {
			t.Fatalf("first frame: type %#x err %v", typ, err)
		}
		h, err := parseHello(body)
		if err != nil || h != (hello{cluster: 7, from: 1, to: 2, groups: 1}) {
			t.Fatalf("hello = %+v, %v", h, err)
		}
		w := hello{cluster: 7, from: 2, to: 1}
		nc.Write(w.append(frame.AppendHeader(nil, TypeWelcome, handshakeSize)))
		return nc
	}
	nc := fakeAccept()
	if err := p.WaitConnected(testCtx(t), 2, 1); err != nil {
		t.Fatal(err)
	}
	nc.Write([]byte("\x00\x00\x00\x10\x01whole")) // a 16-byte body, cut short
	nc.Write(append(frame.AppendHeader(nil, 3, 4), "full"...))
	nc.Close()
	// The mid-frame death is detected...
	rec.wait(t, "peer connection lost", "peer=2", "stream ends inside a frame")
	// ...and node 1 dials again and completes a second handshake.
	nc2 := fakeAccept()
	defer nc2.Close()
	if err := p.WaitConnected(testCtx(t), 2, 2); err != nil {
		t.Fatal(err)
	}
	nc2.Write(append(frame.AppendHeader(nil, 3, 5), "again"...))
	in.waitFor(t, 2, "3:again")
}

// TestPeersRestart: a real node closes and comes back on the same address;
// the mesh reconnects and carries frames again.
func TestPeersRestart(t *testing.T) {
	nodes := newCluster(t, 2, nil)
	addr := nodes[1].p.Addr().String()
	nodes[1].p.Close()
	nodes[0].log.wait(t, "peer connection lost", "peer=2")
	cfg := nodes[1].p.cfg
	var err error
	if cfg.Listener, err = net.Listen("tcp", addr); err != nil {
		t.Fatal(err)
	}
	in := newInbox()
	p2, err := NewPeers(cfg, in.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	p2.Start()
	if err := nodes[0].p.WaitConnected(testCtx(t), 2, 2); err != nil {
		t.Fatal(err)
	}
	if err := p2.WaitConnected(testCtx(t), 1, 1); err != nil {
		t.Fatal(err)
	}
	send(t, nodes[0], 2, 1, "back")
	in.waitFor(t, 1, "1:back")
}

// TestPeersHandshakeRefused: a hello from another cluster, to another id,
// from a non-member or from the wrong side of the dial rule is refused with a
// logged reason, sent back to the dialler; the node keeps serving its peers.
func TestPeersHandshakeRefused(t *testing.T) {
	nodes := newCluster(t, 3, nil)
	target := nodes[1] // node 2: node 1 dials it, it dials node 3
	for _, tc := range []struct {
		name   string
		typ    byte
		h      hello
		reason string
	}{
		{"wrong cluster", TypeHello, hello{cluster: 8, from: 1, to: 2}, "node 1 is in cluster 8, this is cluster 7"},
		{"wrong target id", TypeHello, hello{cluster: 7, from: 1, to: 3}, "node 1 addressed node 3, this is node 2"},
		{"not a member", TypeHello, hello{cluster: 7, from: 9, to: 2}, "node 9 is not a member"},
		{"wrong dial direction", TypeHello, hello{cluster: 7, from: 3, to: 2}, "the smaller id dials"},
		{"not a hello", 1, hello{cluster: 7, from: 1, to: 2}, "want hello"},
		{"other group count", TypeHello, hello{cluster: 7, from: 1, to: 2, groups: 3}, "node 1 runs 3 groups, this node runs 1: every member must run the same number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", target.p.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.Write(tc.h.append(frame.AppendHeader(nil, tc.typ, handshakeSize)))
			rd := frame.NewReader(nc, 1024, 1024)
			typ, body, err := rd.Next()
			if err != nil || typ != TypeRefuse || !strings.Contains(string(body), tc.reason) {
				t.Fatalf("answer: type %#x body %q err %v; want refusal %q", typ, body, err, tc.reason)
			}
			awaitClosed(t, nc)
			target.log.wait(t, "refusing peer connection", tc.reason)
		})
	}
	// The existing connections were not disturbed.
	send(t, nodes[0], 2, 1, "still here")
	target.in.waitFor(t, 1, "1:still here")
	if _, ups := target.p.Stats(1); ups != 1 {
		t.Fatalf("node 2 reconnected to node 1: %d connections", ups)
	}
}

// TestPeersWrongClusterDialer: a real node configured with another cluster id
// is refused, and logs why.
func TestPeersWrongClusterDialer(t *testing.T) {
	nodes := newCluster(t, 2, nil)
	rec := newLogRecorder()
	cfg := DefaultPeersConfig()
	cfg.ClusterID, cfg.ID, cfg.Listener = 8, 1, listenLoopback(t)
	cfg.Peers = map[uint64]string{2: nodes[1].p.Addr().String()}
	cfg.Logger = rec.logger()
	p, err := NewPeers(cfg, newInbox().handle)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Start()
	rec.wait(t, "handshake with peer failed", "refused by peer", "cluster 8, this is cluster 7")
	nodes[1].log.wait(t, "refusing peer connection", "cluster 8")
	if p.Connected(2) {
		t.Fatal("a node of another cluster got connected")
	}
	// A dialler that reaches a node of another id (stale address) refuses it.
	cfg2 := DefaultPeersConfig()
	cfg2.ClusterID, cfg2.ID, cfg2.Listener = 7, 1, listenLoopback(t)
	cfg2.Peers = map[uint64]string{3: nodes[1].p.Addr().String()} // node 2 is there
	rec2 := newLogRecorder()
	cfg2.Logger = rec2.logger()
	p2, err := NewPeers(cfg2, newInbox().handle)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	p2.Start()
	rec2.wait(t, "handshake with peer failed", "node 1 addressed node 3, this is node 2")
}

func TestPeersReservedTypePanics(t *testing.T) {
	nodes := newCluster(t, 2, nil)
	defer func() {
		if recover() == nil {
			t.Fatal("Send with a reserved type did not panic")
		}
	}()
	nodes[0].p.Send(2, TypeHello, nil)
}

func TestPeersCloseStopsEverything(t *testing.T) {
	nodes := newCluster(t, 3, nil)
	for _, n := range nodes {
		n.p.Close()
		n.p.Close() // idempotent
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := nodes[0].p.WaitConnected(ctx, 2, 1); err == nil {
		t.Fatal("connected after Close")
	}
	if nodes[0].p.Send(2, 1, pooled([]byte("x"))) {
		t.Fatal("Send after Close returned true")
	}
}

// TestPeersHandshakeTimeout: a connection that never says hello is closed
// after HandshakeTimeout and logged; the mesh is unaffected.
func TestPeersHandshakeTimeout(t *testing.T) {
	nodes := newCluster(t, 2, func(c *PeersConfig) { c.HandshakeTimeout = 100 * time.Millisecond })
	nc, err := net.Dial("tcp", nodes[1].p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	awaitClosed(t, nc)
	nodes[1].log.wait(t, "refusing peer connection", "i/o timeout")
	send(t, nodes[0], 2, 1, "fine")
	nodes[1].in.waitFor(t, 1, "1:fine")
}

// TestPeersQuietConnectionStaysUp: two peers with nothing to say to each
// other (two followers) keep their connection through many IdleTimeouts,
// because each writer sends a keepalive after IdleTimeout/3 of silence; the
// keepalives never reach the handler. Traffic afterwards still flows.
func TestPeersQuietConnectionStaysUp(t *testing.T) {
	const idle = 500 * time.Millisecond // keepalives go out well inside it even on a loaded machine
	nodes := newCluster(t, 2, func(c *PeersConfig) { c.IdleTimeout = idle })
	time.Sleep(6 * idle)
	for _, tn := range nodes {
		other := 3 - tn.p.cfg.ID
		st, connects := tn.p.Stats(other)
		if connects != 1 {
			t.Fatalf("node %d reconnected to %d over a quiet stretch: %d connections", tn.p.cfg.ID, other, connects)
		}
		if st.FramesReceived == 0 || st.FramesSent == 0 {
			t.Fatalf("node %d: no keepalives went either way: %+v", tn.p.cfg.ID, st)
		}
		tn.in.mu.Lock()
		got := len(tn.in.got)
		tn.in.mu.Unlock()
		if got != 0 {
			t.Fatalf("node %d: keepalives reached the handler (%d frames)", tn.p.cfg.ID, got)
		}
	}
	send(t, nodes[0], 2, 1, "after")
	nodes[1].in.waitFor(t, 1, "1:after")
}

// TestPeersDefaultFrameFitsASnapshot: with the default settings a frame of
// several MiB (a snapshot of a modest state machine) reaches the peer; at
// the connection default of 4 MiB it was dropped on every send, so a
// lagging member never caught up.
func TestPeersDefaultFrameFitsASnapshot(t *testing.T) {
	if DefaultPeersConfig().MaxFrameSize != DefaultPeerMaxFrame {
		t.Fatalf("DefaultPeersConfig's MaxFrameSize is %d, want %d", DefaultPeersConfig().MaxFrameSize, DefaultPeerMaxFrame)
	}
	nodes := newCluster(t, 2, nil)
	big := strings.Repeat("s", 6<<20)
	send(t, nodes[0], 2, 1, big)
	nodes[1].in.waitFor(t, 1, "1:"+big)
}

// TestPeersAddRemove: a member added at run time is dialled (or accepted)
// and carries frames both ways; a removed one is disconnected, refused when
// it comes back, and gets no frames; bad changes are refused.
func TestPeersAddRemove(t *testing.T) {
	nodes := newCluster(t, 2, nil)
	// A third node that knows both; they learn of it only by AddPeer.
	ln := listenLoopback(t)
	cfg := DefaultPeersConfig()
	cfg.ClusterID, cfg.ID, cfg.Listener = 7, 3, ln
	cfg.BackoffMin, cfg.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
	cfg.Peers = map[uint64]string{1: nodes[0].p.Addr().String(), 2: nodes[1].p.Addr().String()}
	third := &testNode{in: newInbox(), log: newLogRecorder()}
	cfg.Logger = third.log.logger()
	p3, err := NewPeers(cfg, third.in.handle)
	if err != nil {
		t.Fatal(err)
	}
	third.p = p3
	t.Cleanup(func() { p3.Close() })
	p3.Start()
	for _, n := range nodes {
		if err := n.p.AddPeer(3, ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		if err := n.p.AddPeer(3, ln.Addr().String()); err != nil {
			t.Fatalf("adding a member again at its address: %v", err)
		}
	}
	for _, n := range nodes {
		if err := n.p.WaitConnected(testCtx(t), 3, 1); err != nil {
			t.Fatalf("node %d never connected to the added node: %v", n.p.cfg.ID, err)
		}
		send(t, n, 3, 1, fmt.Sprintf("hi from %d", n.p.cfg.ID))
		send(t, third, n.p.cfg.ID, 1, "hi from 3")
		third.in.waitFor(t, n.p.cfg.ID, fmt.Sprintf("1:hi from %d", n.p.cfg.ID))
		n.in.waitFor(t, 3, "1:hi from 3")
	}

	if err := nodes[0].p.RemovePeer(3); err != nil {
		t.Fatal(err)
	}
	if nodes[0].p.Send(3, 1, pooled([]byte("x"))) {
		t.Fatal("Send to a removed member returned true")
	}
	// Node 3 keeps trying node 1 (it still lists it); every try is refused.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if nodes[0].p.Connected(3) {
			t.Fatal("a removed member is connected again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !nodes[1].p.Connected(3) {
		t.Error("removing node 3 at node 1 cut it off at node 2 too")
	}

	for _, bad := range []struct {
		id   uint64
		addr string
	}{{0, "a:1"}, {1, "a:1"}, {2, "elsewhere:1"}, {4, ""}} {
		if err := nodes[0].p.AddPeer(bad.id, bad.addr); !errors.Is(err, ErrPeer) {
			t.Errorf("AddPeer(%d, %q) = %v, want ErrPeer", bad.id, bad.addr, err)
		}
	}
	if err := nodes[0].p.RemovePeer(9); !errors.Is(err, ErrPeer) {
		t.Errorf("RemovePeer of a non-member = %v, want ErrPeer", err)
	}
}
