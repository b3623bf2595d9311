package store

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mpaxos/mpaxos/engine"
)

// Log is one group's durable log; it implements engine.Storage. Its methods
// are safe to call while other goroutines Save.
type Log struct {
	s *Store
	g engine.GroupID

	// snap and last cache the snapshot's slot and the highest stored slot
	// (or snap when no entry is above it). Open loads them; Save raises
	// them after its batch commits, so they may trail a commit in flight
	// but never run ahead of committed state. Both only grow.
	snap atomic.Uint64
	last atomic.Uint64

	// snapMu serializes the group's snapshot Saves from their not-older
	// check to their cache update (see Save).
	snapMu sync.Mutex

	// promised is the highest Promised ballot saved, checked only when
	// built with the invariants tag.
	promised struct {
		sync.Mutex
		b engine.Ballot
	}
}

// checkPromised panics if hs would move the promised ballot backwards, which
// the engine must never ask for (HardState.Promised never decreases). Two
// unordered concurrent Saves of one group's hard state trip it too: their
// commit order, and so the surviving hard state, would be arbitrary.
func (l *Log) checkPromised(hs engine.HardState) {
	l.promised.Lock()
	defer l.promised.Unlock()
	if hs.Promised < l.promised.b {
		panic(fmt.Sprintf("store: group %d: hard state promised %v after %v", l.g, hs.Promised, l.promised.b))
	}
	l.promised.b = hs.Promised
}

// checkSnapshotLocked refuses a snapshot at slot below the stored one.
// Save calls it once without snapMu, as an early refusal, and once with it
// held, as the check that counts.
func (l *Log) checkSnapshotLocked(slot engine.Slot) error {
	if stored := l.snap.Load(); uint64(slot) < stored {
		return fmt.Errorf("%w: group %d: snapshot at slot %d, stored snapshot is at %d", ErrSnapshotOlder, l.g, slot, stored)
	}
	return nil
}

var _ engine.Storage = (*Log)(nil)

func newLog(s *Store, g engine.GroupID) *Log { return &Log{s: s, g: g} }

// Group returns the group this log belongs to.
func (l *Log) Group() engine.GroupID { return l.g }

// InitialState returns the stored hard state, or the zero HardState.
func (l *Log) InitialState() (engine.HardState, error) {
	if l.s.closed.Load() {
		return engine.HardState{}, ErrClosed
	}
	key := appendMetaKey(nil, l.g, kindHardState)
	val, closer, err := l.s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return engine.HardState{}, nil
	}
	if err != nil {
		return engine.HardState{}, wrapPebble(err, "read hard state")
	}
	defer closer.Close()
	return decodeHardState(l.g, key, val)
}

// Snapshot returns the stored snapshot (a copy the caller owns), or the zero
// Snapshot.
func (l *Log) Snapshot() (engine.Snapshot, error) {
	if l.s.closed.Load() {
		return engine.Snapshot{}, ErrClosed
	}
	key := appendMetaKey(nil, l.g, kindSnapData)
	val, closer, err := l.s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return engine.Snapshot{}, nil
	}
	if err != nil {
		return engine.Snapshot{}, wrapPebble(err, "read snapshot")
	}
	defer closer.Close()
	snap, err := decodeSnapData(l.g, key, val)
	if err != nil {
		return engine.Snapshot{}, err
	}
	// val belongs to Pebble until closer.Close.
	snap.Data = clone(snap.Data)
	if snap.Membership, err = l.snapshotMembership(snap.Slot); err != nil {
		return engine.Snapshot{}, err
	}
	return snap, nil
}

// snapshotMembership reads the membership stored with the snapshot at
// slot: zero (unknown) when none was stored.
func (l *Log) snapshotMembership(slot engine.Slot) (engine.Membership, error) {
	key := appendMetaKey(nil, l.g, kindSnapConf)
	val, closer, err := l.s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return engine.Membership{}, nil
	}
	if err != nil {
		return engine.Membership{}, wrapPebble(err, "read snapshot membership")
	}
	defer closer.Close()
	at, m, err := decodeSnapConf(l.g, key, val)
	if err != nil {
		return engine.Membership{}, err
	}
	if at != slot {
		// Written in the same batch as its snapshot, so a mismatch is
		// corruption, not an old record.
		return engine.Membership{}, &CorruptError{Group: l.g, kind: recSnapConf,
			Reason: fmt.Sprintf("belongs to the snapshot at slot %d, the stored one is at %d", at, slot)}
	}
	return m, nil
}

// FirstSlot returns the snapshot's slot + 1 (1 without a snapshot). It
// reads a cached value.
func (l *Log) FirstSlot() (engine.Slot, error) {
	return engine.Slot(l.snap.Load() + 1), nil
}

// LastSlot returns the highest stored slot, or the snapshot's slot when no
// entry is above it. It reads a cached value.
func (l *Log) LastSlot() (engine.Slot, error) {
	return engine.Slot(l.last.Load()), nil
}

// Entries returns the stored entries with lo <= Slot < hi in slot order,
// skipping holes. It returns the longest run whose Data add up to at most
// maxBytes, but at least one entry when there is one. It returns
// engine.ErrCompacted when lo is at or below the snapshot's slot, judged in
// the same consistent Pebble view as the entries it reads. The returned
// entries and their Data are the caller's.
func (l *Log) Entries(lo, hi engine.Slot, maxBytes uint64) ([]engine.Entry, error) {
	if l.s.closed.Load() {
		return nil, ErrClosed
	}
	// One iterator over [entry lo, snapshot slot record]: the record
	// orders right after the entries (keys.go), and an iterator sees one
	// point in time, so a snapshot committed concurrently is either seen
	// with its truncation or not at all.
	metaKey := appendMetaKey(nil, l.g, kindSnapMeta)
	it, err := l.s.db.NewIter(&pebble.IterOptions{
		LowerBound: entryKey(l.g, lo),
		UpperBound: appendMetaKey(nil, l.g, kindSnapMeta+1),
	})
	if err != nil {
		return nil, wrapPebble(err, "read entries")
	}
	defer it.Close()
	snap, err := l.snapMetaAt(it, metaKey)
	if err != nil {
		return nil, err
	}
	if lo <= snap {
		return nil, engine.ErrCompacted
	}
	if hi <= lo {
		return nil, nil
	}
	end := entryEnd(l.g, hi)
	var (
		ents []engine.Entry
		size uint64
	)
	for valid := it.First(); valid && bytes.Compare(it.Key(), end) < 0; valid = it.Next() {
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, wrapPebble(err, "read entries")
		}
		e, err := decodeEntry(it.Key(), val)
		if err != nil {
			return nil, err
		}
		size += uint64(len(e.Data))
		if len(ents) > 0 && size > maxBytes {
			break
		}
		// Pebble's iterator memory is only valid until the next step.
		e.Data = clone(e.Data)
		ents = append(ents, e)
	}
	if err := it.Error(); err != nil {
		return nil, wrapPebble(err, "read entries")
	}
	return ents, nil
}

// snapMetaAt returns the snapshot's slot (0 without a snapshot) as seen by
// it, whose bounds must include key, the record's key.
func (l *Log) snapMetaAt(it *pebble.Iterator, key []byte) (engine.Slot, error) {
	if !it.SeekGE(key) || string(it.Key()) != string(key) {
		return 0, wrapPebble(it.Error(), "read snapshot slot")
	}
	val, err := it.ValueAndErr()
	if err != nil {
		return 0, wrapPebble(err, "read snapshot slot")
	}
	return decodeSnapMeta(l.g, key, val)
}

// readSnapMeta returns the stored snapshot's slot (0 without a snapshot).
func (l *Log) readSnapMeta() (engine.Slot, error) {
	key := appendMetaKey(nil, l.g, kindSnapMeta)
	val, closer, err := l.s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, wrapPebble(err, "read snapshot slot")
	}
	defer closer.Close()
	return decodeSnapMeta(l.g, key, val)
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
