package sm

// Command header: how every command the runtime orders begins, in a batch
// of the replicated log and in a request on the client port.
//
//	 0      1                   9                   17
//	 +------+-------------------+-------------------+-------------+-------------+-----+--------------+
//	 |  op  |  ClientID u64 LE  |  Token u64 LE     | Seq uvarint | len(Key) uv | Key | body (rest)  |
//	 +------+-------------------+-------------------+-------------+-------------+-----+--------------+
//
// op and body are the machine's: the runtime reads the session fields (for
// exactly-once) and the key (to route the command to its group: package
// route), nothing else. ClientID 0 or Seq 0 means no session: the command
// executes every time it is applied. Uvarints must be minimal, so every
// header has one encoding.

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderFixed is the size of a header's fixed-width part: op, ClientID,
// Token.
const HeaderFixed = 1 + 8 + 8

// Header is the part of a command the runtime reads.
type Header struct {
	Op       byte
	ClientID uint64
	Token    uint64
	Seq      uint64
	// Key routes the command to its group; it aliases the command.
	Key []byte
}

// HasSession reports whether the command runs in a session (exactly once).
func (h *Header) HasSession() bool { return h.ClientID != 0 && h.Seq != 0 }

// ErrMalformed reports a command whose header does not follow its format.
var ErrMalformed = errors.New("sm: malformed command")

// DecodeHeader decodes the header at the start of cmd and returns it and
// the body after it, both aliasing cmd. It copies and allocates nothing.
func DecodeHeader(cmd []byte) (Header, []byte, error) {
	if len(cmd) < HeaderFixed {
		return Header{}, nil, fmt.Errorf("%w: %d bytes, shorter than op, client id and token", ErrMalformed, len(cmd))
	}
	h := Header{
		Op:       cmd[0],
		ClientID: binary.LittleEndian.Uint64(cmd[1:]),
		Token:    binary.LittleEndian.Uint64(cmd[9:]),
	}
	b := cmd[HeaderFixed:]
	var k int
	if h.Seq, k = binary.Uvarint(b); k <= 0 || k != uvarintLen(h.Seq) {
		return Header{}, nil, fmt.Errorf("%w: seq: bad uvarint", ErrMalformed)
	}
	b = b[k:]
	l, k := binary.Uvarint(b)
	if k <= 0 || k != uvarintLen(l) {
		return Header{}, nil, fmt.Errorf("%w: key length: bad uvarint", ErrMalformed)
	}
	b = b[k:]
	if l > uint64(len(b)) {
		return Header{}, nil, fmt.Errorf("%w: key: length %d, only %d bytes left", ErrMalformed, l, len(b))
	}
	h.Key = b[:l:l]
	return h, b[l:], nil
}

// decodeSession decodes the session part of a header (op, ClientID, Token,
// Seq) and nothing after it: what the apply path needs, at half
// DecodeHeader's cost. The key and body are the machine's to check.
func decodeSession(cmd []byte, h *Header) bool {
	if len(cmd) < HeaderFixed+1 {
		return false
	}
	h.Op = cmd[0]
	h.ClientID = binary.LittleEndian.Uint64(cmd[1:])
	h.Token = binary.LittleEndian.Uint64(cmd[9:])
	if b := cmd[HeaderFixed]; b < 0x80 {
		h.Seq = uint64(b) // the common case: a one-byte Seq
		return true
	}
	var k int
	h.Seq, k = binary.Uvarint(cmd[HeaderFixed:])
	return k > 0 && k == uvarintLen(h.Seq)
}

// AppendHeader appends h's encoding to dst; the body goes after it.
func AppendHeader(dst []byte, h *Header) []byte {
	dst = append(dst, h.Op)
	dst = binary.LittleEndian.AppendUint64(dst, h.ClientID)
	dst = binary.LittleEndian.AppendUint64(dst, h.Token)
	dst = binary.AppendUvarint(dst, h.Seq)
	dst = binary.AppendUvarint(dst, uint64(len(h.Key)))
	return append(dst, h.Key...)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
