package store

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mpaxos/mpaxos/engine"
)

// TestWALSpareRecovery writes through enough memtable rotations that Pebble
// takes zero-filled spares as WALs, crashes the filesystem (only synced
// data and synced directory entries survive), and checks that every synced
// entry is read back intact: the zeroed tail of a spare WAL reads as the
// end of the log, and the spare's rename is durable with Pebble's sync of
// the directory.
func TestWALSpareRecovery(t *testing.T) {
	const size = 8 << 10 // 1 MiB memtables rotate every ~100 entries
	fs := NewCrashableFS()
	s := mustOpen(t, memConfig(fs))
	hs := engine.HardState{Promised: 3}
	var last engine.Slot
	for last < 2000 && s.spare.spares() < 3 {
		last++
		hs.Commit = last
		if err := s.Save(Write{HardState: &hs, Entries: []engine.Entry{ent(0, last, 3, size)}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.spare.spares(); n == 0 {
		t.Fatalf("Pebble took no WAL spare in %d writes of %d bytes", last, size)
	}
	t.Logf("%d spares used as WALs in %d writes", s.spare.spares(), last)
	s = crashReopen(t, s)
	defer s.Close()
	l := s.Log(0)
	if got, _ := l.InitialState(); got != hs {
		t.Errorf("hard state after crash = %+v, want %+v", got, hs)
	}
	ents, err := l.Entries(1, last+1, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != int(last) {
		t.Fatalf("read back %d entries after the crash, want %d", len(ents), last)
	}
	for i, e := range ents {
		if e.Slot != engine.Slot(i+1) || !bytes.Equal(e.Data, payload(0, e.Slot, size)) {
			t.Fatalf("entry %d after the crash: slot %d, %d bytes, wrong content", i, e.Slot, len(e.Data))
		}
	}
	// Writing on after recovery goes on using spares.
	hs.Commit = last + 1
	if err := s.Save(Write{HardState: &hs, Entries: []engine.Entry{ent(0, last+1, 3, size)}}); err != nil {
		t.Fatal(err)
	}
}

// TestWALSpareOnlyWithSync: with NoSync nothing waits for a sync, so no
// spare is written.
func TestWALSpareOnlyWithSync(t *testing.T) {
	cfg := memConfig(NewCrashableFS())
	cfg.Durability = NoSync
	s := mustOpen(t, cfg)
	defer s.Close()
	if s.spare != nil {
		t.Fatal("a NoSync store keeps a WAL spare")
	}
}

// TestWALNotPreallocated opens a store on a real disk with the node's 256
// MiB memtable and writes a little: the directory's allocated blocks stay
// near what was written. Pebble on its own fallocates each WAL to 110% of
// the memtable (282 MiB here), which filled small disks with space nothing
// used.
func TestWALNotPreallocated(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.Logger = quiet
	cfg.MemTableSize = 256 << 20
	s := mustOpen(t, cfg)
	defer s.Close()
	for sl := engine.Slot(1); sl <= 64; sl++ {
		if err := s.Save(Write{Entries: []engine.Entry{ent(0, sl, 1, 4<<10)}}); err != nil {
			t.Fatal(err)
		}
	}
	var allocated int64
	err := filepath.WalkDir(cfg.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			return err
		}
		allocated += st.Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 256 KiB written, the WAL spare (at most walSpareMax), Pebble's small
	// files: far below one preallocated WAL.
	if bound := int64(walSpareMax + 16<<20); allocated > bound {
		t.Fatalf("%d bytes allocated on disk after writing 256 KiB, want at most %d", allocated, bound)
	}
	t.Logf("%d bytes allocated", allocated)
}
