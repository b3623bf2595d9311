package kv

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// MachineConfig configures a Machine.
type MachineConfig struct {
	// SessionTTL is how many slots a client session survives without being
	// used: a session last used at slot s is gone once a command is applied
	// at slot s+SessionTTL or later. The default is DefaultSessionTTL. It
	// must be at least 1.
	//
	// Expiry counts log positions, never wall-clock time, so every replica
	// drops the same sessions at the same point of the log. The trade-off:
	// memory stays bounded by the clients active within the last SessionTTL
	// slots, but a retry that reaches the log after its session expired is
	// executed again (exactly once is lost for it). SessionTTL must
	// therefore be far longer, in slots, than any client keeps retrying one
	// command: at R slots per second and a client retry horizon of T
	// seconds, choose SessionTTL >> R*T.
	//
	// Every replica must use the same SessionTTL: it decides which retries
	// execute, so replicas with different TTLs could diverge.
	//
	// Expired sessions are dropped by a sweep over all sessions every
	// SessionTTL/8 slots (so one Apply in that many pays O(sessions)); until
	// then an expired session still takes memory but no longer deduplicates,
	// so expiry is exact to the slot.
	SessionTTL uint64
}

// DefaultSessionTTL is the default MachineConfig.SessionTTL, and the node's
// (node.Config.SessionTTL): 1,000,000 slots, about 3 minutes at 5,000 slots
// (batches) per second. Replicas must agree on it (see SessionTTL), so there
// is one default.
const DefaultSessionTTL = 1_000_000

// DefaultMachineConfig returns the defaults documented on MachineConfig.
func DefaultMachineConfig() MachineConfig {
	return MachineConfig{SessionTTL: DefaultSessionTTL}
}

// ErrConfig is wrapped by every problem MachineConfig.Validate reports.
var ErrConfig = errors.New("kv: invalid config")

// Validate reports every problem with c, each wrapping ErrConfig.
func (c MachineConfig) Validate() error {
	if c.SessionTTL < 1 {
		return fmt.Errorf("%w: SessionTTL %d: must be at least 1 slot", ErrConfig, c.SessionTTL)
	}
	return nil
}

// Result is what a command produced.
//
// Value aliases the Machine's stored value, which is immutable: the Machine
// never writes into a value it stored (an update stores a new copy), so the
// bytes stay valid and unchanged for as long as the caller holds them. The
// caller must not modify them.
type Result struct {
	Status Status
	// Value is the value read by a successful OpGet, or the value that made
	// an OpCAS fail; nil otherwise.
	Value []byte
}

// session is what a Machine remembers of one client.
//
// res.Value may keep a value alive after its key was overwritten or
// deleted (a retried get must see what the original saw), so sessions hold
// at most one stale value each.
type session struct {
	token uint64 // the secret the session's first command registered
	seq   uint64 // last sequence number applied
	last  uint64 // slot at which the session was last used
	res   Result // reply to seq
}

// Machine is the key-value state machine with client sessions. It is not
// safe for concurrent use: the node's apply loop owns it.
type Machine struct {
	cfg MachineConfig

	keys table // key -> immutable value (table.go)

	// Pointers, so that a retry or an update writes the session in place
	// instead of copying its 48 bytes out of the map and assigning them
	// back (a second lookup).
	sessions map[uint64]*session

	applied    uint64 // last slot passed to Apply
	sweepEvery uint64 // slots between sweeps of expired sessions
}

// NewMachine returns an empty Machine, or the problems Validate found in cfg.
func NewMachine(cfg MachineConfig) (*Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Machine{cfg: cfg, sweepEvery: max(cfg.SessionTTL/8, 1)}
	m.reset()
	return m, nil
}

func (m *Machine) reset() {
	m.keys = newTable(0)
	m.sessions = make(map[uint64]*session)
	m.applied = 0
}

// Apply executes cmd, which was committed at slot, and returns its Result.
// Commands must be applied in log order: slot never decreases (one slot holds
// a batch of many commands, all applied with the same slot).
//
// Ownership: if cmd names a live session whose registered Token differs
// from cmd.Token, Result{Status: StatusNotOwner} is returned with dup true,
// nothing executes and the session is left as it was (its TTL included), so
// a client that knows another's ClientID can neither run commands in its
// session, nor read its stored replies, nor move its Seq.
//
// Exactly once: if cmd's session already applied cmd.Seq, the stored Result
// is returned with dup true and nothing executes; if it applied a later Seq,
// Result{Status: StatusStale} is returned with dup true and nothing executes.
// Commands with ClientID 0 or Seq 0 have no session and always execute.
// An invalid Op executes as nothing and yields StatusBadRequest.
//
// Apply copies cmd's Key and Value where it stores them, so cmd may alias a
// batch the caller reuses afterwards.
func (m *Machine) Apply(slot uint64, cmd Command) (res Result, dup bool) {
	if slot < m.applied {
		panic(fmt.Sprintf("kv: Apply at slot %d after slot %d: the log must be applied in order", slot, m.applied))
	}
	if slot > m.applied {
		// Sweeping at fixed slot boundaries keeps it deterministic: every
		// replica applies the same slots, so all sweep at the same ones.
		if slot/m.sweepEvery != m.applied/m.sweepEvery {
			m.sweep(slot)
		}
		m.applied = slot
	}
	if cmd.ClientID == 0 || cmd.Seq == 0 {
		return m.execute(&cmd), false
	}
	s := m.sessions[cmd.ClientID]
	if s != nil && !m.expired(s, slot) {
		switch {
		case cmd.Token != s.token:
			return Result{Status: StatusNotOwner}, true
		case cmd.Seq == s.seq:
			s.last = slot
			return s.res, true
		case cmd.Seq < s.seq:
			return Result{Status: StatusStale}, true
		}
	}
	// A Seq above the last one executes, gaps included: a client that gave
	// up on a command moves on, and that command, if it commits later, is
	// then stale and never executes after its successor.
	res = m.execute(&cmd)
	if s == nil {
		s = new(session)
		m.sessions[cmd.ClientID] = s
	}
	// An expired session not swept yet is reused as if it were new: the
	// command that (re)creates a session registers its Token.
	*s = session{token: cmd.Token, seq: cmd.Seq, last: slot, res: res}
	return res, false
}

// expired reports whether s is past its TTL at slot. Sessions are also
// dropped in sweeps, but only every sweepEvery slots; checking here makes
// the TTL exact.
func (m *Machine) expired(s *session, slot uint64) bool {
	return slot-s.last >= m.cfg.SessionTTL
}

func (m *Machine) sweep(slot uint64) {
	for id, s := range m.sessions {
		if m.expired(s, slot) {
			delete(m.sessions, id)
		}
	}
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

// Sessions returns the number of client sessions held (expired ones are
// counted until the next sweep).
func (m *Machine) Sessions() int { return len(m.sessions) }
