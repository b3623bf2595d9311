package engine

import "fmt"

// simCheckPromiseMonotonic makes memStorage reject a HardState whose
// Promised goes backwards. TestSimCatchesPlantedBugs turns it off to show
// that the protocol-level checks catch a forgotten promise too.
var simCheckPromiseMonotonic = true

// memStorage is the tests' and the simulator's durable state of one node:
// what survives a crash. The simulator writes a Ready into it only when it
// decides that Ready's sync completed; everything else is lost on crash.
// It is a MemoryStorage with two things only tests want: read faults, and
// a check that the engine never asks to persist a promise going backwards.
type memStorage struct {
	*MemoryStorage
	// fault, if set, is asked before every read; an error it returns is
	// the read's (the simulator's storage faults, simgray_test.go).
	fault func(op string) error
}

func newMemStorage() *memStorage { return &memStorage{MemoryStorage: NewMemoryStorage()} }

func (s *memStorage) injected(op string) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(op)
}

func (s *memStorage) InitialState() (HardState, error) {
	if err := s.injected("InitialState"); err != nil {
		return HardState{}, err
	}
	return s.MemoryStorage.InitialState()
}

func (s *memStorage) Snapshot() (Snapshot, error) {
	if err := s.injected("Snapshot"); err != nil {
		return Snapshot{}, err
	}
	return s.MemoryStorage.Snapshot()
}

func (s *memStorage) FirstSlot() (Slot, error) {
	if err := s.injected("FirstSlot"); err != nil {
		return 0, err
	}
	return s.MemoryStorage.FirstSlot()
}

func (s *memStorage) LastSlot() (Slot, error) {
	if err := s.injected("LastSlot"); err != nil {
		return 0, err
	}
	return s.MemoryStorage.LastSlot()
}

func (s *memStorage) Entries(lo, hi Slot, maxBytes uint64) ([]Entry, error) {
	if err := s.injected("Entries"); err != nil {
		return nil, err
	}
	return s.MemoryStorage.Entries(lo, hi, maxBytes)
}

// persist makes rd's state durable. It returns an error if the engine asked
// for something no correct engine asks (a promise going backwards).
func (s *memStorage) persist(rd *Ready) error {
	if rd.SaveHardState && simCheckPromiseMonotonic {
		if hs := s.hardState(); rd.HardState.Promised < hs.Promised {
			return fmt.Errorf("durable promise goes back from %v to %v", hs.Promised, rd.HardState.Promised)
		}
	}
	return s.Save(rd)
}

// hardState, snapshot and entry read the stored state past the fault hook:
// the simulator's and the tests' own view, not the engine's.
func (s *memStorage) hardState() HardState {
	hs, _ := s.MemoryStorage.InitialState()
	return hs
}

func (s *memStorage) snapshot() Snapshot {
	snap, _ := s.MemoryStorage.Snapshot()
	return snap
}
