package kv

// Client wire protocol: the bodies of the frames on the client port (the
// transport's framing adds length and type byte around them).
//
// FrameRequest (client -> node):
//
//	 0                    8         9
//	 +--------------------+---------+--------------------------------+
//	 |  ReqID  u64 LE     |  flags  |  Cmd (command format, rest)    |
//	 +--------------------+---------+--------------------------------+
//	 flags: bit 0    = stale (ReadStale: a get may be answered from this
//	                   node's state without going through the leader);
//	        bits 1-2 = read mode of a get: 0 the node's default, 1 log,
//	                   2 index, 3 lease (ReadLog, ReadIndex, ReadLease);
//	                   0 when bit 0 is set;
//	        other bits must be 0. Requests of clients older than read modes
//	        (flags 0 or 1) decode as before.
//
// The command is the rest of the body, in exactly the format that goes into
// a batch, so a node can hand body[RequestHeaderSize:] to the batcher
// without re-encoding it.
//
// FrameResponse (node -> client):
//
//	 0                    8        9          11           13
//	 +--------------------+--------+----------+------------+----------------+
//	 |  ReqID  u64 LE     | status | Node u16 | Leader u16 |  Value (rest)  |
//	 +--------------------+--------+----------+------------+----------------+
//
// ReqID is chosen by the client and echoed, so one connection carries many
// outstanding requests of many sessions. Node is the responder, Leader its
// best guess of the leader (0: unknown), which a client follows on
// StatusNotLeader.
//
// A StatusNotLeader response of a node running several Paxos groups names
// the leader of the request key's group, and its Value says which group
// and how many the cluster runs (NotLeaderInfo), so a client learns the
// group count from its first redirect:
//
//	 0            2             4
//	 +------------+-------------+
//	 | group u16  | groups u16  |   (little-endian)
//	 +------------+-------------+
//
// A node with one group sends an empty Value, as nodes always did, and a
// client that ignores the Value of a redirect (an older one) still
// follows Leader.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/mpaxos/mpaxos/sm"
)

// Frame type bytes on the client port. They start at 16 so they never clash
// with the types the transport reserves for its own handshake.
const (
	FrameRequest  byte = 16
	FrameResponse byte = 17
)

// RequestHeaderSize is the size of a Request body before its command.
const RequestHeaderSize = 9

// ResponseHeaderSize is the size of a Response body before its value.
const ResponseHeaderSize = 13

// Status is the outcome of a command (in a Result) or of a request (in a
// Response): sm.Status, whose values are the wire's.
type Status = sm.Status

// The statuses (sm's), under the names this package always had.
const (
	StatusOK         = sm.StatusOK
	StatusNotFound   = sm.StatusNotFound
	StatusCASFailed  = sm.StatusCASFailed
	StatusStale      = sm.StatusStale
	StatusNotLeader  = sm.StatusNotLeader
	StatusRetry      = sm.StatusRetry
	StatusBadRequest = sm.StatusBadRequest
	StatusNoSpace    = sm.StatusNoSpace
	StatusNotOwner   = sm.StatusNotOwner
	StatusRemoved    = sm.StatusRemoved
)

// ReadMode says how a get is made linearizable, or that it need not be.
// Only gets look at it.
type ReadMode uint8

const (
	// ReadDefault leaves the choice to the node (its -read-mode).
	ReadDefault ReadMode = iota
	// ReadLog orders the get through the log like a write: a batch slot,
	// replicated and synced on every node.
	ReadLog
	// ReadIndex has the leader confirm its leadership with one heartbeat
	// round a majority acknowledges, then answer from its state machine:
	// no log entry, no disk write.
	ReadIndex
	// ReadLease has a leader holding a lease answer at once from its
	// state machine (it falls back to ReadIndex outside the lease). It is
	// linearizable only while the nodes' clocks run at rates within the
	// node's -max-clock-drift of each other.
	ReadLease
	// ReadStale lets the receiving node, leader or not, answer from its
	// own state, which may lag behind the leader's: NOT linearizable (a
	// stale read may miss writes that completed before it was sent).
	ReadStale
)

// readModes is the table of read modes by name, from which parsing and
// String are derived; the index is the ReadMode.
var readModes = [...]string{ReadDefault: "default", ReadLog: "log", ReadIndex: "index", ReadLease: "lease", ReadStale: "stale"}

// String returns the mode's name ("log", "index", ...).
func (m ReadMode) String() string {
	if int(m) < len(readModes) {
		return readModes[m]
	}
	return fmt.Sprintf("readmode(%d)", uint8(m))
}

// ErrReadMode is returned by ParseReadMode for a name it does not know.
var ErrReadMode = errors.New("kv: unknown read mode")

// ParseReadMode returns the mode named s (String's names).
func ParseReadMode(s string) (ReadMode, error) {
	for m, name := range readModes {
		if s == name {
			return ReadMode(m), nil
		}
	}
	return 0, fmt.Errorf("%w %q (want %s)", ErrReadMode, s, ReadModeNames())
}

// ReadModeNames lists the modes' names as "default|log|index|lease|stale".
func ReadModeNames() string { return strings.Join(readModes[:], "|") }

// Linearizable reports whether a get in mode m sees every write that
// completed before it was sent (ReadDefault: whatever the node chooses,
// which is always one of the linearizable modes).
func (m ReadMode) Linearizable() bool { return m != ReadStale }

// Request is the body of a FrameRequest.
type Request struct {
	ReqID uint64
	// Read is how a get is to be served; ReadDefault leaves it to the
	// node. Other commands ignore it.
	Read ReadMode
	// Cmd is the command; on the wire it is the rest of the body.
	Cmd Command
}

const (
	flagStale     = 1
	flagModeShift = 1
	flagModeMask  = 3 << flagModeShift
)

// AppendRequest appends r's encoding to dst. A Read beyond ReadStale
// encodes as ReadDefault.
func AppendRequest(dst []byte, r *Request) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, r.ReqID)
	var flags byte
	switch {
	case r.Read == ReadStale:
		flags = flagStale
	case r.Read <= ReadLease:
		flags = byte(r.Read) << flagModeShift
	}
	dst = append(dst, flags)
	return AppendCommand(dst, &r.Cmd)
}

// DecodeRequest decodes a request body without copying: the command's
// fields alias b. On success b[RequestHeaderSize:] is the encoded command.
func DecodeRequest(b []byte) (Request, error) {
	reqID, mode, err := DecodeRequestHeader(b)
	if err != nil {
		return Request{}, err
	}
	cmd, err := DecodeCommand(b[RequestHeaderSize:])
	if err != nil {
		return Request{}, err
	}
	return Request{ReqID: reqID, Read: mode, Cmd: cmd}, nil
}

// DecodeRequestHeader decodes the part of a request body before its
// command, b[RequestHeaderSize:], which it leaves to the machine's Check
// (a node runs any sm.Machine behind this wire format; kv's commands are
// one kind of command it carries).
func DecodeRequestHeader(b []byte) (reqID uint64, mode ReadMode, err error) {
	if len(b) < RequestHeaderSize {
		return 0, 0, malformed("request", "%d bytes, shorter than its header", len(b))
	}
	flags := b[8]
	if flags&^(flagStale|flagModeMask) != 0 {
		return 0, 0, malformed("request", "unknown flags %#x", flags)
	}
	mode = ReadMode(flags&flagModeMask) >> flagModeShift
	if flags&flagStale != 0 {
		if mode != ReadDefault {
			return 0, 0, malformed("request", "flags %#x ask for a stale read and read mode %v", flags, mode)
		}
		mode = ReadStale
	}
	return binary.LittleEndian.Uint64(b), mode, nil
}

// Response is the body of a FrameResponse.
type Response struct {
	ReqID  uint64
	Status Status
	// Node is the responding node, Leader the leader it knows (0: none).
	Node, Leader uint16
	// Value is the value read (StatusOK on a get) or found (StatusCASFailed).
	Value []byte
}

// AppendResponse appends r's encoding to dst.
func AppendResponse(dst []byte, r *Response) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, r.ReqID)
	dst = append(dst, byte(r.Status))
	dst = binary.LittleEndian.AppendUint16(dst, r.Node)
	dst = binary.LittleEndian.AppendUint16(dst, r.Leader)
	return append(dst, r.Value...)
}

// DecodeResponse decodes a response body without copying: Value aliases b
// (nil when empty).
func DecodeResponse(b []byte) (Response, error) {
	if len(b) < ResponseHeaderSize {
		return Response{}, malformed("response", "%d bytes, shorter than its header", len(b))
	}
	r := Response{
		ReqID:  binary.LittleEndian.Uint64(b),
		Status: Status(b[8]),
		Node:   binary.LittleEndian.Uint16(b[9:]),
		Leader: binary.LittleEndian.Uint16(b[11:]),
	}
	if !r.Status.Valid() {
		return Response{}, malformed("response", "unknown status %d", b[8])
	}
	if len(b) > ResponseHeaderSize {
		r.Value = b[ResponseHeaderSize:len(b):len(b)]
	}
	return r, nil
}

// NotLeaderInfo is the Value of a StatusNotLeader response from a node
// running several groups: the request key's group (0-based) and the
// cluster's group count.
type NotLeaderInfo struct{ Group, Groups uint16 }

// NotLeaderInfoSize is the encoded size of a NotLeaderInfo.
const NotLeaderInfoSize = 4

// AppendNotLeaderInfo appends i's encoding to dst.
func AppendNotLeaderInfo(dst []byte, i NotLeaderInfo) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, i.Group)
	return binary.LittleEndian.AppendUint16(dst, i.Groups)
}

// DecodeNotLeaderInfo decodes the Value of a StatusNotLeader response;
// false when it holds none (a node with one group) or is malformed (a
// group outside the count).
func DecodeNotLeaderInfo(v []byte) (NotLeaderInfo, bool) {
	if len(v) != NotLeaderInfoSize {
		return NotLeaderInfo{}, false
	}
	i := NotLeaderInfo{Group: binary.LittleEndian.Uint16(v), Groups: binary.LittleEndian.Uint16(v[2:])}
	return i, i.Groups > 0 && i.Group < i.Groups
}
