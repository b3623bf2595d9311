package kv

// Command format: what one client command looks like inside a batch in the
// replicated log (and inside a Request on the client port).
//
//	 0      1                   9                   17
//	 +------+-------------------+-------------------+-------------+------------+-------+
//	 |  op  |  ClientID u64 LE  |  Token u64 LE     | Seq uvarint | len(Key) uv|  Key  | ...
//	 +------+-------------------+-------------------+-------------+------------+-------+
//
//	 then, by op:
//	   OpGet, OpDelete:  nothing
//	   OpPut, OpPutNX, OpPutXX:
//	                     | len(Value) uv | Value |
//	   OpCAS:            | len(Expect) uv | Expect | len(Value) uv | Value |
//	   OpIncr:           | delta i64 LE (8) |
//	   OpMulti:          | len(Value) uv | Value |  (Value: the sub-commands, see multi.go)
//
// ClientID and Token are random (a varint would not shrink them); Seq counts
// up from 1, so a uvarint keeps it at one or two bytes. The Token is what
// makes a session the client's own (see doc.go, "Session ownership"): 8
// bytes per command, the price of a secret nobody can guess in the time a
// session lives. Fields an op does not use are not
// encoded, and a command must end exactly where its op says: trailing bytes,
// an unknown op, an overlong uvarint or a length running past the end are
// ErrMalformed. DecodeCommand copies nothing: Key, Value and Expect alias the
// input, with their capacity clipped.

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Op is a state machine operation.
type Op uint8

// The operations. Zero is not an op, so a zeroed Command is invalid.
const (
	// OpPut sets Key to Value.
	OpPut Op = 1
	// OpGet reads Key (through the log, hence linearizable).
	OpGet Op = 2
	// OpDelete removes Key.
	OpDelete Op = 3
	// OpCAS sets Key to Value if its current value equals Expect.
	OpCAS Op = 4
	// OpIncr adds Delta to the integer Key holds (a missing key counts as
	// 0) and stores the sum in decimal, as Redis's INCRBY does; the Result's
	// Value is the new value. A value that is not a decimal int64, or a sum
	// that would overflow, changes nothing and yields StatusCASFailed with
	// the current value. It is a state machine command, not a read followed
	// by a write, so concurrent increments never lose one.
	OpIncr Op = 5
	// OpPutNX sets Key to Value only if Key does not exist (Redis's SET NX):
	// StatusOK if it stored, StatusCASFailed (nothing changed) if the key
	// exists.
	OpPutNX Op = 6
	// OpPutXX sets Key to Value only if Key exists (Redis's SET XX):
	// StatusOK if it stored, StatusNotFound (nothing changed) if not.
	OpPutXX Op = 7
	// OpMulti runs the commands its Value holds (built with Multi) one
	// after the other, in one slot, as one command of its session: they
	// execute together exactly once, in order, and nothing else runs
	// between them. The Result's Value holds one result per command (read
	// them with NextResult). The RESP front end sends a connection's
	// pipeline as one OpMulti.
	OpMulti Op = 8

	opMax = OpMulti

	// OpUser and the ops above it are not kv's: they belong to another
	// state machine a node runs (node.Config.Machine). AppendCommand
	// encodes such a command as sm's header (op, session, key) followed by
	// Value as is, the machine's body, so the client library (package
	// client) carries any machine's commands; DecodeCommand refuses them.
	OpUser Op = 128
)

// String returns the op's name ("put", "get", ...).
func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpGet:
		return "get"
	case OpDelete:
		return "delete"
	case OpCAS:
		return "cas"
	case OpIncr:
		return "incr"
	case OpPutNX:
		return "put-nx"
	case OpPutXX:
		return "put-xx"
	case OpMulti:
		return "multi"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Command is one client command.
type Command struct {
	// ClientID names the client session; 0 means no session (the command is
	// executed every time it is applied, without exactly-once protection).
	ClientID uint64
	// Token is the session's secret: the first command of a session
	// registers it, and later commands naming ClientID with another Token
	// are refused (StatusNotOwner). Ignored without a session.
	Token uint64
	// Seq is the client's sequence number, counting from 1. Seq 0 means no
	// session, like ClientID 0.
	Seq uint64
	// Op is the operation; Key the key it acts on.
	Op  Op
	Key []byte
	// Value is the new value (OpPut, OpCAS), or the commands of an
	// OpMulti; ignored otherwise.
	Value []byte
	// Expect is the value OpCAS compares with; ignored otherwise.
	Expect []byte
	// Delta is what OpIncr adds; ignored otherwise.
	Delta int64
}

// ErrMalformed reports a command, request or response body that does not
// follow its format.
var ErrMalformed = errors.New("kv: malformed")

func malformed(what string, format string, args ...any) error {
	return fmt.Errorf("%w %s: "+format, append([]any{ErrMalformed, what}, args...)...)
}

// commandFixed is the size of a command's fixed-width head: op, ClientID,
// Token.
const commandFixed = 1 + 8 + 8

// CommandSize returns len(AppendCommand(nil, c)).
func CommandSize(c *Command) int {
	n := commandFixed + uvarintLen(c.Seq) + uvarintLen(uint64(len(c.Key))) + len(c.Key)
	switch c.Op {
	case OpPut, OpPutNX, OpPutXX, OpMulti:
		n += uvarintLen(uint64(len(c.Value))) + len(c.Value)
	case OpCAS:
		n += uvarintLen(uint64(len(c.Expect))) + len(c.Expect) +
			uvarintLen(uint64(len(c.Value))) + len(c.Value)
	case OpIncr:
		n += 8
	default:
		if c.Op >= OpUser {
			n += len(c.Value)
		}
	}
	return n
}

// AppendCommand appends c's encoding to dst. Fields c.Op does not use are
// not encoded. An invalid Op is encoded as is (DecodeCommand will refuse it).
func AppendCommand(dst []byte, c *Command) []byte {
	dst = append(dst, byte(c.Op))
	dst = binary.LittleEndian.AppendUint64(dst, c.ClientID)
	dst = binary.LittleEndian.AppendUint64(dst, c.Token)
	dst = binary.AppendUvarint(dst, c.Seq)
	dst = appendBytes(dst, c.Key)
	return appendOperands(dst, c)
}

// appendOperands appends what c's op takes after the key.
func appendOperands(dst []byte, c *Command) []byte {
	switch c.Op {
	case OpPut, OpPutNX, OpPutXX, OpMulti:
		dst = appendBytes(dst, c.Value)
	case OpCAS:
		dst = appendBytes(dst, c.Expect)
		dst = appendBytes(dst, c.Value)
	case OpIncr:
		dst = binary.LittleEndian.AppendUint64(dst, uint64(c.Delta))
	default:
		if c.Op >= OpUser {
			dst = append(dst, c.Value...) // another machine's body (OpUser)
		}
	}
	return dst
}

// DecodeCommand decodes one command without copying: the returned Key, Value
// and Expect alias b, so b must stay unmodified while they are in use.
func DecodeCommand(b []byte) (Command, error) {
	var c Command
	if len(b) < commandFixed {
		return c, malformed("command", "%d bytes, shorter than op, client id and token", len(b))
	}
	c.Op = Op(b[0])
	if c.Op < OpPut || c.Op > opMax {
		return Command{}, malformed("command", "unknown op %d", b[0])
	}
	c.ClientID = binary.LittleEndian.Uint64(b[1:9])
	c.Token = binary.LittleEndian.Uint64(b[9:17])
	d := decoder{b: b[commandFixed:], what: "command"}
	c.Seq = d.uvarint("seq")
	c.Key = d.bytes("key")
	d.operands(&c)
	if err := d.finish(); err != nil {
		return Command{}, err
	}
	if c.Op == OpMulti {
		if err := checkMulti(c.Value); err != nil {
			return Command{}, err
		}
	}
	return c, nil
}

// operands reads what c.Op takes after the key.
func (d *decoder) operands(c *Command) {
	switch c.Op {
	case OpPut, OpPutNX, OpPutXX, OpMulti:
		c.Value = d.bytes("value")
	case OpCAS:
		c.Expect = d.bytes("expect")
		c.Value = d.bytes("value")
	case OpIncr:
		c.Delta = int64(d.u64("delta"))
	}
}

// decoder reads uvarints and length-prefixed byte strings, remembering the
// first error so call sites stay linear.
type decoder struct {
	b    []byte
	what string
	err  error
}

func (d *decoder) uvarint(field string) uint64 { return d.uvarintOf(field, "") }

// uvarintOf names the field as field+suffix, concatenated only on error: a
// concatenation up front would allocate on every call.
func (d *decoder) uvarintOf(field, suffix string) uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 || k != uvarintLen(v) {
		// Overlong encodings are refused so every value has one encoding.
		d.err = malformed(d.what, "%s%s: bad uvarint", field, suffix)
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) bytes(field string) []byte {
	l := d.uvarintOf(field, " length")
	if d.err != nil {
		return nil
	}
	if l > uint64(len(d.b)) {
		d.err = malformed(d.what, "%s: length %d, only %d bytes left", field, l, len(d.b))
		return nil
	}
	v := d.b[:l:l]
	d.b = d.b[l:]
	return v
}

func (d *decoder) u8(field string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.err = malformed(d.what, "%s: truncated", field)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u64(field string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.err = malformed(d.what, "%s: truncated", field)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// finish reports the first error, or trailing bytes.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = malformed(d.what, "%d trailing bytes", len(d.b))
	}
	return d.err
}

func appendBytes(dst, v []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
