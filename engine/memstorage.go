package engine

import (
	"slices"
	"sync"
)

// MemoryStorage is a Storage that keeps a node's "durable" state in memory,
// for tests, examples and simulations that drive the engine without a disk.
// It is not durable: everything it holds is lost with the process, so a
// node using it cannot keep a promise across a restart and must never run
// in a real cluster (store/ is the durable Storage).
//
// The caller persists each Ready into it with Save, and records a snapshot
// taken of its state machine with SetSnapshot. It keeps the Data of the
// entries and snapshots it is given without copying them, and Entries
// returns entries sharing that Data: neither side may modify it afterwards.
// It is safe for concurrent use, as Storage requires.
type MemoryStorage struct {
	mu struct {
		sync.Mutex
		hs   HardState
		snap Snapshot
		ents map[Slot]Entry
	}
}

var _ Storage = (*MemoryStorage)(nil)

// NewMemoryStorage returns an empty MemoryStorage: the state of a new node.
func NewMemoryStorage() *MemoryStorage {
	s := &MemoryStorage{}
	s.mu.ents = make(map[Slot]Entry)
	return s
}

// InitialState implements Storage.
func (s *MemoryStorage) InitialState() (HardState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.hs, nil
}

// Snapshot implements Storage.
func (s *MemoryStorage) Snapshot() (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.snap, nil
}

// FirstSlot implements Storage.
func (s *MemoryStorage) FirstSlot() (Slot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.snap.Slot + 1, nil
}

// LastSlot implements Storage.
func (s *MemoryStorage) LastSlot() (Slot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.mu.snap.Slot
	for sl := range s.mu.ents {
		last = max(last, sl)
	}
	return last, nil
}

// Entries implements Storage. The log is a map, so it sorts the slots in
// range on every call: fine for tests, not for a hot path.
func (s *MemoryStorage) Entries(lo, hi Slot, maxBytes uint64) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lo <= s.mu.snap.Slot {
		return nil, ErrCompacted
	}
	var slots []Slot
	for sl := range s.mu.ents {
		if sl >= lo && sl < hi {
			slots = append(slots, sl)
		}
	}
	slices.Sort(slots)
	var out []Entry
	var size uint64
	for _, sl := range slots {
		en := s.mu.ents[sl]
		if len(out) > 0 && size+uint64(len(en.Data)) > maxBytes {
			break
		}
		size += uint64(len(en.Data))
		out = append(out, en)
	}
	return out, nil
}

// Save persists what rd asks to persist (rule 3 of the Ready contract in
// doc.go): its HardState when SaveHardState is set, its Snapshot when newer
// than the one held, and its Entries above the snapshot. It cannot fail;
// the error is there so that callers handle it as they must a real store's.
func (s *MemoryStorage) Save(rd *Ready) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rd.SaveHardState {
		s.mu.hs = rd.HardState
	}
	if rd.Snapshot != nil && rd.Snapshot.Slot > s.mu.snap.Slot {
		s.setSnapshotLocked(*rd.Snapshot)
	}
	for _, en := range rd.Entries {
		if en.Slot > s.mu.snap.Slot {
			s.mu.ents[en.Slot] = en
		}
	}
	return nil
}

// SetSnapshot records snap, a snapshot of the state machine taken at
// snap.Slot, and drops the entries at or below it, as a runtime compacts
// its log once a snapshot is durable.
func (s *MemoryStorage) SetSnapshot(snap Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setSnapshotLocked(snap)
}

func (s *MemoryStorage) setSnapshotLocked(snap Snapshot) {
	s.mu.snap = snap
	for sl := range s.mu.ents {
		if sl <= snap.Slot {
			delete(s.mu.ents, sl)
		}
	}
}
