package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Reserved frame types. Peer connections (Peers) reserve every type from
// FirstReservedType to 0xFF for the transport's own use: today the three
// handshake frames below, which appear only as the first frame in each
// direction, and the keepalive. Peers.Send panics on a reserved type, and a
// reserved type other than the keepalive arriving after the handshake closes
// the connection. Client connections
// (Listen, Dial) have no handshake and reserve nothing: all 256 type values
// are the caller's.
const (
	FirstReservedType byte = 0xF0

	// TypeHello is the dialling node's first frame: handshake body below.
	TypeHello byte = 0xFF
	// TypeWelcome is the accepting node's answer to an acceptable Hello:
	// the same body layout, from the acceptor's point of view.
	TypeWelcome byte = 0xFE
	// TypeRefuse is the accepting node's answer to an unacceptable Hello:
	// the body is the reason as UTF-8 text. The acceptor closes right after.
	TypeRefuse byte = 0xFD
	// TypeKeepalive has an empty body. A peer connection's writer sends it
	// after IdleTimeout/3 without writing anything else, so the other end's
	// IdleTimeout closes only connections whose peer is gone, not quiet
	// ones (two followers have nothing to say to each other). The receiver
	// drops it.
	TypeKeepalive byte = 0xFC
)

// Handshake body (TypeHello and TypeWelcome), all integers big-endian:
//
//	 0      4      6               14              22              30       34
//	+------+------+---------------+---------------+---------------+--------+
//	| "mpx"| ver  |  cluster id   |  sender id    |  receiver id  | groups |
//	| + 1  |uint16|    uint64     |    uint64     |    uint64     | uint32 |
//	+------+------+---------------+---------------+---------------+--------+
//
// magic is the four bytes "mpx1"; ver is handshakeVersion. The receiver id is
// the id the sender believes the other end has, so a node reached at a stale
// address (another node now listens there) is refused, not adopted. groups
// is the number of Paxos groups the sender runs (PeersConfig.Groups): the
// members of a cluster must agree on it, or they would route keys to
// different groups.
const (
	handshakeMagic   = "mpx1"
	handshakeVersion = 2
	handshakeSize    = 34
	maxRefuseReason  = 256
)

// ErrHandshake wraps every handshake failure: malformed, from another
// cluster, from an unexpected node, or refused by the other end.
var ErrHandshake = errors.New("transport: handshake failed")

type hello struct {
	cluster, from, to uint64
	groups            uint32
}

func (h hello) append(dst []byte) []byte {
	dst = append(dst, handshakeMagic...)
	dst = binary.BigEndian.AppendUint16(dst, handshakeVersion)
	dst = binary.BigEndian.AppendUint64(dst, h.cluster)
	dst = binary.BigEndian.AppendUint64(dst, h.from)
	dst = binary.BigEndian.AppendUint64(dst, h.to)
	return binary.BigEndian.AppendUint32(dst, h.groups)
}

func parseHello(b []byte) (hello, error) {
	if len(b) != handshakeSize || string(b[:4]) != handshakeMagic {
		return hello{}, fmt.Errorf("%w: not an mpaxos handshake (%d bytes)", ErrHandshake, len(b))
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != handshakeVersion {
		return hello{}, fmt.Errorf("%w: handshake version %d, want %d", ErrHandshake, v, handshakeVersion)
	}
	return hello{
		cluster: binary.BigEndian.Uint64(b[6:]),
		from:    binary.BigEndian.Uint64(b[14:]),
		to:      binary.BigEndian.Uint64(b[22:]),
		groups:  binary.BigEndian.Uint32(b[30:]),
	}, nil
}
