package transport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/internal/invariants"
	"github.com/mpaxos/mpaxos/net/frame"
)

// sizeChecker verifies frames from several senders: sender s (the frame
// type) sends the sizes of its sequence in order, each body pattern(s, n).
type sizeChecker struct {
	mu   sync.Mutex
	next map[byte]int // index into sizes of the next frame per sender
	errs []string
	done chan struct{}
	left int
}

func (k *sizeChecker) check(sizes map[byte][]int, typ byte, body []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	seq := sizes[typ]
	i := k.next[typ]
	switch {
	case i >= len(seq):
		k.errs = append(k.errs, "extra frame")
	case len(body) != seq[i]:
		k.errs = append(k.errs, "out of order or lost frame")
	case string(body) != string(pattern(typ, len(body))):
		k.errs = append(k.errs, "corrupt body")
	}
	k.next[typ] = i + 1
	if k.left--; k.left == 0 {
		close(k.done)
	}
}

// sendAll sends the given sizes in order on send, retrying when the queue is
// full (a dropped frame was not queued, so order is kept).
func sendAll(t *testing.T, send func(typ byte, body []byte) bool, typ byte, sizes []int) {
	deadline := time.Now().Add(testTimeout)
	for _, n := range sizes {
		body := pattern(typ, n)
		for !send(typ, body) {
			if time.Now().After(deadline) {
				t.Errorf("sender %d: queue stayed full", typ)
				return
			}
			runtime.Gosched()
		}
	}
}

// sizeConn starts a server that checks every frame against perSender
// (after calling hook, if not nil, on the server's reader) and dials it with
// cfg, inline writes on or off. Both close when the test ends.
func sizeConn(t *testing.T, cfg ConnConfig, perSender map[byte][]int, inline bool, hook func()) (*Conn, *sizeChecker) {
	t.Helper()
	left := 0
	for _, seq := range perSender {
		left += len(seq)
	}
	k := &sizeChecker{next: make(map[byte]int), done: make(chan struct{}), left: left}
	sc := DefaultServerConfig()
	sc.Conn = cfg
	sc.Listener = listenLoopback(t)
	srv, err := Listen(sc, func(_ *Conn, typ byte, body []byte) {
		k.check(perSender, typ, body)
		if hook != nil {
			hook()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := Dial(srv.Addr().String(), cfg, func(*Conn, byte, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	on := new(atomic.Bool)
	on.Store(inline)
	c.inline = on
	return c, k
}

// await waits until every expected frame has arrived on c's server and
// fails the test on any bad one.
func (k *sizeChecker) await(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-k.done:
	case <-time.After(testTimeout):
		t.Fatalf("%d frames never arrived; conn err %v", k.left, c.Err())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.errs) > 0 {
		t.Fatalf("%d bad frames, first: %s", len(k.errs), k.errs[0])
	}
}

// runSizes streams every size in sizes from `senders` goroutines sharing one
// client connection and checks everything arrives intact and in order.
// With inline, Send may write frames itself (Peers.SetInlineWrites), mixed
// with the writer goroutine's writes.
func runSizes(t *testing.T, cfg ConnConfig, senders int, sizes []int, inline bool) {
	perSender := make(map[byte][]int)
	for i, n := range sizes {
		typ := byte(i % senders)
		perSender[typ] = append(perSender[typ], n)
	}
	c, k := sizeConn(t, cfg, perSender, inline, nil)
	var wg sync.WaitGroup
	for typ, seq := range perSender {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendAll(t, func(typ byte, b []byte) bool { return c.Send(typ, pooled(b)) }, typ, seq)
		}()
	}
	wg.Wait()
	k.await(t, c)
	if st := c.Stats(); st.Writes >= st.FramesSent {
		t.Logf("no coalescing: %d writes for %d frames", st.Writes, st.FramesSent)
	}
}

// TestConnEverySize sends every body size from 0 to the maximum (8 KiB here,
// to keep the run short) from four concurrent senders through a 4 KiB read
// buffer, so both the in-place and the pooled large-frame paths run.
func TestConnEverySize(t *testing.T) {
	cfg := DefaultConnConfig()
	cfg.MaxFrameSize = 8 << 10
	cfg.ReadBufferSize = 4 << 10
	cfg.SendQueue = 64
	sizes := make([]int, 0, cfg.MaxFrameSize+1)
	for n := 0; n <= cfg.MaxFrameSize; n++ {
		sizes = append(sizes, n)
	}
	// Shuffle so each sender's sizes, and neighbouring frames, vary.
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) { runSizes(t, cfg, 4, sizes, inline) })
	}
}

// TestConnLargeSizes covers the default 4 MiB maximum at its boundaries and
// around the read buffer size.
func TestConnLargeSizes(t *testing.T) {
	cfg := DefaultConnConfig()
	rb := cfg.ReadBufferSize - frame.HeaderSize
	m := cfg.MaxFrameSize
	sizes := []int{0, 1, rb - 1, rb, rb + 1, 1 << 20, m - 1, m, 3, rb, m, 0}
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) { runSizes(t, cfg, 2, sizes, inline) })
	}
}

// TestConnInlinePartialWrites: with inline writes on, a frame larger than
// the socket will take at once is written in part by Send and finished by
// the writer goroutine, before any later frame; and while the peer has
// stopped reading, Send still returns at once. Every frame must arrive
// whole and in order once the peer reads again.
func TestConnInlinePartialWrites(t *testing.T) {
	cfg := DefaultConnConfig()
	cfg.SocketBufferSize = 64 << 10
	big := cfg.MaxFrameSize / 2
	var sizes []int
	for i := range 12 {
		sizes = append(sizes, big, i, big-i)
	}
	stalled := make(chan struct{})
	var once sync.Once
	c, k := sizeConn(t, cfg, map[byte][]int{1: sizes}, true, func() {
		once.Do(func() { <-stalled }) // stop reading after the first frame
	})
	var release sync.Once
	resume := func() { release.Do(func() { close(stalled) }) }
	t.Cleanup(resume) // runs before sizeConn's: the server's reader must not stay stalled
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		sendAll(t, func(typ byte, b []byte) bool { return c.Send(typ, pooled(b)) }, 1, sizes)
	}()
	select {
	case <-sent:
	case <-time.After(testTimeout):
		t.Fatal("Send blocked on a peer that stopped reading")
	}
	st := c.Stats()
	if st.InlineWrites == 0 || st.InlinePartial == 0 {
		t.Fatalf("inline writes %d, partial %d: want both above 0", st.InlineWrites, st.InlinePartial)
	}
	resume()
	k.await(t, c)
}

func TestConnSendLimits(t *testing.T) {
	srv := echoServer(t, DefaultServerConfig())
	cfg := DefaultConnConfig()
	cfg.MaxFrameSize = 1000
	c, err := Dial(srv.Addr().String(), cfg, func(*Conn, byte, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	if c.Send(1, pooled(make([]byte, 1001))) {
		t.Fatal("Send accepted a body above MaxFrameSize")
	}
	if st := c.Stats(); st.DroppedOversize != 1 {
		t.Fatalf("DroppedOversize = %d", st.DroppedOversize)
	}
	c.Close()
	c.Close() // idempotent
	<-c.Done()
	if c.Send(1, pooled([]byte("late"))) {
		t.Fatal("Send on a closed conn returned true")
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed", c.Err())
	}
}

// TestConnNeverBlocks: a peer that never reads fills the kernel buffers and
// then the send queue; Send keeps returning at once, with false.
func TestConnNeverBlocks(t *testing.T) {
	ln := listenLoopback(t)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			accepted <- nc
		}
	}()
	cfg := DefaultConnConfig()
	cfg.SendQueue = 16
	c, err := Dial(ln.Addr().String(), cfg, func(*Conn, byte, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nc := <-accepted // never read from
	defer nc.Close()
	body := make([]byte, 64<<10)
	for i := 0; c.Stats().DroppedFull == 0; i++ {
		if i > 100000 {
			t.Fatal("the queue never filled")
		}
		c.Send(1, pooled(body))
		runtime.Gosched()
	}
}

func TestServerRejectsBadInput(t *testing.T) {
	cfg := DefaultServerConfig()
	cfg.Conn.FrameTimeout = 300 * time.Millisecond
	srv := echoServer(t, cfg)
	roundTrip := echoClient(t, srv)
	roundTrip("before")

	dialRaw := func() net.Conn {
		nc, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	t.Run("huge length prefix", func(t *testing.T) {
		nc := dialRaw()
		nc.Write([]byte{0xff, 0xff, 0xff, 0xf0, 1, 2, 3})
		awaitClosed(t, nc)
		roundTrip("after huge")
	})
	t.Run("one above max", func(t *testing.T) {
		nc := dialRaw()
		nc.Write(frame.AppendHeader(nil, 1, frame.DefaultMaxFrame+1))
		awaitClosed(t, nc)
		roundTrip("after max+1")
	})
	t.Run("truncated frame", func(t *testing.T) {
		nc := dialRaw()
		nc.Write(append(frame.AppendHeader(nil, 1, 100), make([]byte, 50)...))
		// The sender stops mid-frame and stays connected: FrameTimeout ends it.
		awaitClosed(t, nc)
		roundTrip("after truncated")
	})
	for seed := range uint64(5) {
		t.Run(fmt.Sprintf("random bytes seed %d", seed), func(t *testing.T) {
			nc := dialRaw()
			junk := make([]byte, 4096)
			rng := rand.New(rand.NewPCG(seed, 99))
			for i := range junk {
				junk[i] = byte(rng.Uint32())
			}
			nc.Write(junk)
			awaitClosed(t, nc)
			roundTrip("after junk")
		})
	}
	t.Run("slow loris", func(t *testing.T) {
		nc := dialRaw()
		closed := make(chan struct{})
		go func() { awaitClosed(t, nc); close(closed) }()
		msg := append(frame.AppendHeader(nil, 1, 1000), make([]byte, 1000)...)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-closed:
				roundTrip("after slow loris")
				if i >= len(msg) {
					t.Fatal("the whole frame was sent before the close")
				}
				return
			case <-tick.C:
				if i < len(msg) {
					nc.Write(msg[i : i+1])
				}
			}
		}
	})
	roundTrip("end")
}

func TestServerIdleTimeout(t *testing.T) {
	cfg := DefaultServerConfig()
	cfg.Conn.IdleTimeout = 100 * time.Millisecond
	srv := echoServer(t, cfg)
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	awaitClosed(t, nc)
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConnConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ConnConfig{MaxFrameSize: -1, ReadBufferSize: 1, SendQueue: 0, WriteTimeout: -1}
	err := bad.Validate()
	for _, want := range []string{"MaxFrameSize", "ReadBufferSize", "SendQueue", "timeout", "DialTimeout"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a complaint about %s", err, want)
		}
	}
	if !errors.Is(err, ErrConfig) {
		t.Errorf("Validate() = %v, want ErrConfig", err)
	}
	pc := DefaultPeersConfig()
	err = pc.Validate()
	for _, want := range []string{"ClusterID", "ID is zero", "Listen"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("PeersConfig.Validate() = %v, want a complaint about %s", err, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestConnSteadyStateNoAlloc: a Send/receive round of frames that fit in the
// read buffer allocates nothing once the pools are warm, also when each
// frame is written inline by the sender (SendInline, as a node's replies
// and a follower's acknowledgements are).
func TestConnSteadyStateNoAlloc(t *testing.T) {
	t.Run("queued", func(t *testing.T) { testSteadyStateNoAlloc(t, false) })
	t.Run("inline", func(t *testing.T) { testSteadyStateNoAlloc(t, true) })
}

func testSteadyStateNoAlloc(t *testing.T, inline bool) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need a normal (non -race, non -short) build")
	}
	var got atomic.Uint64
	c := dialServer(t, func(*Conn, byte, []byte) { got.Add(1) })
	payload := make([]byte, 512)
	sent := uint64(0)
	send := c.Send
	if inline {
		send = c.SendInline
	}
	round := func() {
		for range 64 {
			if send(1, pooled(payload)) {
				sent++
			}
		}
		for got.Load() < sent {
			runtime.Gosched()
		}
	}
	for range 20 {
		round() // warm the pools and the runtime's poller state
	}
	// AllocsPerRun counts every goroutine's allocations, both ends included.
	allocs := testing.AllocsPerRun(50, round)
	// A GC during the run may empty sync.Pool and cost a refill; anything
	// per frame would be >= 64.
	if allocs >= 8 {
		t.Fatalf("%.1f allocations per 64 frames", allocs)
	}
}

func TestSendSameBodyTwicePanicsUnderInvariants(t *testing.T) {
	if !invariants.Enabled {
		t.Skip("the check runs only with -tags invariants")
	}
	ln := listenLoopback(t)
	defer ln.Close()
	// Nobody accepts: frames stay queued behind the first writev at most.
	cfg := DefaultConnConfig()
	c, err := Dial(ln.Addr().String(), cfg, func(*Conn, byte, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.mu.Lock() // hold the writer off so both Sends find the queue intact
	body := pooled([]byte("x"))
	c.mu.q = append(c.mu.q, outFrame{typ: 1, body: body})
	c.mu.Unlock()
	defer func() {
		if recover() == nil {
			t.Fatal("sending a queued body again did not panic")
		}
		c.mu.Lock()
		c.mu.q = c.mu.q[:0]
		c.mu.Unlock()
	}()
	c.Send(1, body)
}

// TestConnSendInline: SendInline writes the frame on the caller's goroutine
// when the writer is idle, whatever the connection's inline flag, and the
// frames arrive as sent.
func TestConnSendInline(t *testing.T) {
	got := make(chan string, 3)
	c := dialServer(t, func(_ *Conn, _ byte, body []byte) { got <- string(body) })
	for _, s := range []string{"one", "two", "three"} {
		if !c.SendInline(1, pooled([]byte(s))) {
			t.Fatalf("SendInline(%q) dropped", s)
		}
		select {
		case b := <-got:
			if b != s {
				t.Fatalf("got %q, want %q", b, s)
			}
		case <-time.After(testTimeout):
			t.Fatalf("%q never arrived", s)
		}
	}
	if st := c.Stats(); st.InlineWrites != 3 || st.InlinePartial != 0 || st.FramesSent != 3 {
		t.Fatalf("stats %+v: want 3 whole inline writes", st)
	}
}
