package frame

// Frame layout (every connection, both directions):
//
//	 0               1               2               3               4               5
//	+---------------+---------------+---------------+---------------+---------------+------ ... ------+
//	|                body length n (uint32, big-endian)             |     type      |  body: n bytes  |
//	+---------------+---------------+---------------+---------------+---------------+------ ... ------+
//	 <------------------------------ HeaderSize = 5 bytes ------------------------->
//
// n counts the body only (not the header). n = 0 is a valid, empty body.
// n > the reader's maximum frame size is rejected with ErrFrameTooLarge as soon
// as the four length bytes are read, before the body is read or any memory is
// set aside for it. The type byte is opaque to this package.

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderSize is the size of a frame header: the 4-byte length and the type byte.
const HeaderSize = 5

// MaxLimit is the largest maximum frame size a reader or writer may be
// configured with: the length prefix is 32 bits, and keeping one bit spare
// keeps n+HeaderSize inside an int32 on every platform.
const MaxLimit = 1<<31 - 1 - HeaderSize

// DefaultMaxFrame is the default maximum body size: 4 MiB, comfortably above a
// full batch of commands or a small snapshot chunk.
const DefaultMaxFrame = 4 << 20

var (
	// ErrFrameTooLarge reports a length prefix above the configured maximum.
	// The connection carrying it cannot be resynchronised and must be closed.
	ErrFrameTooLarge = errors.New("frame: frame too large")
	// ErrMalformed reports bytes that are not a frame stream, such as a stream
	// that ends in the middle of a frame (it then also wraps io.ErrUnexpectedEOF).
	ErrMalformed = errors.New("frame: malformed frame")
)

// AppendHeader appends the header of a frame of type typ with a body of
// bodyLen bytes to dst and returns the extended slice. The body itself is not
// copied: the caller writes it after the header (writev keeps the two apart).
// It panics if bodyLen is negative or above MaxLimit: a caller that builds such
// a body has a bug, and no reader would accept the frame.
func AppendHeader(dst []byte, typ byte, bodyLen int) []byte {
	if bodyLen < 0 || bodyLen > MaxLimit {
		panic(fmt.Sprintf("frame: body length %d out of range [0, %d]", bodyLen, MaxLimit))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(bodyLen))
	return append(dst, typ)
}

// Decode decodes the frame at the start of b without copying: body aliases b.
// n is the number of bytes the frame occupies (HeaderSize + len(body)). If b
// holds only part of a frame, Decode returns n = 0 and err = nil with need set
// to the total number of bytes the frame needs (need <= HeaderSize when even
// the header is incomplete). A length above maxFrame is ErrFrameTooLarge.
func Decode(b []byte, maxFrame int) (typ byte, body []byte, n, need int, err error) {
	if len(b) < HeaderSize {
		return 0, nil, 0, HeaderSize, nil
	}
	l := binary.BigEndian.Uint32(b)
	if uint64(l) > uint64(maxFrame) {
		return 0, nil, 0, 0, fmt.Errorf("%w: length %d exceeds maximum %d", ErrFrameTooLarge, l, maxFrame)
	}
	total := HeaderSize + int(l)
	if len(b) < total {
		return 0, nil, 0, total, nil
	}
	return b[4], b[HeaderSize:total:total], total, total, nil
}
