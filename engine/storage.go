package engine

import "errors"

// ErrCompacted is returned by Storage.Entries when the requested range starts
// at or below the latest snapshot: those slots are only in the snapshot now.
var ErrCompacted = errors.New("engine: requested slots were compacted into a snapshot")

// Storage is the engine's read-only view of this node's durable state. The
// engine reads it when it starts and when it must resend slots it no longer
// holds in memory (catch-up). It never writes through Storage: writes come
// back to the caller in Ready and are persisted by the caller (store/ does
// it with Pebble).
//
// Implementations must be safe to call from the goroutine that drives the
// engine while the caller's writer goroutine persists later Readies.
type Storage interface {
	// InitialState returns the durable hard state (zero for a new node).
	InitialState() (HardState, error)
	// Snapshot returns the latest durable snapshot; a zero Snapshot (Slot 0)
	// when none was taken yet.
	Snapshot() (Snapshot, error)
	// FirstSlot returns the lowest slot that may still be in the log: the
	// latest snapshot's Slot + 1 (1 for a new node).
	FirstSlot() (Slot, error)
	// LastSlot returns the highest slot with a stored entry, or the latest
	// snapshot's Slot when the log above it is empty.
	LastSlot() (Slot, error)
	// Entries returns the stored entries with lo <= Slot < hi in slot order.
	// The log may have holes (an acceptor can accept slot 10 before slot 9),
	// so fewer than hi-lo entries may come back. It stops once the entries'
	// Data add up to maxBytes, but returns at least one entry if there is
	// one. It returns ErrCompacted if lo < FirstSlot(). The caller owns the
	// returned slices.
	Entries(lo, hi Slot, maxBytes uint64) ([]Entry, error)
}
