package store

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mpaxos/mpaxos/engine"
)

// TestReadsDuringSaves reads the log while a writer appends and snapshots,
// as the engine does while the node's writer persists later Readies. A
// read either reports ErrCompacted or returns the whole contiguous range
// between the FirstSlot and LastSlot it saw: a truncation is never seen as
// holes.
func TestReadsDuringSaves(t *testing.T) {
	s := mustOpen(t, memConfig(vfs.NewMem()))
	defer s.Close()
	const (
		nSlots    = 3000
		snapEvery = 40
		readers   = 2
	)
	l := s.Log(0)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads, compacted [readers]int
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				first, _ := l.FirstSlot()
				last, _ := l.LastSlot()
				if last < first {
					continue
				}
				ents, err := l.Entries(first, last+1, 1<<30)
				if errors.Is(err, engine.ErrCompacted) {
					compacted[r]++
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				reads[r]++
				if len(ents) != int(last-first+1) {
					t.Errorf("Entries(%d, %d) returned %d entries: %v", first, last+1, len(ents), slots(ents))
					return
				}
				for i, e := range ents {
					if e.Slot != first+engine.Slot(i) || string(e.Data) != string(payload(0, e.Slot, 16)) {
						t.Errorf("entry %d of Entries(%d, %d) is %+v", i, first, last+1, e)
						return
					}
				}
			}
		}()
	}
	for slot := engine.Slot(1); slot <= nSlots; slot++ {
		w := Write{Entries: []engine.Entry{ent(0, slot, 1, 16)}}
		if slot%snapEvery == 0 {
			w.Snapshot = &engine.Snapshot{Slot: slot - snapEvery/2}
		}
		if err := s.Save(w); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	t.Logf("reads %v, compacted %v", reads, compacted)
}

// TestConcurrentSaveGroups saves to several groups from several goroutines
// (group commit) and checks each group's log afterwards.
func TestConcurrentSaveGroups(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, memConfig(fs))
	const groups, perGroup = 4, 300
	var wg sync.WaitGroup
	for g := engine.GroupID(0); g < groups; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slot := engine.Slot(1); slot <= perGroup; slot++ {
				hs := engine.HardState{Promised: engine.Ballot(g + 1), Commit: slot}
				if err := s.Save(Write{Group: g, HardState: &hs, Entries: []engine.Entry{ent(g, slot, hs.Promised, 24)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.Close()
	s = mustOpen(t, memConfig(fs))
	defer s.Close()
	for g := engine.GroupID(0); g < groups; g++ {
		l := s.Log(g)
		hs, err := l.InitialState()
		if err != nil || hs != (engine.HardState{Promised: engine.Ballot(g + 1), Commit: perGroup}) {
			t.Errorf("group %d: hard state %+v, %v", g, hs, err)
		}
		ents, err := l.Entries(1, perGroup+1, 1<<30)
		if err != nil || len(ents) != perGroup {
			t.Fatalf("group %d: %d entries, %v", g, len(ents), err)
		}
		for _, e := range ents {
			if string(e.Data) != string(payload(g, e.Slot, 24)) {
				t.Fatalf("group %d slot %d: wrong data", g, e.Slot)
			}
		}
		if last, _ := l.LastSlot(); last != perGroup {
			t.Errorf("group %d: LastSlot %d", g, last)
		}
	}
}

// TestGroupCommitSharesSyncs checks that concurrent synced Saves share WAL
// syncs (Pebble's commit pipeline) rather than syncing once each. The
// filesystem's sync takes 2 ms, as a disk's would; the saves that queue
// meanwhile must ride on the next sync. The bound is loose (fewer syncs than
// half the saves) so CPU contention cannot make it flake.
func TestGroupCommitSharesSyncs(t *testing.T) {
	fs := newSyncCountingFS(vfs.NewMem())
	fs.delay = 2 * time.Millisecond
	s := mustOpen(t, memConfig(fs))
	defer s.Close()
	const writers, each = 8, 25
	before := fs.syncs.Load()
	var wg sync.WaitGroup
	for g := engine.GroupID(0); g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slot := engine.Slot(1); slot <= each; slot++ {
				if err := s.Save(Write{Group: g, Entries: []engine.Entry{ent(g, slot, 1, 8)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	syncs := fs.syncs.Load() - before
	t.Logf("%d synced saves, %d syncs", writers*each, syncs)
	if syncs == 0 || syncs > writers*each/2 {
		t.Errorf("%d synced saves took %d syncs; want between 1 and %d", writers*each, syncs, writers*each/2)
	}
}
