package resp

// Request format: what a Redis client sends (RESP's "array of bulk
// strings"), the only form this server reads:
//
//	*<n>\r\n                    n arguments, 1 <= n <= MaxArgs
//	$<len>\r\n<len bytes>\r\n   one per argument, 0 <= len <= MaxRequest
//	...
//
// Redis's "inline" commands (a line of space-separated words, for telnet)
// are not read: every Redis client library, redis-cli and redis-benchmark
// send arrays, and without inline commands any byte but '*' where a
// command starts is an error, so binary garbage closes the connection at
// its first byte instead of being taken for commands.
//
// Bounds: a header line (*<n> or $<len>) longer than maxHeader bytes
// without its CRLF is an error, so is a count or length out of range, and
// a command whose header-announced size passes MaxRequest is refused as
// soon as the header that crosses it arrives, before its bytes do. The
// buffer grows only as bytes arrive and never past MaxRequest plus one
// read, whatever the lengths claim. Parsing resumes where it stopped when
// a command arrives in pieces, so a command sent a byte at a time costs
// linear time, not quadratic.

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// ErrProtocol is wrapped by every violation of the request format; the
// connection that sent it is closed.
var ErrProtocol = errors.New("resp: protocol error")

// maxHeader is the longest header line accepted, CRLF included: '*' or '$'
// and 19 digits (up to 2^63) fit.
const maxHeader = 32

// minBuffer is a connection's read buffer when it holds no large command.
const minBuffer = 4 << 10

// reader parses requests from a connection. The arguments it returns alias
// its buffer and are valid until the next call to fill.
type reader struct {
	rd         io.Reader
	held       *atomic.Int64 // the server's total of read buffer bytes
	buf        []byte        // unread bytes are buf[start:end]
	start, end int
	maxArgs    int
	maxRequest int

	// Progress through the command at buf[start:], kept across fills.
	count int   // arguments announced; 0: the array header is not read yet
	pos   int   // offset from start of the next unparsed byte
	size  int   // bytes announced so far (headers and bulk lengths)
	marks []int // offsets from start of each parsed argument's first and end byte
	args  [][]byte
}

func newReader(rd io.Reader, held *atomic.Int64, maxArgs, maxRequest int) *reader {
	r := &reader{rd: rd, held: held, maxArgs: maxArgs, maxRequest: maxRequest}
	r.setBuf(make([]byte, minBuffer))
	return r
}

// setBuf replaces the buffer (nil: releases it), keeping held up to date.
func (r *reader) setBuf(b []byte) {
	r.held.Add(int64(len(b) - len(r.buf)))
	r.buf = b
}

func protocolErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// next returns the next complete command in the buffer, or nil if the
// buffer holds none yet (call fill), or a protocol error.
func (r *reader) next() ([][]byte, error) {
	b := r.buf[r.start:r.end]
	if r.count == 0 {
		if len(b) == 0 {
			return nil, nil
		}
		if b[0] != '*' {
			return nil, protocolErr("expected '*', got %q", b[0])
		}
		n, k, err := header(b, r.maxRequest)
		if err != nil || k == 0 {
			return nil, err
		}
		if n < 1 || n > r.maxArgs {
			return nil, protocolErr("%d arguments, want 1 to %d", n, r.maxArgs)
		}
		r.count, r.pos, r.size = n, k, k
		r.marks = r.marks[:0]
	}
	for len(r.marks) < 2*r.count {
		rest := b[r.pos:]
		if len(rest) == 0 {
			return nil, nil
		}
		if rest[0] != '$' {
			return nil, protocolErr("expected '$', got %q", rest[0])
		}
		l, k, err := header(rest, r.maxRequest)
		if err != nil || k == 0 {
			return nil, err
		}
		if l < 0 {
			return nil, protocolErr("bulk length %d", l)
		}
		// Checked on the announced size, before the bytes come.
		if r.size+k+l+2 > r.maxRequest {
			return nil, protocolErr("command larger than %d bytes", r.maxRequest)
		}
		if len(rest) < k+l+2 {
			return nil, nil
		}
		if rest[k+l] != '\r' || rest[k+l+1] != '\n' {
			return nil, protocolErr("bulk string not followed by CRLF")
		}
		r.marks = append(r.marks, r.pos+k, r.pos+k+l)
		r.pos += k + l + 2
		r.size += k + l + 2
	}
	r.args = r.args[:0]
	for i := 0; i < len(r.marks); i += 2 {
		r.args = append(r.args, b[r.marks[i]:r.marks[i+1]:r.marks[i+1]])
	}
	r.start += r.pos
	r.count, r.pos = 0, 0
	return r.args, nil
}

// header parses "<c><decimal>\r\n" at b's start: the value and the line's
// length, or k 0 if the line is incomplete.
func header(b []byte, maxValue int) (v, k int, err error) {
	for i := 1; i < len(b) && i < maxHeader; i++ {
		if b[i] != '\n' {
			continue
		}
		if b[i-1] != '\r' || i < 3 {
			return 0, 0, protocolErr("bad %q header", b[0])
		}
		digits := b[1 : i-1]
		neg := false
		if digits[0] == '-' {
			neg, digits = true, digits[1:]
		}
		if len(digits) == 0 || len(digits) > 19 {
			return 0, 0, protocolErr("bad %q header", b[0])
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				return 0, 0, protocolErr("bad %q header", b[0])
			}
			if v > maxValue {
				return 0, 0, protocolErr("%q header's value is above %d", b[0], maxValue)
			}
			v = v*10 + int(c-'0')
		}
		if neg {
			v = -v
		}
		return v, i + 1, nil
	}
	if len(b) >= maxHeader {
		return 0, 0, protocolErr("%q header line longer than %d bytes", b[0], maxHeader)
	}
	return 0, 0, nil
}

// fill reads more bytes, first moving the unread ones to the buffer's
// front, and growing the buffer (up to MaxRequest plus minBuffer) only if
// a command in progress fills it.
func (r *reader) fill() error {
	if r.start == r.end {
		r.start, r.end = 0, 0
		if len(r.buf) > minBuffer && r.count == 0 {
			r.setBuf(make([]byte, minBuffer)) // a large command is done: give back its memory
		}
	} else if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if r.end == len(r.buf) {
		n := min(2*len(r.buf), r.maxRequest+minBuffer)
		if n <= len(r.buf) {
			// next refuses a command announced past MaxRequest, so a
			// full buffer of that size is a parser bug, not input.
			panic(fmt.Sprintf("resp: read buffer full at %d bytes with MaxRequest %d", len(r.buf), r.maxRequest))
		}
		nb := make([]byte, n)
		copy(nb, r.buf[:r.end])
		r.setBuf(nb)
	}
	n, err := r.rd.Read(r.buf[r.end:])
	r.end += n
	if n > 0 {
		return nil
	}
	return err
}

// buffered reports whether unparsed bytes wait in the buffer.
func (r *reader) buffered() bool { return r.start < r.end }
