package engine

import (
	"fmt"
	"sort"
)

// simCheckPromiseMonotonic makes memStorage reject a HardState whose
// Promised goes backwards. TestSimCatchesPlantedBugs turns it off to show
// that the protocol-level checks catch a forgotten promise too.
var simCheckPromiseMonotonic = true

// memStorage is the simulator's durable state of one node: what survives a
// crash. The simulator writes a Ready into it only when it decides that
// Ready's sync completed; everything else is lost on crash.
type memStorage struct {
	hs   HardState
	snap Snapshot
	ents map[Slot]Entry
	// fault, if set, is asked before every read; an error it returns is
	// the read's (the simulator's storage faults, simgray_test.go).
	fault func(op string) error
}

func (s *memStorage) injected(op string) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(op)
}

func newMemStorage() *memStorage { return &memStorage{ents: make(map[Slot]Entry)} }

func (s *memStorage) InitialState() (HardState, error) {
	if err := s.injected("InitialState"); err != nil {
		return HardState{}, err
	}
	return s.hs, nil
}

func (s *memStorage) Snapshot() (Snapshot, error) {
	if err := s.injected("Snapshot"); err != nil {
		return Snapshot{}, err
	}
	return s.snap, nil
}

func (s *memStorage) FirstSlot() (Slot, error) {
	if err := s.injected("FirstSlot"); err != nil {
		return 0, err
	}
	return s.snap.Slot + 1, nil
}

func (s *memStorage) LastSlot() (Slot, error) {
	if err := s.injected("LastSlot"); err != nil {
		return 0, err
	}
	last := s.snap.Slot
	for sl := range s.ents {
		last = max(last, sl)
	}
	return last, nil
}

func (s *memStorage) Entries(lo, hi Slot, maxBytes uint64) ([]Entry, error) {
	if err := s.injected("Entries"); err != nil {
		return nil, err
	}
	if lo <= s.snap.Slot {
		return nil, ErrCompacted
	}
	var slots []Slot
	for sl := range s.ents {
		if sl >= lo && sl < hi {
			slots = append(slots, sl)
		}
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i] < slots[j] })
	var out []Entry
	var size uint64
	for _, sl := range slots {
		en := s.ents[sl]
		if len(out) > 0 && size+uint64(len(en.Data)) > maxBytes {
			break
		}
		size += uint64(len(en.Data))
		out = append(out, en)
	}
	return out, nil
}

// persist makes rd's state durable. It returns an error if the engine asked
// for something no correct engine asks (a promise going backwards).
func (s *memStorage) persist(rd *Ready) error {
	if rd.SaveHardState {
		if rd.HardState.Promised < s.hs.Promised && simCheckPromiseMonotonic {
			return fmt.Errorf("durable promise goes back from %v to %v", s.hs.Promised, rd.HardState.Promised)
		}
		s.hs = rd.HardState
	}
	if rd.Snapshot != nil && rd.Snapshot.Slot > s.snap.Slot {
		s.setSnapshot(*rd.Snapshot)
	}
	for _, en := range rd.Entries {
		if en.Slot > s.snap.Slot {
			s.ents[en.Slot] = en
		}
	}
	return nil
}

func (s *memStorage) setSnapshot(snap Snapshot) {
	s.snap = snap
	for sl := range s.ents {
		if sl <= snap.Slot {
			delete(s.ents, sl)
		}
	}
}
