package engine

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

func TestMemoryStorage(t *testing.T) {
	s := NewMemoryStorage()
	if first, _ := s.FirstSlot(); first != 1 {
		t.Fatalf("new storage FirstSlot = %d, want 1", first)
	}
	b := MakeBallot(1, 1)
	ent := func(sl Slot, data string) Entry {
		return Entry{Slot: sl, Ballot: b, Type: EntryBatch, Data: []byte(data)}
	}
	// Slot 4 is a hole: an acceptor may accept 5 before 4.
	rd := Ready{
		SaveHardState: true,
		HardState:     HardState{Promised: b, Commit: 2},
		Entries:       []Entry{ent(1, "a"), ent(2, "bb"), ent(3, "x"), ent(3, "ccc"), ent(5, "e")},
	}
	if err := s.Save(&rd); err != nil {
		t.Fatal(err)
	}
	if hs, _ := s.InitialState(); hs != rd.HardState {
		t.Fatalf("InitialState = %+v, want %+v", hs, rd.HardState)
	}
	if last, _ := s.LastSlot(); last != 5 {
		t.Fatalf("LastSlot = %d, want 5", last)
	}
	slots := func(ents []Entry) (out []Slot) {
		for _, en := range ents {
			out = append(out, en.Slot)
		}
		return out
	}
	for _, tc := range []struct {
		lo, hi   Slot
		maxBytes uint64
		want     []Slot
	}{
		{1, 6, 100, []Slot{1, 2, 3, 5}},
		{1, 3, 100, []Slot{1, 2}},
		{1, 6, 3, []Slot{1, 2}}, // stops once Data add up to maxBytes
		{3, 6, 0, []Slot{3}},    // but returns at least one entry
		{4, 5, 100, nil},        // the hole
	} {
		got, err := s.Entries(tc.lo, tc.hi, tc.maxBytes)
		if err != nil || !slices.Equal(slots(got), tc.want) {
			t.Errorf("Entries(%d, %d, %d) = %v, %v; want %v", tc.lo, tc.hi, tc.maxBytes, slots(got), err, tc.want)
		}
	}
	if got, _ := s.Entries(3, 4, 100); len(got) != 1 || string(got[0].Data) != "ccc" {
		t.Errorf("slot 3 = %+v, want the later entry of the Ready (ccc)", got)
	}

	// A snapshot drops the entries at or below it; an older one is ignored.
	s.SetSnapshot(Snapshot{Slot: 2, Data: []byte("s")})
	if err := s.Save(&Ready{Snapshot: &Snapshot{Slot: 1}, Entries: []Entry{ent(2, "old")}}); err != nil {
		t.Fatal(err)
	}
	if snap, _ := s.Snapshot(); snap.Slot != 2 || string(snap.Data) != "s" {
		t.Fatalf("Snapshot = %+v, want slot 2", snap)
	}
	if first, _ := s.FirstSlot(); first != 3 {
		t.Fatalf("FirstSlot after a snapshot at 2 = %d, want 3", first)
	}
	if _, err := s.Entries(2, 6, 100); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Entries from a compacted slot: err %v, want ErrCompacted", err)
	}
	if got, _ := s.Entries(3, 6, 100); !slices.Equal(slots(got), []Slot{3, 5}) {
		t.Fatalf("Entries after the snapshot = %v, want [3 5]", slots(got))
	}
	if hs, _ := s.InitialState(); hs != rd.HardState {
		t.Fatalf("a Ready without SaveHardState changed the hard state to %+v", hs)
	}
}

// Storage must be safe to read while the writer goroutine persists later
// Readies; run with -race this shows MemoryStorage is.
func TestMemoryStorageConcurrent(t *testing.T) {
	s := NewMemoryStorage()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sl := Slot(1); sl <= 200; sl++ {
			_ = s.Save(&Ready{SaveHardState: true, HardState: HardState{Commit: sl}, Entries: []Entry{{Slot: sl, Type: EntryNoop}}})
			if sl%50 == 0 {
				s.SetSnapshot(Snapshot{Slot: sl - 10})
			}
		}
	}()
	for range 200 {
		_, _ = s.InitialState()
		_, _ = s.LastSlot()
		if first, err := s.FirstSlot(); err == nil {
			_, _ = s.Entries(first, first+5, 1<<20)
		}
	}
	wg.Wait()
	if last, _ := s.LastSlot(); last != 200 {
		t.Fatalf("LastSlot = %d, want 200", last)
	}
}
