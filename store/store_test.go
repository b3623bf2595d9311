package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mpaxos/mpaxos/engine"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func memConfig(fs vfs.FS) Config {
	cfg := DefaultConfig()
	cfg.Dir = "db"
	cfg.FS = fs
	cfg.Logger = quiet
	cfg.MemTableSize = 1 << 20
	return cfg
}

// crashReopen simulates a power loss under s (CrashClose: only synced
// writes survive) and opens the store again on what is left.
func crashReopen(t testing.TB, s *Store) *Store {
	t.Helper()
	crashed, err := s.CrashClose()
	if err != nil {
		t.Fatal(err)
	}
	return mustOpen(t, memConfig(crashed))
}

func mustOpen(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// payload is the deterministic content of (group, slot), so a reader can
// check what it gets back without remembering it.
func payload(g engine.GroupID, slot engine.Slot, n int) []byte {
	b := make([]byte, n)
	x := uint64(g)*0x9e3779b97f4a7c15 ^ uint64(slot)*0xbf58476d1ce4e5b9
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func ent(g engine.GroupID, slot engine.Slot, ballot engine.Ballot, n int) engine.Entry {
	if n == 0 {
		return engine.Entry{Slot: slot, Ballot: ballot, Type: engine.EntryNoop}
	}
	return engine.Entry{Slot: slot, Ballot: ballot, Type: engine.EntryBatch, Data: payload(g, slot, n)}
}

func slots(ents []engine.Entry) []engine.Slot {
	var s []engine.Slot
	for _, e := range ents {
		s = append(s, e.Slot)
	}
	return s
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Dir = "x"
	if err := ok.Validate(); err != nil {
		t.Fatalf("default config with Dir: %v", err)
	}
	bad := Config{Durability: 7, CacheSize: -1, MemTableSize: 10}
	err := bad.Validate()
	for _, want := range []string{"Dir", "Durability", "CacheSize", "MemTableSize"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}
}

func TestSaveAndRead(t *testing.T) {
	s := mustOpen(t, memConfig(vfs.NewMem()))
	defer s.Close()
	const g = 3
	hs := engine.HardState{Promised: engine.MakeBallot(2, 1), Commit: 4}
	// Slot 6 is a hole: an acceptor may accept 7 before 6.
	w := Write{Group: g, HardState: &hs, Entries: []engine.Entry{
		ent(g, 1, hs.Promised, 10), ent(g, 2, hs.Promised, 0), ent(g, 3, hs.Promised, 20),
		ent(g, 4, hs.Promised, 30), ent(g, 5, hs.Promised, 40), ent(g, 7, hs.Promised, 50),
	}}
	if err := s.Save(w); err != nil {
		t.Fatal(err)
	}
	// Another group's records must not leak into g's reads.
	if err := s.Save(Write{Group: g + 1, Entries: []engine.Entry{ent(g+1, 8, 1, 5)}}); err != nil {
		t.Fatal(err)
	}
	l := s.Log(g)
	if got, _ := l.InitialState(); got != hs {
		t.Errorf("InitialState = %+v, want %+v", got, hs)
	}
	if f, _ := l.FirstSlot(); f != 1 {
		t.Errorf("FirstSlot = %d, want 1", f)
	}
	if last, _ := l.LastSlot(); last != 7 {
		t.Errorf("LastSlot = %d, want 7", last)
	}
	tests := []struct {
		lo, hi   engine.Slot
		maxBytes uint64
		want     []engine.Slot
	}{
		{1, 100, 1 << 20, []engine.Slot{1, 2, 3, 4, 5, 7}},
		{2, 4, 1 << 20, []engine.Slot{2, 3}},
		{6, 8, 1 << 20, []engine.Slot{7}},
		{8, 20, 1 << 20, nil},
		{5, 5, 1 << 20, nil},
		{1, 100, 0, []engine.Slot{1}},        // at least one entry
		{1, 100, 30, []engine.Slot{1, 2, 3}}, // 10+0+20 <= 30, +30 > 30
		{3, 100, 49, []engine.Slot{3}},
		{3, 100, 50, []engine.Slot{3, 4}},
	}
	for _, tc := range tests {
		got, err := l.Entries(tc.lo, tc.hi, tc.maxBytes)
		if err != nil {
			t.Errorf("Entries(%d, %d, %d): %v", tc.lo, tc.hi, tc.maxBytes, err)
			continue
		}
		if fmt.Sprint(slots(got)) != fmt.Sprint(tc.want) {
			t.Errorf("Entries(%d, %d, %d) = slots %v, want %v", tc.lo, tc.hi, tc.maxBytes, slots(got), tc.want)
		}
		for _, e := range got {
			var want engine.Entry
			for _, we := range w.Entries {
				if we.Slot == e.Slot {
					want = we
				}
			}
			if e.Ballot != want.Ballot || e.Type != want.Type || !bytes.Equal(e.Data, want.Data) {
				t.Errorf("slot %d = %+v, want %+v", e.Slot, e, want)
			}
		}
	}
	if _, err := l.Entries(0, 5, 100); !errors.Is(err, engine.ErrCompacted) {
		t.Errorf("Entries(0, ...) = %v, want ErrCompacted", err)
	}
	// A later Write replaces an entry at the same slot.
	repl := ent(g, 3, engine.MakeBallot(3, 2), 7)
	if err := s.Save(Write{Group: g, Entries: []engine.Entry{repl}}); err != nil {
		t.Fatal(err)
	}
	got, err := l.Entries(3, 4, 100)
	if err != nil || len(got) != 1 || got[0].Ballot != repl.Ballot || !bytes.Equal(got[0].Data, repl.Data) {
		t.Errorf("after replace: %+v, %v", got, err)
	}
}

func TestEntriesDataIsOwned(t *testing.T) {
	s := mustOpen(t, memConfig(vfs.NewMem()))
	defer s.Close()
	var ents []engine.Entry
	for i := engine.Slot(1); i <= 100; i++ {
		ents = append(ents, ent(0, i, 1, 64))
	}
	if err := s.Save(Write{Entries: ents}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Log(0).Entries(1, 101, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite everything Pebble might reuse, then check what we hold.
	for i := engine.Slot(1); i <= 100; i++ {
		ents[i-1] = ent(0, i, 2, 64)
		ents[i-1].Data[0]++
	}
	if err := s.Save(Write{Entries: ents}); err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if !bytes.Equal(e.Data, payload(0, e.Slot, 64)) {
			t.Fatalf("slot %d data changed under the caller", e.Slot)
		}
	}
}

func TestSnapshotTruncatesAndReopens(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, memConfig(fs))
	const g = 1
	var ents []engine.Entry
	for i := engine.Slot(1); i <= 50; i++ {
		ents = append(ents, ent(g, i, 5, 16))
	}
	if err := s.Save(Write{Group: g, Entries: ents}); err != nil {
		t.Fatal(err)
	}
	snap := engine.Snapshot{Slot: 30, Data: []byte("state at 30")}
	if err := s.SaveSnapshot(g, snap); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store, wantLast engine.Slot) {
		t.Helper()
		l := s.Log(g)
		if f, _ := l.FirstSlot(); f != 31 {
			t.Errorf("FirstSlot = %d, want 31", f)
		}
		if last, _ := l.LastSlot(); last != wantLast {
			t.Errorf("LastSlot = %d, want %d", last, wantLast)
		}
		got, err := l.Snapshot()
		if err != nil || got.Slot != snap.Slot || !bytes.Equal(got.Data, snap.Data) {
			t.Errorf("Snapshot = %+v, %v", got, err)
		}
		for _, lo := range []engine.Slot{1, 30} {
			if _, err := l.Entries(lo, 60, 1<<20); !errors.Is(err, engine.ErrCompacted) {
				t.Errorf("Entries(%d, ...) = %v, want ErrCompacted", lo, err)
			}
		}
		es, err := l.Entries(31, 60, 1<<20)
		if err != nil || len(es) != int(wantLast-30) || (len(es) > 0 && es[0].Slot != 31) {
			t.Errorf("Entries(31, 60) = %v, %v", slots(es), err)
		}
		// The range deletion really removed the entries: look underneath.
		it, _ := s.db.NewIter(nil)
		for ok := it.SeekGE(entryKey(g, 0)); ok && bytes.Compare(it.Key(), entryKey(g, 31)) < 0; ok = it.Next() {
			t.Errorf("key %x survived the truncation", it.Key())
		}
		it.Close()
	}
	check(s, 50)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, memConfig(fs))
	check(s, 50)
	// A snapshot beyond the last entry (received from the leader) moves
	// LastSlot up with it; entries in the same Write at or below it vanish.
	snap = engine.Snapshot{Slot: 80, Data: []byte("state at 80")}
	if err := s.Save(Write{Group: g, Snapshot: &snap, Entries: []engine.Entry{ent(g, 70, 6, 3), ent(g, 81, 6, 3)}}); err != nil {
		t.Fatal(err)
	}
	l := s.Log(g)
	if f, _ := l.FirstSlot(); f != 81 {
		t.Errorf("FirstSlot = %d, want 81", f)
	}
	if last, _ := l.LastSlot(); last != 81 {
		t.Errorf("LastSlot = %d, want 81", last)
	}
	if err := s.SaveSnapshot(g, engine.Snapshot{Slot: 79}); !errors.Is(err, ErrSnapshotOlder) {
		t.Errorf("older snapshot: %v, want ErrSnapshotOlder", err)
	}
	s.Close()
	s = mustOpen(t, memConfig(fs))
	defer s.Close()
	if last, _ := s.Log(g).LastSlot(); last != 81 {
		t.Errorf("after reopen LastSlot = %d, want 81", last)
	}
	if f, _ := s.Log(g).FirstSlot(); f != 81 {
		t.Errorf("after reopen FirstSlot = %d, want 81", f)
	}
}

func TestSaveRejects(t *testing.T) {
	s := mustOpen(t, memConfig(vfs.NewMem()))
	tests := []Write{
		{Entries: []engine.Entry{{Slot: 0, Type: engine.EntryBatch}}},
		{Entries: []engine.Entry{{Slot: 1, Type: 9}}},
		{Snapshot: &engine.Snapshot{}},
	}
	for _, w := range tests {
		if err := s.Save(w); !errors.Is(err, ErrInvalidWrite) {
			t.Errorf("Save(%+v) = %v, want ErrInvalidWrite", w, err)
		}
	}
	s.Close()
	if err := s.Save(Write{Entries: []engine.Entry{ent(0, 1, 1, 1)}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Save after Close = %v, want ErrClosed", err)
	}
}

// TestCrashDropsUnsynced checks the crash helper and, through it, that Sync
// writes survive a power loss and NoSync ones may not.
func TestCrashDropsUnsynced(t *testing.T) {
	fs := NewCrashableFS()
	hs := engine.HardState{Promised: 7, Commit: 1}
	s := mustOpen(t, memConfig(fs))
	if err := s.Save(Write{HardState: &hs, Entries: []engine.Entry{ent(0, 1, 7, 8)}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	cfg := memConfig(fs)
	cfg.Durability = NoSync
	s = mustOpen(t, cfg)
	hs2 := engine.HardState{Promised: 9, Commit: 2}
	if err := s.Save(Write{HardState: &hs2, Entries: []engine.Entry{ent(0, 2, 9, 8)}}); err != nil {
		t.Fatal(err)
	}
	if last, _ := s.Log(0).LastSlot(); last != 2 {
		t.Fatalf("LastSlot before crash = %d", last)
	}
	s = crashReopen(t, s)
	defer s.Close()
	l := s.Log(0)
	if got, _ := l.InitialState(); got != hs {
		t.Errorf("hard state after crash = %+v, want the synced %+v", got, hs)
	}
	if last, _ := l.LastSlot(); last != 1 {
		t.Errorf("LastSlot after crash = %d, want 1 (slot 2 was never synced)", last)
	}
	if _, err := (&Store{fs: vfs.Default}).CrashClose(); err == nil {
		t.Errorf("CrashClose on the real disk succeeded")
	}
}

func TestFromReady(t *testing.T) {
	rd := engine.Ready{HardState: engine.HardState{Promised: 3}, Entries: []engine.Entry{ent(0, 1, 3, 1)}}
	if w := FromReady(2, &rd); w.HardState != nil || len(w.Entries) != 1 || w.Group != 2 {
		t.Errorf("FromReady without SaveHardState = %+v", w)
	}
	rd.SaveHardState = true
	if w := FromReady(2, &rd); w.HardState == nil || *w.HardState != rd.HardState || !w.NoSync {
		t.Errorf("FromReady with SaveHardState, MustSync false = %+v", w)
	}
	rd.MustSync = true
	if w := FromReady(2, &rd); w.NoSync {
		t.Errorf("FromReady with MustSync = %+v", w)
	}
}

// TestNoSyncWrite: a Write with NoSync in a Sync store is lost by a crash
// until the next synced Save, which makes it durable too (Pebble's WAL
// keeps the order). The node writes commit-only hard states this way.
func TestNoSyncWrite(t *testing.T) {
	fs := NewCrashableFS()
	s := mustOpen(t, memConfig(fs))
	synced := engine.HardState{Promised: 3, Commit: 1}
	if err := s.Save(Write{HardState: &synced, Entries: []engine.Entry{ent(0, 1, 3, 8)}}); err != nil {
		t.Fatal(err)
	}
	lazy := engine.HardState{Promised: 3, Commit: 2}
	if err := s.Save(Write{HardState: &lazy, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	s = crashReopen(t, s)
	if got, _ := s.Log(0).InitialState(); got != synced {
		t.Errorf("hard state after a crash = %+v, want the synced %+v", got, synced)
	}
	if err := s.Save(Write{HardState: &lazy, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(Write{Entries: []engine.Entry{ent(0, 2, 3, 8)}}); err != nil {
		t.Fatal(err)
	}
	s = crashReopen(t, s)
	defer s.Close()
	if got, _ := s.Log(0).InitialState(); got != lazy {
		t.Errorf("hard state after a later synced Save and a crash = %+v, want %+v", got, lazy)
	}
}
