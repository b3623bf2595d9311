package store

import (
	"errors"
	"fmt"

	"github.com/mpaxos/mpaxos/engine"
)

var (
	// ErrCorrupt is wrapped by every error that reports a stored record
	// failing its checksum or not parsing, and by Pebble's own corruption
	// errors. The message names the slot when the record is an entry.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrNotStore is returned by Open for a directory that holds something
	// other than a store (foreign files, a Pebble database written by
	// another program, or a store of an unknown format version).
	ErrNotStore = errors.New("store: not a store directory")
	// ErrLocked is returned by Open when another process (or another Store
	// in this process) holds the directory's lock.
	ErrLocked = errors.New("store: directory locked by another store")
	// ErrClosed is returned by calls on a closed Store.
	ErrClosed = errors.New("store: closed")
	// ErrInvalidWrite is returned by Save for a Write that cannot be stored
	// (slot 0, an unknown entry type).
	ErrInvalidWrite = errors.New("store: invalid write")
	// ErrNoSpace is wrapped by Space.Err when the store is at its quota
	// or the filesystem below its minimum free space, and by Save errors
	// that are the disk being full (ENOSPC).
	ErrNoSpace = errors.New("store: no space")
	// ErrSnapshotOlder is returned by Save for a Write whose snapshot is
	// older than the stored one (typically a node's own snapshot finishing
	// after a newer one from the leader was installed). Nothing of the
	// Write is stored; the newer snapshot stays.
	ErrSnapshotOlder = errors.New("store: snapshot older than the stored one")
)

// recordKind names the record a CorruptError is about.
type recordKind uint8

const (
	recMarker recordKind = iota + 1
	recHardState
	recSnapMeta
	recSnapData
	recEntry
	recKey
	recSnapConf
)

func (k recordKind) String() string {
	switch k {
	case recMarker:
		return "format marker"
	case recHardState:
		return "hard state"
	case recSnapMeta:
		return "snapshot slot"
	case recSnapData:
		return "snapshot"
	case recEntry:
		return "entry"
	case recKey:
		return "key"
	case recSnapConf:
		return "snapshot membership"
	}
	return fmt.Sprintf("record kind %d", uint8(k))
}

// CorruptError describes one bad record. errors.Is(err, ErrCorrupt) holds.
type CorruptError struct {
	Group  engine.GroupID
	Slot   engine.Slot // the entry's slot; 0 for records that are not entries
	kind   recordKind
	Reason string // "checksum mismatch", "truncated record", ...
}

func (e *CorruptError) Error() string {
	if e.kind == recEntry {
		// The slot comes first so logs and tests can match
		// "store: slot 1042: checksum mismatch".
		return fmt.Sprintf("store: slot %d: %s (group %d)", e.Slot, e.Reason, e.Group)
	}
	return fmt.Sprintf("store: %s: %s (group %d)", e.kind, e.Reason, e.Group)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }
