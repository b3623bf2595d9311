package sm

import (
	"errors"
	"fmt"
	"io"
)

// Machine is a replicated state machine run by the node runtime, one per
// Paxos group. The runtime calls it from one goroutine at a time (the
// group's apply loop), so it needs no locking of its own.
type Machine interface {
	// Apply executes cmd, committed at slot, and returns its Result. Slots
	// never decrease; one slot holds a batch of many commands, all applied
	// with the same slot. cmd is the whole command, header included
	// (DecodeHeader); it aliases a batch the runtime reuses after Apply
	// returns, so Apply copies what it keeps. The Result's Value may alias
	// the machine's state, but must then stay unchanged for as long as the
	// runtime holds it: the runtime keeps the last Result of every session
	// to answer retries. A command the machine cannot decode (only a
	// hostile leader proposes one; every replica sees the same bytes)
	// yields StatusBadRequest and changes nothing.
	Apply(slot uint64, cmd []byte) Result

	// Query answers a read-only command (one Type.Check marked ReadOnly)
	// from the current state without changing it: the runtime calls it for
	// reads by read index or lease, once the state has applied the read's
	// index, and for stale reads. It may append its answer to dst and
	// return it in Value (the runtime reuses dst's buffer), or alias its
	// state as Apply may.
	Query(dst, cmd []byte) Result

	// Snapshot writes the machine's whole state to w. Equal states must
	// write equal bytes.
	Snapshot(w io.Writer) error

	// Restore replaces the machine's state with a snapshot read from r.
	// On error the machine must be unchanged; an error wrapping
	// ErrCorruptSnapshot says the bytes cannot be trusted.
	Restore(r io.Reader) error

	// Hash returns a digest of the state, the same on every replica that
	// applied the same commands at the same slots.
	Hash() uint64
}

// Capturer is a Machine that can capture its state in a moment on the apply
// goroutine and encode it later, on another one, while Apply goes on. The
// runtime then encodes snapshots off the loop; a Machine without it
// snapshots on the loop, which stalls the group for as long as Snapshot
// takes.
type Capturer interface {
	// Capture returns the state as it is now. Its WriteTo is called once,
	// on another goroutine, concurrently with Apply, and writes what
	// Snapshot would have written at the time of Capture.
	Capture() io.WriterTo
}

// LegacySnapshot is a Machine whose older snapshots held client sessions
// of their own (kv's before this package existed). The runtime hands it a
// group snapshot that is not an envelope of this package.
type LegacySnapshot interface {
	// RestoreLegacy restores the machine from b and returns the sessions
	// b held, checked as Restore checks an envelope's (strictly increasing
	// ClientIDs, none used after applied), and the last slot they saw; ok
	// is false, and the machine unchanged, if b is no such snapshot.
	RestoreLegacy(b []byte) (sessions []SessionState, applied uint64, ok bool, err error)
}

// Info is what the runtime needs to know of a client's command before it
// proposes it.
type Info struct {
	// Header is the command's header (DecodeHeader).
	Header Header
	// ReadOnly: the command changes nothing, so the runtime may answer it
	// with Query under a read index or lease instead of through the log,
	// and accepts it when the store is out of space.
	ReadOnly bool
	// CrossGroup: the command touches state of more than the group its
	// key routes to (Check was told the group count), which one group's
	// log cannot order; the runtime refuses it with StatusBadRequest.
	CrossGroup bool
}

// Type describes a kind of Machine to the runtime.
type Type struct {
	// Name names the machine in logs and errors ("kv", "ledger").
	Name string
	// New returns an empty Machine for group (0-based). Required.
	New func(group int) (Machine, error)
	// Check validates a command a client sent, before the runtime queues
	// it: the whole command, header included. An error means malformed
	// (the runtime closes the client's connection); Check must accept
	// exactly the commands Apply can decode. groups is how many Paxos
	// groups the node runs, for Info.CrossGroup. It runs on the client
	// connections' goroutines, concurrently with everything, so it must
	// read no Machine's state. Required.
	Check func(cmd []byte, groups int) (Info, error)
}

// ErrType is wrapped by every problem Type.Validate reports.
var ErrType = errors.New("sm: invalid machine type")

// Validate reports whether t has everything the runtime calls.
func (t Type) Validate() error {
	var errs []error
	if t.New == nil {
		errs = append(errs, fmt.Errorf("%w %q: New is nil", ErrType, t.Name))
	}
	if t.Check == nil {
		errs = append(errs, fmt.Errorf("%w %q: Check is nil", ErrType, t.Name))
	}
	return errors.Join(errs...)
}

// Result is what a command produced: its Status and a Value whose meaning
// is the machine's.
type Result struct {
	Status Status
	Value  []byte
}

// ErrCorruptSnapshot reports snapshot bytes that cannot be trusted.
var ErrCorruptSnapshot = errors.New("sm: corrupt snapshot")
