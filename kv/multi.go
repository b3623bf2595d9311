package kv

import (
	"encoding/binary"
	"fmt"
)

// An OpMulti command's Value is its sub-commands back to back, each
//
//	| op | len(Key) uv | Key | operands, as in a Command of that op |
//
// with no session fields: the OpMulti's own ClientID, Token and Seq make
// the whole sequence one command of its session. A sub-command is any op
// but OpMulti. Its Result's Value is one result per sub-command, in order:
//
//	| status | len(Value) uv | Value |
//
// DecodeCommand checks the sub-commands (each well formed, at most
// MaxMulti of them, none an OpMulti), so a Machine never starts one it
// could not finish.

// MaxMulti is the most sub-commands one OpMulti holds: as many as the
// RESP front end's largest MSET or DEL (its MaxArgs); a multi's size is
// bounded by the request size anyway.
const MaxMulti = 1 << 16

// Multi builds the Value of an OpMulti command. The zero Multi is empty and
// ready to use; Reset empties it and keeps its buffer.
type Multi struct {
	body []byte
	n    int
}

// Add appends c, which must not be an OpMulti, after the commands already
// added. c's session fields are ignored.
func (m *Multi) Add(c *Command) error {
	if c.Op < OpPut || c.Op >= OpMulti {
		return fmt.Errorf("kv: multi: op %v cannot be a sub-command", c.Op)
	}
	if m.n == MaxMulti {
		return fmt.Errorf("kv: multi: more than %d commands", MaxMulti)
	}
	m.body = append(m.body, byte(c.Op))
	m.body = appendBytes(m.body, c.Key)
	m.body = appendOperands(m.body, c)
	m.n++
	return nil
}

// Len returns the number of commands added.
func (m *Multi) Len() int { return m.n }

// Size returns the encoded size of the commands added.
func (m *Multi) Size() int { return len(m.body) }

// Command returns the OpMulti command holding the commands added (its
// session fields zero: Session.Do sets them). It aliases m's buffer until
// the next Add or Reset.
func (m *Multi) Command() Command { return Command{Op: OpMulti, Value: m.body} }

// Single returns the one command added, if exactly one was: a caller may
// send it alone rather than as an OpMulti of one.
func (m *Multi) Single() (Command, bool) {
	if m.n != 1 {
		return Command{}, false
	}
	c, _, err := nextSub(m.body)
	return c, err == nil
}

// RouteKey returns the key c routes by (to its Paxos group): its Key, or
// for an OpMulti, whose Key is empty, its first sub-command's (Check
// routes it so too).
func (c *Command) RouteKey() []byte {
	if c.Op != OpMulti {
		return c.Key
	}
	if sc, _, err := nextSub(c.Value); err == nil {
		return sc.Key
	}
	return c.Key
}

// Reset empties m, keeping its buffer.
func (m *Multi) Reset() { m.body, m.n = m.body[:0], 0 }

// nextSub decodes the sub-command at the head of b and returns the rest.
func nextSub(b []byte) (Command, []byte, error) {
	var c Command
	if len(b) == 0 {
		return c, nil, malformed("multi", "empty sub-command")
	}
	c.Op = Op(b[0])
	if c.Op < OpPut || c.Op >= OpMulti {
		return Command{}, nil, malformed("multi", "sub-command op %d", b[0])
	}
	d := decoder{b: b[1:], what: "multi"}
	c.Key = d.bytes("key")
	d.operands(&c)
	if d.err != nil {
		return Command{}, nil, d.err
	}
	return c, d.b, nil
}

// checkMulti reports whether body is a well-formed OpMulti Value.
func checkMulti(body []byte) error {
	for n := 0; len(body) > 0; n++ {
		if n == MaxMulti {
			return malformed("multi", "more than %d sub-commands", MaxMulti)
		}
		var err error
		if _, body, err = nextSub(body); err != nil {
			return err
		}
	}
	return nil
}

// NextResult decodes the first result of an OpMulti's Result.Value and
// returns the rest; call it until rest is empty. The Value it returns
// aliases b.
func NextResult(b []byte) (r Result, rest []byte, err error) {
	d := decoder{b: b, what: "multi result"}
	r.Status = Status(d.u8("status"))
	v := d.bytes("value")
	if d.err != nil {
		return Result{}, nil, d.err
	}
	r.Value = v
	return r, d.b, nil
}

// multi executes an OpMulti's sub-commands in order and gathers their
// results into one Value, the only allocation a multi makes. A body that
// does not decode (it passed DecodeCommand, so only a caller that built the
// Command by hand) executes nothing and yields StatusBadRequest.
func (m *Machine) multi(body []byte) Result {
	if checkMulti(body) != nil {
		return Result{Status: StatusBadRequest}
	}
	out := make([]byte, 0, 2*len(body)/3+16)
	for len(body) > 0 {
		c, rest, _ := nextSub(body) // checked above
		body = rest
		r := m.execute(&c)
		out = append(out, byte(r.Status))
		out = binary.AppendUvarint(out, uint64(len(r.Value)))
		out = append(out, r.Value...)
	}
	return Result{Status: StatusOK, Value: out}
}

// ReadOnlyMulti reports whether body, an OpMulti's Value, is well formed
// and holds only gets: a node may then serve it as one linearizable read
// (read index or lease) instead of through the log.
func ReadOnlyMulti(body []byte) bool {
	for n := 0; len(body) > 0; n++ {
		c, rest, err := nextSub(body)
		if err != nil || n == MaxMulti || c.Op != OpGet {
			return false
		}
		body = rest
	}
	return true
}

// ReadMulti appends to dst the results of a read-only OpMulti body (see
// ReadOnlyMulti), read from this replica's state without the log, in the
// form Apply's Result.Value has; ok is false, and dst unchanged, for any
// other body. Every get reads the same state: the multi is one atomic read.
// It decodes the body once, as it reads.
func (m *Machine) ReadMulti(dst, body []byte) ([]byte, bool) {
	orig := dst
	for n := 0; len(body) > 0; n++ {
		c, rest, err := nextSub(body)
		if err != nil || n == MaxMulti || c.Op != OpGet {
			return orig, false // bytes appended past its length are not its
		}
		body = rest
		if v, found := m.keys.get(c.Key); found {
			dst = append(dst, byte(StatusOK))
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		} else {
			dst = append(dst, byte(StatusNotFound), 0)
		}
	}
	return dst, true
}
