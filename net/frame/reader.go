package frame

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// bigPool holds the buffers (*[]byte) of frames larger than a Reader's read
// buffer. Such frames are rare (snapshot chunks, huge batches); growing every
// connection's read buffer to the largest frame it ever saw would pin that
// much memory per connection for good, so instead the frame is read into a
// pooled buffer that goes back to the pool at the next Next. A plain
// sync.Pool, not bytebufferpool: the latter discards buffers above the 95th
// percentile of the sizes it has seen, which here are all large.
var bigPool sync.Pool

// InitialBufferSize is the size of a new Reader's read buffer, in bytes
// (or the configured buffer size, if smaller). It holds a handshake or a
// few small frames; the buffer doubles, up to the configured size, only
// when bytes that arrive fill it (see Reader). A connection that sends
// nothing, or only a header claiming a huge frame, costs this much.
const InitialBufferSize = 512

// minBigStep is the smallest buffer a frame larger than the read buffer
// starts in when the pool has none big enough for the whole frame.
const minBigStep = 4 << 10

// epoch anchors the Reader's receive stamps: durations since it use the
// monotonic clock and fit an atomic int64.
var epoch = time.Now()

// deadliner is the part of net.Conn the Reader uses to bound slow senders.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// dlKind says which deadline the Reader last set on its connection.
type dlKind uint8

const (
	dlNone  dlKind = iota // none set (or cleared)
	dlIdle                // waiting for a frame to start: lastRecv + idle
	dlFrame               // a frame started: its start + frame
)

// Reader decodes frames from an io.Reader in place.
//
// Memory ownership: the Reader owns one read buffer. It starts at
// InitialBufferSize bytes and doubles, up to the bufSize given to
// NewReader, whenever a read fills it to the end: its size follows the bytes
// that actually arrived, never a length a header claims. A frame that fits
// in it is returned as a slice of that buffer, with no copy and no
// allocation. A frame larger than bufSize is read into a buffer taken from a
// package-level sync.Pool, which the Reader returns to the pool at the next
// call to Next; when the pool has none big enough, that buffer too grows by
// doubling as the body's bytes arrive, so a header alone costs nothing.
// Either way the body returned by Next is owned by the Reader and valid only
// until the next call to Next: a caller that keeps any of it must copy it.
//
// A Reader is not safe for concurrent use, except IdleFor.
type Reader struct {
	rd    io.Reader
	buf   []byte
	r, w  int // buf[r:w] holds the bytes read but not yet returned
	limit int // the largest len(buf) may grow to
	max   int
	grow  bool // the last read filled buf to its end: double it before the next

	big *[]byte // the previous frame's buffer, if it did not fit in buf

	// lastRecv is when a read last returned bytes, in nanoseconds since
	// epoch. Written by Next's goroutine, read by IdleFor from any.
	lastRecv atomic.Int64

	dl          deadliner
	idle, frame time.Duration
	dlKind      dlKind // the deadline set on dl
	frameDL     bool   // the current (partial) frame's deadline is set

	err error // sticky: once a Next failed, every later Next fails the same way
}

// NewReader returns a Reader that reads from r through a read buffer of at
// most bufSize bytes and rejects frames whose body is longer than maxFrame
// bytes. bufSize below HeaderSize is raised to HeaderSize; frames larger than
// the buffer are still read (see Reader), so the buffer size is a speed and
// memory setting only. It panics if maxFrame is negative or above MaxLimit.
func NewReader(r io.Reader, bufSize, maxFrame int) *Reader {
	if maxFrame < 0 || maxFrame > MaxLimit {
		panic(fmt.Sprintf("frame: maximum frame size %d out of range [0, %d]", maxFrame, MaxLimit))
	}
	bufSize = max(bufSize, HeaderSize)
	rd := &Reader{rd: r, buf: make([]byte, min(bufSize, InitialBufferSize)), limit: bufSize, max: maxFrame}
	rd.lastRecv.Store(int64(time.Since(epoch)))
	return rd
}

// SetTimeouts bounds how long the Reader waits, if the underlying reader has a
// SetReadDeadline method (net.Conn does); otherwise it has no effect.
//
// idle is the longest Next may wait for a frame to start after the last
// bytes received (which completed a frame) when nothing is buffered; frame is
// the longest it may then wait for the rest of that frame, measured from the
// first read that found it incomplete, however the bytes trickle in. The
// second bound is what stops a slow-loris sender that keeps a connection
// alive with one byte now and then. Zero disables either. A read that times
// out fails Next with an error wrapping os.ErrDeadlineExceeded.
//
// The idle deadline is set once and, when it expires on a connection that
// received bytes meanwhile, moved to idle past them: a busy connection costs
// one SetReadDeadline per idle period, not one per read.
func (r *Reader) SetTimeouts(idle, frame time.Duration) {
	r.dl, _ = r.rd.(deadliner)
	r.idle, r.frame = idle, frame
}

// Buffered returns the number of bytes read from the underlying reader but not
// yet returned as frames.
func (r *Reader) Buffered() int { return r.w - r.r }

// BufferSize returns the current size of the read buffer, in bytes.
func (r *Reader) BufferSize() int { return len(r.buf) }

// IdleFor returns how long ago a read last returned bytes (or the Reader was
// made, if none has). It is safe to call concurrently with Next: a server
// uses it to pick the longest-idle connection to close.
func (r *Reader) IdleFor() time.Duration {
	return time.Since(epoch) - time.Duration(r.lastRecv.Load())
}

// Next returns the next frame's type and body. The body is valid only until
// the next call to Next (see Reader for who owns it).
//
// At a clean end of stream between frames Next returns io.EOF. A stream that
// ends inside a frame is ErrMalformed wrapping io.ErrUnexpectedEOF; a length
// above the maximum is ErrFrameTooLarge; read errors are returned wrapped.
// After any error every later call returns the same error.
func (r *Reader) Next() (typ byte, body []byte, err error) {
	if r.big != nil {
		bigPool.Put(r.big)
		r.big = nil
	}
	if r.err != nil {
		return 0, nil, r.err
	}
	for {
		typ, body, n, need, err := Decode(r.buf[r.r:r.w], r.max)
		if err != nil {
			r.err = err
			return 0, nil, err
		}
		if n > 0 {
			r.r += n
			if r.r == r.w {
				r.r, r.w = 0, 0 // cheap reset keeps later frames from wrapping
			}
			r.frameDL = false
			return typ, body, nil
		}
		if r.r+need > len(r.buf) && r.r > 0 {
			r.w = copy(r.buf, r.buf[r.r:r.w])
			r.r = 0
		}
		if r.w == len(r.buf) {
			// Full of one incomplete frame: a larger buffer is paid for by
			// the bytes already here.
			if len(r.buf) < r.limit {
				r.growBuf()
				continue
			}
			return r.nextBig(need)
		}
		if err := r.fill(); err != nil {
			r.err = err
			return 0, nil, err
		}
	}
}

// growBuf doubles the read buffer, up to its limit, keeping what it holds.
func (r *Reader) growBuf() {
	b := make([]byte, min(2*len(r.buf), r.limit))
	r.w = copy(b, r.buf[r.r:r.w])
	r.r = 0
	r.buf = b
	r.grow = false
}

// nextBig reads a frame of need bytes (header included) that does not fit in
// the read buffer, which is full of its first bytes, into a pooled buffer.
// The pooled buffer has room for a read buffer's worth beyond the frame, so
// the reads that complete the frame may also fetch what follows it (copied
// back into the read buffer) instead of stopping exactly at the frame's end:
// streams of large frames then cost no more read syscalls than small ones.
// When the pool has no buffer that big, the frame's buffer starts at twice
// the bytes here and doubles as more arrive: memory follows what the sender
// sent, not what its header claims.
func (r *Reader) nextBig(need int) (byte, []byte, error) {
	size := need + len(r.buf)
	big, _ := bigPool.Get().(*[]byte)
	// A pooled buffer that holds the frame will do, read-ahead room or not:
	// the one this loop grew last time may be just short of size.
	if big == nil || cap(*big) < need {
		if big != nil {
			bigPool.Put(big)
		}
		b := make([]byte, min(size, max(2*(r.w-r.r), minBigStep)))
		big = &b
	}
	buf := (*big)[:min(cap(*big), size)]
	have := copy(buf, r.buf[r.r:r.w])
	r.r, r.w = 0, 0
	r.big = big
	r.setDeadline(true)
	for have < need {
		if have == len(buf) {
			// The outgrown buffer is left to the GC rather than pooled:
			// the pool should offer buffers that fit whole frames.
			b := make([]byte, min(size, 2*len(buf)))
			copy(b, buf)
			big = &b
			r.big = big
			buf = b
		}
		n, err := r.read(buf[have:])
		have += n
		if err != nil {
			if n > 0 && err == io.EOF && have >= need {
				break
			}
			r.err = r.readErr(err, true)
			return 0, nil, r.err
		}
	}
	r.w = copy(r.buf, buf[need:have])
	r.frameDL = false
	return buf[4], buf[HeaderSize:need:need], nil
}

// read reads once into p, stamping lastRecv when bytes arrive and moving an
// idle deadline that expired although bytes arrived since it was set.
func (r *Reader) read(p []byte) (int, error) {
	for range 100 {
		n, err := r.rd.Read(p)
		if n > 0 {
			r.lastRecv.Store(int64(time.Since(epoch)))
		}
		if err != nil && n == 0 && r.dlKind == dlIdle && errors.Is(err, os.ErrDeadlineExceeded) {
			due := time.Duration(r.lastRecv.Load()) + r.idle
			if time.Since(epoch) < due {
				_ = r.dl.SetReadDeadline(epoch.Add(due))
				continue
			}
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, fmt.Errorf("%w: read: %w", ErrMalformed, io.ErrNoProgress)
}

// fill reads once into the free end of the buffer, after doubling it if the
// last read filled it to the end (the sender has more queued than it holds).
func (r *Reader) fill() error {
	if r.grow && len(r.buf) < r.limit {
		r.growBuf()
	}
	partial := r.w > r.r
	r.setDeadline(partial)
	n, err := r.read(r.buf[r.w:])
	r.w += n
	r.grow = r.w == len(r.buf)
	if err != nil {
		if n > 0 && err == io.EOF {
			return nil // decode what arrived; the next fill sees EOF again
		}
		if errors.Is(err, io.ErrNoProgress) {
			return err
		}
		return r.readErr(err, partial || r.w > r.r)
	}
	return nil
}

func (r *Reader) readErr(err error, partial bool) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if partial {
			return fmt.Errorf("%w: stream ends inside a frame: %w", ErrMalformed, io.ErrUnexpectedEOF)
		}
		return io.EOF
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		switch {
		case partial && r.dlKind == dlFrame:
			return fmt.Errorf("frame: frame not complete within %v: %w", r.frame, err)
		case !partial && r.dlKind == dlIdle:
			return fmt.Errorf("frame: no frame for %v: %w", r.idle, err)
		}
		// A deadline the Reader did not set (a handshake's, on the
		// connection): its owner knows what it bounded.
		return fmt.Errorf("frame: read: %w", err)
	}
	return fmt.Errorf("frame: read: %w", err)
}

// setDeadline arms the idle or the per-frame deadline before a read. The
// per-frame deadline is set once per frame and not pushed back by later
// reads; the idle deadline is set once and moved only when it expires (see
// read).
func (r *Reader) setDeadline(partial bool) {
	if r.dl == nil {
		return
	}
	switch {
	case partial && r.frameDL:
		// Keep the deadline set when this frame started.
	case partial && r.frame > 0:
		r.frameDL = true
		r.dlKind = dlFrame
		_ = r.dl.SetReadDeadline(time.Now().Add(r.frame))
	case !partial && r.idle > 0:
		if r.dlKind != dlIdle {
			r.dlKind = dlIdle
			_ = r.dl.SetReadDeadline(epoch.Add(time.Duration(r.lastRecv.Load()) + r.idle))
		}
	case r.dlKind != dlNone:
		r.dlKind = dlNone
		_ = r.dl.SetReadDeadline(time.Time{})
	}
}

// SetMaxFrame changes the largest body the Reader accepts from the next frame
// on. A handshake uses it to read a stranger's first frame under a small
// limit before granting the connection's full one. It panics like NewReader
// on a value out of range.
func (r *Reader) SetMaxFrame(maxFrame int) {
	if maxFrame < 0 || maxFrame > MaxLimit {
		panic(fmt.Sprintf("frame: maximum frame size %d out of range [0, %d]", maxFrame, MaxLimit))
	}
	r.max = maxFrame
}
