package frame

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
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

// deadliner is the part of net.Conn the Reader uses to bound slow senders.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// Reader decodes frames from an io.Reader in place.
//
// Memory ownership: the Reader owns one read buffer of bufSize bytes for its
// whole life. A frame that fits in it (HeaderSize+len(body) <= bufSize) is
// returned as a slice of that buffer, with no copy and no allocation. A larger
// frame is read into a buffer taken from a package-level sync.Pool, which the
// Reader returns to the pool at the next call to Next. Either way the
// body returned by Next is owned by the Reader and valid only until the next
// call to Next: a caller that keeps any of it must copy it.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	rd   io.Reader
	buf  []byte
	r, w int // buf[r:w] holds the bytes read but not yet returned
	max  int

	big *[]byte // the previous frame's buffer, if it did not fit in buf

	dl          deadliner
	idle, frame time.Duration
	dlFrame     bool // a deadline for the current (partial) frame is set
	dlSet       bool // some deadline is set on dl

	err error // sticky: once a Next failed, every later Next fails the same way
}

// NewReader returns a Reader that reads from r through a read buffer of
// bufSize bytes and rejects frames whose body is longer than maxFrame bytes.
// bufSize below HeaderSize is raised to HeaderSize; frames larger than the
// buffer are still read (see Reader), so the buffer size is a speed and memory
// setting only. It panics if maxFrame is negative or above MaxLimit.
func NewReader(r io.Reader, bufSize, maxFrame int) *Reader {
	if maxFrame < 0 || maxFrame > MaxLimit {
		panic(fmt.Sprintf("frame: maximum frame size %d out of range [0, %d]", maxFrame, MaxLimit))
	}
	bufSize = max(bufSize, HeaderSize)
	return &Reader{rd: r, buf: make([]byte, bufSize), max: maxFrame}
}

// SetTimeouts bounds how long the Reader waits, if the underlying reader has a
// SetReadDeadline method (net.Conn does); otherwise it has no effect.
//
// idle is the longest Next may wait for the first byte of a frame when nothing
// is buffered; frame is the longest it may then wait for the rest of that
// frame, measured from the first read that found it incomplete, however the
// bytes trickle in. The second bound is what stops a slow-loris sender that
// keeps a connection alive with one byte now and then. Zero disables either.
// A read that times out fails Next with an error wrapping os.ErrDeadlineExceeded.
func (r *Reader) SetTimeouts(idle, frame time.Duration) {
	r.dl, _ = r.rd.(deadliner)
	r.idle, r.frame = idle, frame
}

// Buffered returns the number of bytes read from the underlying reader but not
// yet returned as frames.
func (r *Reader) Buffered() int { return r.w - r.r }

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
			r.dlFrame = false
			return typ, body, nil
		}
		if need > len(r.buf) {
			return r.nextBig(need)
		}
		if r.r+need > len(r.buf) {
			r.w = copy(r.buf, r.buf[r.r:r.w])
			r.r = 0
		}
		if err := r.fill(); err != nil {
			r.err = err
			return 0, nil, err
		}
	}
}

// nextBig reads a frame of need bytes (header included) that does not fit in
// the read buffer into a pooled buffer; the buffered bytes are its start.
// The pooled buffer has room for a read buffer's worth beyond the frame, so
// the reads that complete the frame may also fetch what follows it (copied
// back into the read buffer) instead of stopping exactly at the frame's end:
// streams of large frames then cost no more read syscalls than small ones.
func (r *Reader) nextBig(need int) (byte, []byte, error) {
	size := need + len(r.buf)
	big, _ := bigPool.Get().(*[]byte)
	if big == nil || cap(*big) < size {
		b := make([]byte, size)
		big = &b
	}
	buf := (*big)[:size]
	have := copy(buf, r.buf[r.r:r.w])
	r.r, r.w = 0, 0
	r.big = big
	r.setDeadline(true)
	n, err := io.ReadAtLeast(r.rd, buf[have:], need-have)
	if err != nil {
		r.err = r.readErr(err, true)
		return 0, nil, r.err
	}
	r.w = copy(r.buf, buf[need:have+n])
	r.dlFrame = false
	return buf[4], buf[HeaderSize:need:need], nil
}

// fill reads once into the free end of the buffer.
func (r *Reader) fill() error {
	partial := r.w > r.r
	r.setDeadline(partial)
	for range 100 {
		n, err := r.rd.Read(r.buf[r.w:])
		r.w += n
		if err != nil {
			if n > 0 && err == io.EOF {
				return nil // decode what arrived; the next fill sees EOF again
			}
			return r.readErr(err, partial || r.w > r.r)
		}
		if n > 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: read: %w", ErrMalformed, io.ErrNoProgress)
}

func (r *Reader) readErr(err error, partial bool) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if partial {
			return fmt.Errorf("%w: stream ends inside a frame: %w", ErrMalformed, io.ErrUnexpectedEOF)
		}
		return io.EOF
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if partial {
			return fmt.Errorf("frame: frame not complete within %v: %w", r.frame, err)
		}
		return fmt.Errorf("frame: no frame for %v: %w", r.idle, err)
	}
	return fmt.Errorf("frame: read: %w", err)
}

// setDeadline arms the idle or the per-frame deadline before a read. The
// per-frame deadline is set once per frame and not pushed back by later reads.
func (r *Reader) setDeadline(partial bool) {
	if r.dl == nil {
		return
	}
	switch {
	case partial && r.dlFrame:
		// Keep the deadline set when this frame started.
	case partial && r.frame > 0:
		r.dlFrame = true
		r.dlSet = true
		_ = r.dl.SetReadDeadline(time.Now().Add(r.frame))
	case !partial && r.idle > 0:
		r.dlSet = true
		_ = r.dl.SetReadDeadline(time.Now().Add(r.idle))
	case r.dlSet:
		r.dlSet = false
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
