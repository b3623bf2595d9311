package sm

import (
	"fmt"

	"github.com/mpaxos/mpaxos/internal/statehash"
)

// Applier is what the runtime runs per group: a Machine behind its session
// table. The group's apply loop owns it.
type Applier struct {
	m Machine
	s *Sessions
}

// NewApplier returns an Applier running m with sessions that expire ttl
// slots after their last use (NewSessions).
func NewApplier(m Machine, ttl uint64) (*Applier, error) {
	s, err := NewSessions(ttl)
	if err != nil {
		return nil, err
	}
	return &Applier{m: m, s: s}, nil
}

// Machine returns the machine the Applier runs.
func (a *Applier) Machine() Machine { return a.m }

// Sessions returns the Applier's session table.
func (a *Applier) Sessions() *Sessions { return a.s }

// Apply runs one committed command through the session table and the
// machine (Sessions.Apply). It fails only on a session header that does not
// decode (the key and body are the machine's to check), which executes
// nothing; the runtime then skips the rest of the batch (every replica sees
// the same bytes and skips alike). The returned Header has no Key. It
// allocates nothing of its own but a session for a client it has not seen.
func (a *Applier) Apply(slot uint64, cmd []byte) (h Header, res Result, dup bool, err error) {
	if !decodeSession(cmd, &h) {
		_, _, err = DecodeHeader(cmd) // says what is wrong
		if err == nil {
			err = fmt.Errorf("%w: bad session header", ErrMalformed)
		}
		return Header{}, Result{}, false, err
	}
	res, dup = a.s.Apply(slot, &h, a.m, cmd)
	return h, res, dup, nil
}

// Query answers a read-only command from the machine's state
// (Machine.Query).
func (a *Applier) Query(dst, cmd []byte) Result { return a.m.Query(dst, cmd) }

// Hash returns a digest of the machine and the sessions together: what
// the checks compare across replicas.
func (a *Applier) Hash() uint64 { return statehash.Mix(a.m.Hash()^statehash.Seed) ^ a.s.Hash() }

// validate checks restored sessions: as Snapshot writes them (strictly
// increasing ClientIDs, each with a session), none used after applied.
func validate(states []SessionState, applied uint64) error {
	for i, s := range states {
		switch {
		case s.ClientID == 0 || s.Seq == 0:
			return fmt.Errorf("%w: session %d: client %d seq %d", ErrCorruptSnapshot, i, s.ClientID, s.Seq)
		case i > 0 && s.ClientID <= states[i-1].ClientID:
			return fmt.Errorf("%w: session %d: client %d not after %d", ErrCorruptSnapshot, i, s.ClientID, states[i-1].ClientID)
		case !s.Result.Status.Valid():
			return fmt.Errorf("%w: session %d: status %d", ErrCorruptSnapshot, i, s.Result.Status)
		case s.Last > applied:
			return fmt.Errorf("%w: session %d: used at slot %d after applied slot %d", ErrCorruptSnapshot, i, s.Last, applied)
		}
	}
	return nil
}
