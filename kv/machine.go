package kv

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/mpaxos/mpaxos/route"
	"github.com/mpaxos/mpaxos/sm"
)

// DefaultSessionTTL is the runtime's default session lifetime
// (sm.DefaultSessionTTL): sessions are the runtime's, not this package's.
const DefaultSessionTTL = sm.DefaultSessionTTL

// Result is what a command produced (sm.Result).
//
// Value aliases the Machine's stored value, which is immutable: the Machine
// never writes into a value it stored (an update stores a new copy), so the
// bytes stay valid and unchanged for as long as the caller holds them (the
// runtime's session table keeps the last Result of every session). The
// caller must not modify them. For OpGet it is the value read, for a failed
// OpCAS the value found, for OpIncr the new value, for OpMulti the
// sub-commands' results (NextResult); nil otherwise.
type Result = sm.Result

// Machine is the key-value state machine, an sm.Machine: the node runtime
// applies committed commands to it and keeps the client sessions in front
// of it (sm.Sessions). It is not safe for concurrent use: the node's apply
// loop owns it.
type Machine struct {
	keys    table  // key -> immutable value (table.go)
	applied uint64 // last slot passed to Apply
}

// NewMachine returns an empty Machine.
func NewMachine() *Machine {
	m := &Machine{}
	m.keys = newTable(0)
	return m
}

// Type is the sm.Type of the kv machine, the node runtime's default.
func Type() sm.Type {
	return sm.Type{
		Name:  "kv",
		New:   func(int) (sm.Machine, error) { return NewMachine(), nil },
		Check: Check,
	}
}

// Check is the kv Type's Check: the command must decode (DecodeCommand);
// a get, or an OpMulti of gets only, is read-only. An OpMulti routes by its
// first sub-command's key (its own Key is empty), and on a node of several
// groups it is cross-group if its sub-commands' keys belong to more than
// one (route.GroupOf): one group's log cannot order another's keys.
func Check(cmd []byte, groups int) (sm.Info, error) {
	c, err := DecodeCommand(cmd)
	if err != nil {
		return sm.Info{}, err
	}
	info := sm.Info{
		Header:   sm.Header{Op: byte(c.Op), ClientID: c.ClientID, Token: c.Token, Seq: c.Seq, Key: c.Key},
		ReadOnly: c.Op == OpGet || (c.Op == OpMulti && ReadOnlyMulti(c.Value)),
	}
	if c.Op == OpMulti {
		info.Header.Key, info.CrossGroup = multiKey(c.Value, groups)
	}
	return info, nil
}

// multiKey returns the first key of a well-formed OpMulti body and whether
// its keys span more than one of groups.
func multiKey(body []byte, groups int) (first []byte, cross bool) {
	g := -1
	for len(body) > 0 {
		sc, rest, err := nextSub(body)
		if err != nil {
			return first, true // DecodeCommand checked it: unreachable
		}
		body = rest
		if g < 0 {
			first = sc.Key
			if groups <= 1 {
				return first, false
			}
			g = route.GroupOf(sc.Key, groups)
		} else if route.GroupOf(sc.Key, groups) != g {
			return first, true
		}
	}
	return first, false
}

// Apply decodes cmd (DecodeCommand) and executes it at slot (Execute); a
// command that does not decode executes nothing and yields
// StatusBadRequest. It implements sm.Machine: the session fields are the
// runtime's, and Apply ignores them.
func (m *Machine) Apply(slot uint64, cmd []byte) Result {
	c, err := DecodeCommand(cmd)
	if err != nil {
		m.advance(slot)
		return Result{Status: StatusBadRequest}
	}
	return m.Execute(slot, &c)
}

// Execute executes c, which was committed at slot, and returns its Result.
// Commands must be applied in log order: slot never decreases (one slot
// holds a batch of many commands, all applied with the same slot). c's
// session fields are ignored: deduplication is the runtime's (sm.Sessions).
// An invalid Op executes as nothing and yields StatusBadRequest.
//
// Execute copies c's Key and Value where it stores them, so c may alias a
// batch the caller reuses afterwards.
func (m *Machine) Execute(slot uint64, c *Command) Result {
	m.advance(slot)
	return m.execute(c)
}

func (m *Machine) advance(slot uint64) {
	if slot < m.applied {
		panic(fmt.Sprintf("kv: Apply at slot %d after slot %d: the log must be applied in order", slot, m.applied))
	}
	m.applied = slot
}

// Query answers a read-only command (see Check) from the current state: a
// get's value, or an OpMulti of gets with its results appended to dst
// (ReadMulti). Anything else yields StatusBadRequest.
func (m *Machine) Query(dst, cmd []byte) Result {
	c, err := DecodeCommand(cmd)
	if err != nil {
		return Result{Status: StatusBadRequest}
	}
	switch c.Op {
	case OpGet:
		if v, ok := m.keys.get(c.Key); ok {
			return Result{Status: StatusOK, Value: v}
		}
		return Result{Status: StatusNotFound}
	case OpMulti:
		if out, ok := m.ReadMulti(dst, c.Value); ok {
			return Result{Status: StatusOK, Value: out}
		}
	}
	return Result{Status: StatusBadRequest}
}

func (m *Machine) execute(c *Command) Result {
	if c.Op == OpMulti {
		return m.multi(c.Value)
	}
	st, i, h, found := m.keys.lookup(c.Key)
	switch c.Op {
	case OpPut:
		m.store(st, i, h, found, c.Key, c.Value)
		return Result{Status: StatusOK}
	case OpGet:
		if !found {
			return Result{Status: StatusNotFound}
		}
		return Result{Status: StatusOK, Value: st.slots[i].val}
	case OpDelete:
		if !found {
			return Result{Status: StatusNotFound}
		}
		m.keys.remove(st, i)
		return Result{Status: StatusOK}
	case OpCAS:
		if !found {
			return Result{Status: StatusNotFound}
		}
		if cur := st.slots[i].val; !bytes.Equal(cur, c.Expect) {
			return Result{Status: StatusCASFailed, Value: cur}
		}
		m.store(st, i, h, true, c.Key, c.Value)
		return Result{Status: StatusOK}
	case OpPutNX:
		if found {
			return Result{Status: StatusCASFailed}
		}
		m.store(st, i, h, false, c.Key, c.Value)
		return Result{Status: StatusOK}
	case OpPutXX:
		if !found {
			return Result{Status: StatusNotFound}
		}
		m.store(st, i, h, true, c.Key, c.Value)
		return Result{Status: StatusOK}
	case OpIncr:
		return m.incr(st, i, h, found, c)
	}
	return Result{Status: StatusBadRequest}
}

// incr executes OpIncr. The sum is stored in decimal, the form Redis
// clients read back with GET; a stored value that is not a decimal int64
// in canonical form (no sign but '-', no leading zero, no space: what
// strconv.AppendInt writes) is refused, so every replica parses the same
// bytes the same way.
func (m *Machine) incr(st *subtable, i int, h uint32, found bool, c *Command) Result {
	var cur int64
	if found {
		v, ok := parseCanonicalInt(st.slots[i].val)
		if !ok {
			return Result{Status: StatusCASFailed, Value: st.slots[i].val}
		}
		cur = v
	}
	sum := cur + c.Delta
	if (c.Delta > 0 && sum < cur) || (c.Delta < 0 && sum > cur) {
		var val []byte
		if found {
			val = st.slots[i].val
		}
		return Result{Status: StatusCASFailed, Value: val}
	}
	v := strconv.AppendInt(make([]byte, 0, 20), sum, 10)
	if found {
		st.slots[i].val = v
	} else {
		m.keys.insert(st, i, h, c.Key, v)
	}
	return Result{Status: StatusOK, Value: v}
}

// parseCanonicalInt parses b as strconv.FormatInt would have written it.
func parseCanonicalInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	// Redis refuses "+1", "01" and " 1" too; ParseInt would take "+1".
	var canon [20]byte
	if !bytes.Equal(strconv.AppendInt(canon[:0], v, 10), b) {
		return 0, false
	}
	return v, true
}

// store sets key, found or not at (st, i) by lookup, to a private copy of
// value. The old value is not written into: Results handed out earlier may
// still alias it.
func (m *Machine) store(st *subtable, i int, h uint32, found bool, key, value []byte) {
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{} // a stored value is never nil: Get tells empty from absent
	}
	if found {
		st.slots[i].val = v
		return
	}
	m.keys.insert(st, i, h, key, v)
}

// Get returns key's value from this replica's state without going through
// the log (for stale reads). The value is immutable, as in Result.
func (m *Machine) Get(key []byte) (value []byte, found bool) {
	return m.keys.get(key)
}

// AppliedSlot returns the last slot passed to Apply (or restored from a
// snapshot); 0 before any.
func (m *Machine) AppliedSlot() uint64 { return m.applied }

// Len returns the number of keys.
func (m *Machine) Len() int { return m.keys.n }
