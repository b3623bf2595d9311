package transport

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/net/frame"
)

// Tests of the bounds on what strangers can hold: connection slots, memory
// before any frame is complete, pending peer handshakes.

// rawEcho opens a plain TCP connection to s and does one echo round trip on
// it, so the server has admitted it and received its last bytes now.
func rawEcho(t *testing.T, s *Server) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := rawRoundTrip(nc, "hi"); err != nil {
		t.Fatalf("round trip on a fresh connection: %v", err)
	}
	return nc
}

// rawRoundTrip sends one frame on nc and reads its echo.
func rawRoundTrip(nc net.Conn, msg string) error {
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(append(frame.AppendHeader(nil, 7, len(msg)), msg...)); err != nil {
		return err
	}
	got := make([]byte, frame.HeaderSize+len(msg))
	if _, err := io.ReadFull(nc, got); err != nil {
		return err
	}
	if string(got[frame.HeaderSize:]) != msg {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// TestServerFullEvictsLongestIdle: a server full of idle connections makes
// room for a new client by closing the longest-idle one, instead of
// refusing the client (5,000 idle sockets used to lock every client out).
func TestServerFullEvictsLongestIdle(t *testing.T) {
	cfg := DefaultServerConfig()
	cfg.MaxConns = 4
	srv := echoServer(t, cfg)
	idle := make([]net.Conn, cfg.MaxConns)
	for i := range idle {
		idle[i] = rawEcho(t, srv) // idle[0] is the longest idle
	}
	if n := srv.Len(); n != cfg.MaxConns {
		t.Fatalf("%d connections open, want %d", n, cfg.MaxConns)
	}
	roundTrip := echoClient(t, srv)
	roundTrip("served although the server was full")
	awaitClosed(t, idle[0])
	for i, nc := range idle[1:] {
		if err := rawRoundTrip(nc, "still here"); err != nil {
			t.Fatalf("idle connection %d, not the longest idle, lost: %v", i+1, err)
		}
	}
	if n := srv.Len(); n > cfg.MaxConns {
		t.Fatalf("%d connections open, above MaxConns %d", n, cfg.MaxConns)
	}
}

// TestServerPerIPLimit: one address cannot hold more than MaxConnsPerIP
// connections; once one of them closes, that address may connect again.
func TestServerPerIPLimit(t *testing.T) {
	cfg := DefaultServerConfig()
	cfg.MaxConns = 100
	cfg.MaxConnsPerIP = 2
	srv := echoServer(t, cfg)
	first := rawEcho(t, srv)
	rawEcho(t, srv)
	extra, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	awaitClosed(t, extra)
	first.Close()
	// The server sees the close asynchronously: retry until a new
	// connection is served (each attempt awaits an answer or a close).
	deadline := time.Now().Add(testTimeout)
	for {
		nc, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		err = rawRoundTrip(nc, "back under the limit")
		nc.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection served after one of the two closed: %v", err)
		}
	}
}

// TestServerIdleTimeoutByDefault: client connections have an idle timeout
// unless configured otherwise, and one that went quiet after a frame is
// closed with a reason naming the timeout.
func TestServerIdleTimeoutByDefault(t *testing.T) {
	if d := DefaultServerConfig().Conn.IdleTimeout; d <= 0 {
		t.Fatalf("DefaultServerConfig has IdleTimeout %v: idle client sockets hold their slots for good", d)
	}
	cfg := DefaultServerConfig()
	cfg.Conn.IdleTimeout = 100 * time.Millisecond
	rec := newLogRecorder()
	cfg.Conn.Logger = rec.logger()
	srv := echoServer(t, cfg)
	nc := rawEcho(t, srv)
	awaitClosed(t, nc)
	rec.wait(t, "client connection closed", "no frame for 100ms")
}

// watchListener reports, for every connection it accepts, the first Read
// the server makes on it after at least after bytes arrived: the reader has
// then decoded what came and decided how much memory the rest needs.
type watchListener struct {
	net.Listener
	after   int
	reading chan struct{}
}

func (l *watchListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &watchConn{Conn: nc, l: l}, nil
}

type watchConn struct {
	net.Conn
	l    *watchListener
	got  int
	once sync.Once
}

func (c *watchConn) Read(p []byte) (int, error) {
	if c.got >= c.l.after {
		c.once.Do(func() { c.l.reading <- struct{}{} })
	}
	n, err := c.Conn.Read(p)
	c.got += n
	return n, err
}

// heapAfterGC is the live heap, in bytes, after full collections (two: the
// first only moves sync.Pool contents to its victim cache).
func heapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// perConnBound is what one connection that has sent no complete frame may
// cost in heap: its small read buffer, its queues and structs. Generous: a
// buffer sized by the claimed length or the configured read buffer is far
// above it.
const perConnBound = 32 << 10

// TestServerHeaderOnlyHeapBound: connections that send only a header
// claiming a huge frame (and a few body bytes) hold a few KiB of heap each,
// not the claimed length: 8 of them took a node from 112 MiB to 2.2 GiB.
func TestServerHeaderOnlyHeapBound(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures under -race include the detector's shadow state")
	}
	const n = 16
	const claim = 16 << 20
	cfg := DefaultServerConfig()
	cfg.Conn.MaxFrameSize = claim
	cfg.Conn.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	wl := &watchListener{Listener: listenLoopback(t), after: frame.HeaderSize, reading: make(chan struct{}, n)}
	cfg.Listener = wl
	srv, err := Listen(cfg, func(*Conn, byte, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	before := heapAfterGC()
	msg := binary.BigEndian.AppendUint32(nil, claim)
	msg = append(msg, 1)
	msg = append(msg, make([]byte, 100)...)
	for range n {
		nc, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t)
	for range n {
		select {
		case <-wl.reading:
		case <-ctx.Done():
			t.Fatal("the server did not read every header")
		}
	}
	grew := heapAfterGC() - before
	if bound := int64(n * perConnBound); grew > bound {
		t.Fatalf("%d connections each claiming a %d-byte frame grew the heap by %d bytes, bound %d", n, claim, grew, bound)
	}
	t.Logf("%d header-only connections: heap grew by %d bytes (%d per connection)", n, grew, grew/n)
}

// strangerPeers is a Peers of node 2 that only accepts (node 1, the
// dialler, is never started), for tests of what strangers can do to it.
func strangerPeers(t *testing.T, ln net.Listener, tweak func(*PeersConfig)) *Peers {
	t.Helper()
	cfg := DefaultPeersConfig()
	cfg.ClusterID, cfg.ID, cfg.Listener = 7, 2, ln
	cfg.Peers = map[uint64]string{1: "127.0.0.1:1"} // node 1 dials us; never dialled
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := NewPeers(cfg, func(uint64, byte, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(func() { p.Close() })
	return p
}

// TestPeersPendingHeapBound: silent connections to the peer port, which
// have not handshaken, hold a small buffer each (3,000 of them used to take
// 1 MiB each: 3.2 GB).
func TestPeersPendingHeapBound(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures under -race include the detector's shadow state")
	}
	const n = 32
	wl := &watchListener{Listener: listenLoopback(t), reading: make(chan struct{}, n)}
	p := strangerPeers(t, wl, func(c *PeersConfig) {
		c.HandshakeTimeout = time.Minute
		c.MaxPendingHandshakes = n
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	before := heapAfterGC()
	for range n {
		nc, err := net.Dial("tcp", p.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
	}
	ctx := testCtx(t)
	for range n {
		select {
		case <-wl.reading:
		case <-ctx.Done():
			t.Fatal("not every connection reached its handshake read")
		}
	}
	grew := heapAfterGC() - before
	if bound := int64(n * perConnBound); grew > bound {
		t.Fatalf("%d silent peer connections grew the heap by %d bytes, bound %d", n, grew, bound)
	}
	t.Logf("%d silent peer connections: heap grew by %d bytes (%d per connection)", n, grew, grew/n)
}

// TestPeersPendingHandshakesBounded: beyond MaxPendingHandshakes silent
// strangers, each new one closes the oldest, long before the handshake
// timeout; the pending set never exceeds the limit.
func TestPeersPendingHandshakesBounded(t *testing.T) {
	const limit, n = 4, 10
	p := strangerPeers(t, listenLoopback(t), func(c *PeersConfig) {
		c.HandshakeTimeout = time.Hour
		c.MaxPendingHandshakes = limit
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	assertPendingBounded(t, p, n, limit)
}

// assertPendingBounded opens n connections to p that never say a word and
// waits for all but limit of them to be closed (each new one beyond
// MaxPendingHandshakes closes the oldest); the pending set must hold at
// most limit afterwards.
func assertPendingBounded(t *testing.T, p *Peers, n, limit int) {
	t.Helper()
	closed := make(chan int, n)
	for i := range n {
		nc, err := net.Dial("tcp", p.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		go func() {
			_, _ = io.Copy(io.Discard, nc)
			closed <- i
		}()
	}
	ctx := testCtx(t)
	for range n - limit {
		select {
		case <-closed:
		case <-ctx.Done():
			t.Fatalf("fewer than %d of %d silent strangers closed (limit %d)", n-limit, n, limit)
		}
	}
	p.mu.Lock()
	pending := len(p.mu.pending)
	p.mu.Unlock()
	if pending > limit {
		t.Fatalf("%d pending handshakes, limit %d", pending, limit)
	}
}

// TestHandshakeTimeoutMessage: a stranger that never sends its hello is
// dropped with a message naming the handshake and its real timeout (it
// used to read "no frame for 0s").
func TestHandshakeTimeoutMessage(t *testing.T) {
	rec := newLogRecorder()
	p := strangerPeers(t, listenLoopback(t), func(c *PeersConfig) {
		c.HandshakeTimeout = 200 * time.Millisecond
		c.Logger = rec.logger()
	})
	nc, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	line := rec.wait(t, "refusing peer connection", "no hello within the handshake timeout of 200ms")
	if strings.Contains(line, " 0s") {
		t.Fatalf("log line %q still names a 0s timeout", line)
	}
}
