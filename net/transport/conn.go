package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/internal/invariants"
	"github.com/mpaxos/mpaxos/net/frame"
)

// ErrClosed is the error of a connection closed by its own side (Close).
var ErrClosed = errors.New("transport: connection closed")

// Handler is called on a connection's reader goroutine for every frame, in
// arrival order. body is owned by the connection's frame.Reader and valid
// only during the call: a handler that keeps any of it must copy it. A slow
// handler holds up only this connection (TCP flow control then slows the
// sender). A handler may call Send or Close on c.
type Handler func(c *Conn, typ byte, body []byte)

// maxFramesPerWrite caps one writev at 1024 iovecs (Linux's IOV_MAX): a
// header and a body per frame.
const maxFramesPerWrite = 512

// initialQueue is the capacity, in frames, a new connection's send queue
// and writev scratch arrays start with; they grow as frames queue up.
const initialQueue = 16

// outFrame is one queued frame. body is owned by the connection from Send
// until the writer returns it to the pool after writing (or dropping) it.
// A raw outFrame is the unwritten tail of a frame that Send began writing
// inline (see sendInline): body holds its bytes, header included, and is
// written as it is.
type outFrame struct {
	typ  byte
	raw  bool
	body *bytebufferpool.ByteBuffer
}

// Conn is one framed TCP connection: a reader goroutine decoding frames in
// place and calling the handler, and a writer goroutine that writes every
// frame queued since its last wake-up with one writev. Both goroutines belong
// to the Conn and stop on Close or on the first read or write error; Done is
// closed once both have exited. Send and Close are safe for concurrent use.
type Conn struct {
	nc       net.Conn
	rd       *frame.Reader
	h        Handler
	maxFrame int
	sendQ    int
	writeTO  time.Duration
	pool     *bytebufferpool.Pool // where bodies go back; nil: the default pool

	mu struct {
		sync.Mutex
		q      []outFrame // frames waiting for the writer, oldest first
		closed bool
		err    error // why the connection closed
	}
	closed   atomic.Bool   // mirrors mu.closed for the reader's lock-free check
	wake     chan struct{} // capacity 1: "the queue became non-empty"
	done     chan struct{} // closed by the first close
	exited   chan struct{} // closed when both goroutines have exited
	running  atomic.Int32  // goroutines still running
	onExit   func(*Conn)   // set by Server/Peers before start; called once, last
	closeOne sync.Once

	// keepalive, when positive, is how long the writer lets the connection
	// go without writing before it writes an empty TypeKeepalive frame
	// (peer connections only; see Peers).
	keepalive time.Duration

	// inline, when non-nil and true, lets Send write a frame on the
	// caller's goroutine (sendInline); Peers shares one flag with all its
	// connections. raw is nc's descriptor for those non-blocking writes;
	// nil when nc has none, and then Send always queues.
	inline *atomic.Bool
	raw    syscall.RawConn
	// rawWrite is the function sendInline hands raw.Write, made once:
	// a closure made per call escapes to the heap with what it captures
	// (three allocations per inline frame). It writes inlineIov and leaves
	// its outcome in inlineWrote and inlineErr, all owned by the wmu
	// holder.
	rawWrite    func(fd uintptr) bool
	inlineIov   [][]byte
	inlineWrote int
	inlineErr   error

	// wmu is held by whoever writes to the socket: the writer goroutine for
	// a batch, or Send for an inline frame. It keeps frames in queue order
	// and owns the fields below.
	wmu   sync.Mutex
	wrote bool // a frame was written since the last keepalive tick
	batch []outFrame
	hdrs  []byte
	iov   [][]byte
	nb    net.Buffers // kept here so WriteTo's pointer receiver does not allocate
	// writeDL is the write deadline last set on nc.
	writeDL time.Time

	stats connStats

	// The TLS fields come last, so that the plaintext path's fields keep
	// their places in memory (and their cache lines) as they had before
	// TLS.

	// tcp is the socket under nc: nc itself, or the TCP connection a
	// *tls.Conn runs on. Closing it, not the tls.Conn, is how the
	// connection closes: tls.Conn.Close first writes a close-notify alert,
	// which blocks for up to 5 s on a peer that stopped reading.
	tcp net.Conn
	// tls says nc is a *tls.Conn: frames are then copied into wbuf (owned
	// by the wmu holder; grows to maxCopiedWrite) and written with one
	// Write per batch (see writeCopied).
	tls  bool
	wbuf []byte
	// handshake, when set, is run by the reader before the first frame:
	// the client port's TLS handshake, bounded by handshakeTO.
	handshake   func() error
	handshakeTO time.Duration
}

type connStats struct {
	framesSent, bytesSent, writes atomic.Uint64
	inlineWrites, inlinePartial   atomic.Uint64
	droppedFull, droppedClosed    atomic.Uint64
	droppedOversize               atomic.Uint64
	framesReceived, bytesReceived atomic.Uint64
}

// ConnStats are a connection's counters since it was established.
type ConnStats struct {
	FramesSent uint64 // frames written to the socket
	BytesSent  uint64 // bytes written, headers included
	// Writes counts writev calls, the writer goroutine's and Send's own.
	// Writes/FramesSent well below 1 shows frames being coalesced.
	Writes uint64
	// InlineWrites counts frames Send wrote itself (SendInline,
	// Peers.SetInlineWrites), InlinePartial those of them the socket took
	// only part of, the writer goroutine finishing the rest. Both are also
	// counted in Writes.
	InlineWrites    uint64
	InlinePartial   uint64
	DroppedFull     uint64 // Send found the queue full
	DroppedClosed   uint64 // Send on a closed connection, or queued frames discarded by Close
	DroppedOversize uint64 // Send with a body above MaxFrameSize (a caller bug)
	FramesReceived  uint64
	BytesReceived   uint64 // headers included
}

// newConn wraps nc, whose frames rd already decodes (the handshake may have
// read from it). The caller sets onExit if it needs it, then calls start.
func newConn(nc net.Conn, rd *frame.Reader, cfg ConnConfig, h Handler) *Conn {
	c := &Conn{
		nc:       nc,
		tcp:      nc,
		rd:       rd,
		h:        h,
		maxFrame: cfg.MaxFrameSize,
		sendQ:    cfg.SendQueue,
		writeTO:  cfg.WriteTimeout,
		pool:     cfg.BodyPool,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
		// The queues and scratch arrays start small and grow to the
		// connection's high-water mark, where they stay: a connection
		// that never sends much (an idle or hostile client) costs little.
		batch: make([]outFrame, 0, initialQueue),
		hdrs:  make([]byte, 0, initialQueue*frame.HeaderSize),
		iov:   make([][]byte, 0, 2*initialQueue),
	}
	c.mu.q = make([]outFrame, 0, initialQueue)
	if tc, ok := nc.(*tls.Conn); ok {
		c.tcp, c.tls = tc.NetConn(), true
	}
	// A *tls.Conn is no syscall.Conn: TLS connections always queue.
	if sc, ok := nc.(syscall.Conn); ok && inlineWrites {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.rawWrite = func(fd uintptr) bool {
				c.inlineWrote, c.inlineErr = writev(fd, c.inlineIov)
				return true // never wait for the socket to drain
			}
		}
	}
	rd.SetTimeouts(cfg.IdleTimeout, cfg.FrameTimeout)
	return c
}

func (c *Conn) start() {
	c.running.Store(2)
	go c.readLoop()
	go c.writeLoop()
}

// Send queues a frame of type typ and returns at once; it never blocks on the
// network. It takes ownership of body (nil means an empty body), whatever it
// returns: the body must have come from bytebufferpool.Get, must not be
// touched by the caller after the call, and goes back with
// bytebufferpool.Put once the writer has written it, or at once when the frame
// is dropped. (With ConnConfig.BodyPool set, read that pool for
// bytebufferpool's package functions.) Send returns false when the frame was dropped: the queue is
// full, the connection is closed, or the body exceeds MaxFrameSize.
// With inline writes on (Peers.SetInlineWrites) it may write the frame
// itself, still without waiting for the socket (see SendInline).
func (c *Conn) Send(typ byte, body *bytebufferpool.ByteBuffer) bool {
	return c.send(typ, body, c.inline != nil && c.inline.Load())
}

// SendInline is Send for a caller that knows there is nothing for the
// writer goroutine to gather, such as a client with one request
// outstanding: when the writer is idle and nothing is queued, it writes the
// frame itself (see sendInline), still without blocking.
func (c *Conn) SendInline(typ byte, body *bytebufferpool.ByteBuffer) bool {
	return c.send(typ, body, true)
}

func (c *Conn) send(typ byte, body *bytebufferpool.ByteBuffer, inline bool) bool {
	if body != nil && len(body.B) > c.maxFrame {
		release(c.pool, body)
		c.stats.droppedOversize.Add(1)
		return false
	}
	c.mu.Lock()
	if c.mu.closed || len(c.mu.q) >= c.sendQ {
		closed := c.mu.closed
		c.mu.Unlock()
		release(c.pool, body)
		if closed {
			c.stats.droppedClosed.Add(1)
		} else {
			c.stats.droppedFull.Add(1)
		}
		return false
	}
	if invariants.Enabled && body != nil {
		if i := c.queuedAtLocked(body); i >= 0 {
			n := len(c.mu.q)
			c.mu.Unlock()
			panic(fmt.Sprintf("transport: Send of a body already queued at position %d of %d (ownership passed twice)", i, n))
		}
	}
	first := len(c.mu.q) == 0
	// Holding wmu with an empty queue, this frame is next in line: the
	// writer takes the queue only under wmu, so no frame Sent before this
	// one is still unwritten, and any Sent after it queues behind it.
	if first && inline && c.raw != nil && c.wmu.TryLock() {
		c.mu.Unlock()
		c.sendInline(outFrame{typ: typ, body: body})
		c.wmu.Unlock()
		return true
	}
	c.mu.q = append(c.mu.q, outFrame{typ: typ, body: body})
	c.mu.Unlock()
	if first {
		select {
		case c.wake <- struct{}{}:
		default: // the writer is already due to wake
		}
	}
	return true
}

// queuedAtLocked returns where body already sits in the queue, or -1. A body
// sent twice would go back to the pool twice and two frames would share (and
// corrupt) its bytes. O(queue length), hence checked under invariants only.
func (c *Conn) queuedAtLocked(body *bytebufferpool.ByteBuffer) int {
	for i, f := range c.mu.q {
		if f.body == body {
			return i
		}
	}
	return -1
}

// Close closes the connection. Frames still queued are discarded. It is
// idempotent and does not wait for the goroutines; <-Done() does (never wait
// on Done from inside the handler: the handler runs on the reader goroutine).
func (c *Conn) Close() error {
	c.closeWith(ErrClosed)
	return nil
}

// Done is closed when the connection is closed and both its goroutines have
// exited; the handler is not called after that.
func (c *Conn) Done() <-chan struct{} { return c.exited }

// Err returns why the connection closed: ErrClosed after Close, or the read
// or write error that closed it (io.EOF when the other side closed cleanly).
// It is nil while the connection is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.err
}

// RemoteAddr returns the other end's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns this end's address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Stats returns the connection's counters.
func (c *Conn) Stats() ConnStats {
	s := &c.stats
	return ConnStats{
		FramesSent: s.framesSent.Load(), BytesSent: s.bytesSent.Load(), Writes: s.writes.Load(),
		InlineWrites: s.inlineWrites.Load(), InlinePartial: s.inlinePartial.Load(),
		DroppedFull: s.droppedFull.Load(), DroppedClosed: s.droppedClosed.Load(),
		DroppedOversize: s.droppedOversize.Load(),
		FramesReceived:  s.framesReceived.Load(), BytesReceived: s.bytesReceived.Load(),
	}
}

func (c *Conn) closeWith(err error) {
	c.closeOne.Do(func() {
		c.mu.Lock()
		c.mu.closed = true
		c.mu.err = err
		c.mu.Unlock()
		c.closed.Store(true)
		close(c.done)
		_ = c.tcp.Close() // unblocks the reader's read and the writer's writev
	})
}

// goroutineExit runs as each goroutine's last act; the last one out closes
// exited and tells the owner.
func (c *Conn) goroutineExit() {
	if c.running.Add(-1) == 0 {
		close(c.exited)
		if c.onExit != nil {
			c.onExit(c)
		}
	}
}

func (c *Conn) readLoop() {
	defer c.goroutineExit()
	if c.handshake != nil {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.handshakeTO))
		if err := c.handshake(); err != nil {
			c.closeWith(fmt.Errorf("%w: handshake: %w", ErrCerts, err))
			return
		}
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	for !c.closed.Load() {
		typ, body, err := c.rd.Next()
		if err != nil {
			c.closeWith(err)
			return
		}
		c.stats.framesReceived.Add(1)
		c.stats.bytesReceived.Add(uint64(frame.HeaderSize + len(body)))
		c.h(c, typ, body)
	}
}

func (c *Conn) writeLoop() {
	defer c.goroutineExit()
	defer c.discardQueued()
	var tick <-chan time.Time
	if c.keepalive > 0 {
		t := time.NewTicker(c.keepalive)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-c.wake:
		case <-tick:
			c.wmu.Lock()
			wrote := c.wrote
			c.wrote = false
			c.wmu.Unlock()
			if wrote {
				continue
			}
			c.mu.Lock()
			c.mu.q = append(c.mu.q, outFrame{typ: TypeKeepalive})
			c.mu.Unlock()
		case <-c.done:
			return
		}
		// Yield once before taking the queue: the goroutines that are
		// runnable now (clients woken by the replies just read, a loop
		// finishing a batch) get to queue their frames first, so one
		// writev carries them all. When nothing else is runnable this
		// returns at once. At 5 nodes and 200 clients it cut writes per
		// frame enough to raise throughput 1.5x (results/README.md's
		// performance log has the A/B).
		runtime.Gosched()
		c.wmu.Lock()
		c.mu.Lock()
		c.batch, c.mu.q = c.mu.q, c.batch[:0]
		c.mu.Unlock()
		err := c.writeBatch()
		c.wmu.Unlock()
		if err != nil {
			c.closeWith(err)
			return
		}
	}
}

// writeBatch writes c.batch, up to maxFramesPerWrite frames per writev, and
// returns every body to the pool. Headers are built side by side in c.hdrs;
// the iovecs alternate header and body, so no body byte is copied.
func (c *Conn) writeBatch() error {
	var err error
	for b := c.batch; len(b) > 0 && err == nil; {
		chunk := b[:min(len(b), maxFramesPerWrite)]
		b = b[len(chunk):]
		hdrs := c.hdrs[:0]
		iov := c.iov[:0]
		size := 0
		for _, f := range chunk {
			if f.raw {
				size += len(f.body.B)
				iov = append(iov, f.body.B)
				continue
			}
			n := 0
			if f.body != nil {
				n = len(f.body.B)
			}
			size += frame.HeaderSize + n
			hdrs = frame.AppendHeader(hdrs, f.typ, n)
			iov = append(iov, hdrs[len(hdrs)-frame.HeaderSize:])
			if n > 0 {
				iov = append(iov, f.body.B)
			}
		}
		if c.writeTO > 0 {
			// Moving the deadline costs a runtime timer update per write;
			// moving it only once half of it is used up is as good a bound
			// on a stuck peer (a write fails after WriteTimeout/2 to
			// WriteTimeout of blocking).
			if now := time.Now(); c.writeDL.Sub(now) < c.writeTO/2 {
				c.writeDL = now.Add(c.writeTO)
				_ = c.nc.SetWriteDeadline(c.writeDL)
			}
		}
		if c.tls {
			err = c.writeCopied(iov)
		} else {
			c.nb = iov
			_, err = c.nb.WriteTo(c.nc)
		}
		c.wrote = true
		c.stats.writes.Add(1)
		if err == nil {
			c.stats.framesSent.Add(uint64(len(chunk)))
			c.stats.bytesSent.Add(uint64(size))
		}
		clear(iov) // drop references to bodies that go back to the pool
		c.nb = nil
		c.hdrs, c.iov = hdrs[:0], iov[:0] // keep what append grew
	}
	for i := range c.batch {
		release(c.pool, c.batch[i].body)
	}
	clear(c.batch)
	c.batch = c.batch[:0]
	if err != nil {
		return fmt.Errorf("transport: write: %w", err)
	}
	return nil
}

// sendInline writes f on the caller's goroutine, which holds wmu, with one
// writev that never waits: whatever the socket does not take at once (its
// buffer is full because the peer reads slowly, or has stopped) goes to the
// front of the queue for the writer goroutine, so a caller such as the
// node's event loop never blocks on a peer.
//
// Why: a queued frame costs a wake-up of the writer goroutine, which on a
// lightly loaded node means waking a thread (futex, context switch) before
// the frame leaves; in a 3-node cluster serving one client, writing the
// peers' messages inline cut the median latency by about a tenth
// (results/README.md's performance log). Under load the queue is the
// better path: the writer's yield gathers many frames into one writev, so
// callers turn inline writes on only while they expect nothing to gather
// (Peers.SetInlineWrites).
func (c *Conn) sendInline(f outFrame) {
	n := 0
	if f.body != nil {
		n = len(f.body.B)
	}
	hdr := frame.AppendHeader(c.hdrs[:0], f.typ, n)
	iov := append(c.iov[:0], hdr)
	if n > 0 {
		iov = append(iov, f.body.B)
	}
	size := len(hdr) + n
	c.inlineIov, c.inlineWrote, c.inlineErr = iov, 0, nil
	err := c.raw.Write(c.rawWrite)
	wrote, werr := c.inlineWrote, c.inlineErr
	c.inlineIov, c.inlineErr = nil, nil
	clear(iov)
	if err == nil && werr != nil && !errors.Is(werr, syscall.EAGAIN) && !errors.Is(werr, syscall.EINTR) {
		err = werr
	}
	wrote = max(wrote, 0)
	c.stats.writes.Add(1)
	c.stats.inlineWrites.Add(1)
	c.stats.bytesSent.Add(uint64(wrote))
	if wrote > 0 {
		c.wrote = true
	}
	switch {
	case err != nil:
		release(c.pool, f.body)
		c.closeWith(fmt.Errorf("transport: write: %w", err))
		return
	case wrote == size:
		c.stats.framesSent.Add(1)
		release(c.pool, f.body)
		return
	case wrote > 0:
		// The peer has part of the frame: the rest must follow before any
		// other byte. It becomes a raw frame of its own.
		c.stats.inlinePartial.Add(1)
		rest := getBuffer(c.pool)
		if wrote < len(hdr) {
			rest.B = append(rest.B, hdr[wrote:]...)
			rest.B = append(rest.B, f.body.B...)
		} else {
			rest.B = append(rest.B, f.body.B[wrote-len(hdr):]...)
		}
		release(c.pool, f.body)
		f = outFrame{raw: true, body: rest}
	}
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		release(c.pool, f.body)
		c.stats.droppedClosed.Add(1)
		return
	}
	// At the front: frames queued meanwhile were Sent after this one.
	c.mu.q = append(c.mu.q, outFrame{})
	copy(c.mu.q[1:], c.mu.q)
	c.mu.q[0] = f
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// discardQueued returns the bodies of frames that will never be written.
func (c *Conn) discardQueued() {
	c.mu.Lock()
	q := c.mu.q
	c.mu.q = nil
	c.mu.Unlock()
	for _, f := range q {
		release(c.pool, f.body)
	}
	c.stats.droppedClosed.Add(uint64(len(q)))
}

// getBuffer takes a buffer from pool, or from the default pool.
func getBuffer(pool *bytebufferpool.Pool) *bytebufferpool.ByteBuffer {
	if pool != nil {
		return pool.Get()
	}
	return bytebufferpool.Get()
}

// release returns b (which may be nil) to pool, or to the default pool.
func release(pool *bytebufferpool.Pool, b *bytebufferpool.ByteBuffer) {
	switch {
	case b == nil:
	case pool != nil:
		pool.Put(b)
	default:
		bytebufferpool.Put(b)
	}
}

// isClosedErr reports errors that only say the connection ended, which are
// logged at debug level rather than as warnings.
func isClosedErr(err error) bool {
	return errors.Is(err, ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// maxCopiedWrite bounds a TLS connection's copy buffer: a batch is copied
// into it and written with one tls.Conn.Write, so the batch becomes as few
// records as the record size allows (16 KiB each), where net.Buffers'
// WriteTo would make one Write, so at least one record and its 22 bytes of
// overhead and one AEAD pass, per header and per body. A body too big to
// fit is written on its own, from its own buffer, not copied.
const maxCopiedWrite = 256 << 10

// writeCopied writes iov (one batch's headers and bodies) to the TLS
// connection, copied into wbuf, one Write per maxCopiedWrite bytes.
func (c *Conn) writeCopied(iov [][]byte) error {
	buf := c.wbuf[:0]
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := c.nc.Write(buf)
		buf = buf[:0]
		return err
	}
	var err error
	for _, b := range iov {
		if len(buf)+len(b) > maxCopiedWrite {
			if err = flush(); err != nil {
				break
			}
			if len(b) > maxCopiedWrite {
				if _, err = c.nc.Write(b); err != nil {
					break
				}
				continue
			}
		}
		buf = append(buf, b...)
	}
	if err == nil {
		err = flush()
	}
	c.wbuf = buf[:0]
	return err
}
