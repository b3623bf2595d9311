package sm

import (
	"errors"
	"fmt"

	"github.com/mpaxos/mpaxos/internal/statehash"
)

// DefaultSessionTTL is the default session lifetime (Sessions, and the
// node's Config.SessionTTL): 1,000,000 slots, about 3 minutes at 5,000
// slots (batches) per second. Replicas must agree on it, so there is one
// default.
//
// Expiry counts log positions, never wall-clock time, so every replica
// drops the same sessions at the same point of the log. The trade-off:
// memory stays bounded by the clients active within the last TTL slots,
// but a retry that reaches the log after its session expired is executed
// again (exactly once is lost for it). The TTL must therefore be far
// longer, in slots, than any client keeps retrying one command: at R slots
// per second and a client retry horizon of T seconds, choose TTL >> R*T.
const DefaultSessionTTL = 1_000_000

// ErrSessionTTL is returned by NewSessions for a TTL below 1.
var ErrSessionTTL = errors.New("sm: session TTL must be at least 1 slot")

// SessionState is one session as a snapshot holds it.
type SessionState struct {
	ClientID uint64
	Token    uint64 // the secret the session's first command registered
	Seq      uint64 // last sequence number applied
	Last     uint64 // slot at which the session was last used
	Result   Result // reply to Seq
}

// session is what the table remembers of one client. Result.Value may keep
// a value of the machine alive after the machine dropped it (a retried read
// must see what the original saw), so sessions hold at most one stale
// value each.
type session struct {
	token uint64
	seq   uint64
	last  uint64
	res   Result
}

// Sessions is one group's session table: it decides, per command, whether
// the Machine runs it, and remembers the last Result of every session. It
// is not safe for concurrent use: the group's apply loop owns it.
type Sessions struct {
	ttl        uint64
	sweepEvery uint64 // slots between sweeps of expired sessions
	applied    uint64 // last slot passed to Apply
	// Pointers, so that a retry or an update writes the session in place
	// instead of copying it out of the map and back (a second lookup).
	m map[uint64]*session
}

// NewSessions returns an empty table whose sessions expire ttl slots after
// their last use. Every replica must use the same ttl: it decides which
// retries execute.
//
// Expired sessions are dropped by a sweep over all of them every ttl/8
// slots (so one Apply in that many pays O(sessions)); until then an expired
// session still takes memory but no longer deduplicates, so expiry is exact
// to the slot.
func NewSessions(ttl uint64) (*Sessions, error) {
	if ttl < 1 {
		return nil, ErrSessionTTL
	}
	return &Sessions{ttl: ttl, sweepEvery: max(ttl/8, 1), m: make(map[uint64]*session)}, nil
}

// Apply runs cmd, committed at slot, through the session table: m.Apply
// executes it unless its session already saw it. dup reports a command
// that did not execute (a retry, a stale Seq, another client's Token).
//
// Ownership: if h names a live session whose registered Token differs from
// h.Token, Result{Status: StatusNotOwner} is returned with dup true,
// nothing executes and the session is left as it was (its TTL included),
// so a client that knows another's ClientID can neither run commands in
// its session, nor read its stored replies, nor move its Seq.
//
// Exactly once: if the session already applied h.Seq, the stored Result
// is returned with dup true; if it applied a later Seq, StatusStale. A Seq
// above the last one executes, gaps included: a client that gave up on a
// command moves on, and that command, if it commits later, is then stale
// and never executes after its successor. Commands without a session
// always execute.
func (t *Sessions) Apply(slot uint64, h *Header, m Machine, cmd []byte) (res Result, dup bool) {
	if slot < t.applied {
		panic(fmt.Sprintf("sm: Apply at slot %d after slot %d: the log must be applied in order", slot, t.applied))
	}
	if slot > t.applied {
		// Sweeping at fixed slot boundaries keeps it deterministic: every
		// replica applies the same slots, so all sweep at the same ones.
		if slot/t.sweepEvery != t.applied/t.sweepEvery {
			t.sweep(slot)
		}
		t.applied = slot
	}
	if !h.HasSession() {
		return m.Apply(slot, cmd), false
	}
	s := t.m[h.ClientID]
	if s != nil && !t.expired(s, slot) {
		switch {
		case h.Token != s.token:
			return Result{Status: StatusNotOwner}, true
		case h.Seq == s.seq:
			s.last = slot
			return s.res, true
		case h.Seq < s.seq:
			return Result{Status: StatusStale}, true
		}
	}
	res = m.Apply(slot, cmd)
	if s == nil {
		s = new(session)
		t.m[h.ClientID] = s
	}
	// An expired session not swept yet is reused as if it were new: the
	// command that (re)creates a session registers its Token.
	*s = session{token: h.Token, seq: h.Seq, last: slot, res: res}
	return res, false
}

// expired reports whether s is past its TTL at slot. Sessions are also
// dropped in sweeps, but only every sweepEvery slots; checking here makes
// the TTL exact.
func (t *Sessions) expired(s *session, slot uint64) bool { return slot-s.last >= t.ttl }

func (t *Sessions) sweep(slot uint64) {
	for id, s := range t.m {
		if t.expired(s, slot) {
			delete(t.m, id)
		}
	}
}

// Len returns the number of sessions held (expired ones are counted until
// the next sweep).
func (t *Sessions) Len() int { return len(t.m) }

// Hash returns a digest of the table, independent of map order: each
// session is hashed on its own and the hashes are added.
func (t *Sessions) Hash() uint64 {
	var sum uint64
	for id, s := range t.m {
		h := statehash.Word(statehash.Seed, id)
		h = statehash.Word(h, s.token)
		h = statehash.Word(h, s.seq)
		h = statehash.Word(h, s.last)
		h = statehash.Word(h, uint64(s.res.Status))
		h = statehash.Word(h, uint64(len(s.res.Value)))
		sum += statehash.Mix(statehash.Words(h, s.res.Value))
	}
	return statehash.Mix(sum+statehash.Prime*uint64(len(t.m)+1)) ^ statehash.Mix(t.applied^statehash.Seed)
}

// states returns the sessions, in map order.
func (t *Sessions) states() []SessionState {
	out := make([]SessionState, 0, len(t.m))
	for id, s := range t.m {
		out = append(out, SessionState{ClientID: id, Token: s.token, Seq: s.seq, Last: s.last, Result: s.res})
	}
	return out
}

// replace makes the table hold exactly states, applied through slot. The
// states were validated by the caller.
func (t *Sessions) replace(states []SessionState, slot uint64) {
	m := make(map[uint64]*session, len(states))
	for _, s := range states {
		m[s.ClientID] = &session{token: s.Token, seq: s.Seq, last: s.Last, res: s.Result}
	}
	t.m, t.applied = m, slot
}
