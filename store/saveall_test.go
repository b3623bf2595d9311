package store

import (
	"errors"
	"testing"

	"github.com/mpaxos/mpaxos/engine"
)

// TestSaveAll: several groups' writes go in as one batch, each group's
// entries and hard state read back as if saved alone (also after a crash
// and reopen), and a write with a snapshot is refused whole.
func TestSaveAll(t *testing.T) {
	s := mustOpen(t, memConfig(NewCrashableFS()))
	defer func() { s.Close() }()
	var ws []Write
	hss := make([]engine.HardState, 4)
	for g := engine.GroupID(0); g < 4; g++ {
		hss[g] = engine.HardState{Promised: engine.MakeBallot(uint64(g)+1, 1), Commit: 1}
		ws = append(ws, Write{Group: g, HardState: &hss[g], Entries: []engine.Entry{
			ent(g, 1, hss[g].Promised, 10), ent(g, 2, hss[g].Promised, int(g)),
		}})
	}
	if err := s.SaveAll(ws); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store) {
		t.Helper()
		for g := engine.GroupID(0); g < 4; g++ {
			l := s.Log(g)
			if got, _ := l.InitialState(); got != hss[g] {
				t.Errorf("group %d: hard state %+v, want %+v", g, got, hss[g])
			}
			if last, _ := l.LastSlot(); last != 2 {
				t.Errorf("group %d: last slot %d, want 2", g, last)
			}
			ents, err := l.Entries(1, 3, 1<<20)
			if err != nil || len(ents) != 2 || len(ents[1].Data) != len(payload(g, 2, int(g))) {
				t.Errorf("group %d: entries %v, %v", g, slots(ents), err)
			}
		}
	}
	check(s)
	s = crashReopen(t, s)
	check(s)
	snap := engine.Snapshot{Slot: 2, Data: []byte("x")}
	bad := []Write{{Group: 5, Entries: []engine.Entry{ent(5, 1, 1, 1)}}, {Group: 6, Snapshot: &snap}}
	if err := s.SaveAll(bad); !errors.Is(err, ErrInvalidWrite) {
		t.Fatalf("SaveAll with a snapshot: %v, want ErrInvalidWrite", err)
	}
	if last, _ := s.Log(5).LastSlot(); last != 0 {
		t.Fatalf("a refused SaveAll stored group 5's entry (last slot %d)", last)
	}
}
