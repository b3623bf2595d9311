package store

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mpaxos/mpaxos/engine"
)

// corruptStore returns a store holding entries 1040..1044 of group 0 with a
// hard state and a snapshot at 1000.
func corruptStore(t *testing.T, fs vfs.FS) *Store {
	t.Helper()
	s := mustOpen(t, memConfig(fs))
	hs := engine.HardState{Promised: engine.MakeBallot(4, 2), Commit: 1043}
	snap := engine.Snapshot{Slot: 1000, Data: []byte("state")}
	var ents []engine.Entry
	for i := engine.Slot(1040); i <= 1044; i++ {
		ents = append(ents, ent(0, i, hs.Promised, 32))
	}
	if err := s.Save(Write{HardState: &hs, Entries: ents, Snapshot: &snap}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCorruptRecord damages one stored value at a time, the way a bit flip
// or a torn write that slipped past Pebble's own checks would, and expects
// the read to fail with ErrCorrupt naming the slot.
func TestCorruptRecord(t *testing.T) {
	tests := []struct {
		name   string
		damage func(key, val []byte) []byte
		want   string
	}{
		{"flip crc", func(_, v []byte) []byte { v[0] ^= 1; return v }, "store: slot 1042: checksum mismatch"},
		{"flip ballot", func(_, v []byte) []byte { v[5] ^= 0x80; return v }, "store: slot 1042: checksum mismatch"},
		{"flip type", func(_, v []byte) []byte { v[12] ^= 2; return v }, "store: slot 1042: checksum mismatch"},
		{"flip data", func(_, v []byte) []byte { v[len(v)-1] ^= 0x10; return v }, "store: slot 1042: checksum mismatch"},
		{"truncated data", func(_, v []byte) []byte { return v[:len(v)-5] }, "store: slot 1042: checksum mismatch"},
		{"truncated header", func(_, v []byte) []byte { return v[:7] }, "store: slot 1042: truncated record"},
		{"empty", func(_, v []byte) []byte { return nil }, "store: slot 1042: truncated record"},
		{"extra byte", func(_, v []byte) []byte { return append(v, 0) }, "store: slot 1042: checksum mismatch"},
		{"garbage", func(_, v []byte) []byte { return []byte("this is not a record at all") }, "store: slot 1042: checksum mismatch"},
		{"another slot's record", func(_, _ []byte) []byte {
			// A sound record stored under the wrong key: the CRC covers
			// the key, so this is caught too.
			e := ent(0, 1041, 1, 32)
			k := entryKey(0, 1041)
			v := make([]byte, entryHeaderLen+len(e.Data))
			putEntry(k, v, &e)
			return v
		}, "store: slot 1042: checksum mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s := corruptStore(t, fs)
			k := entryKey(0, 1042)
			v, closer, err := s.db.Get(k)
			if err != nil {
				t.Fatal(err)
			}
			v = tc.damage(k, append([]byte(nil), v...))
			closer.Close()
			if err := s.db.Set(k, v, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			l := s.Log(0)
			for _, r := range [][2]engine.Slot{{1001, 2000}, {1042, 1043}, {1041, 1050}} {
				ents, err := l.Entries(r[0], r[1], 1<<20)
				var ce *CorruptError
				if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Slot != 1042 {
					t.Fatalf("Entries(%d, %d) = %d entries, %v; want ErrCorrupt at slot 1042", r[0], r[1], len(ents), err)
				}
				if !strings.HasPrefix(err.Error(), tc.want) {
					t.Errorf("error %q, want prefix %q", err, tc.want)
				}
			}
			// Slots around it still read.
			if ents, err := l.Entries(1043, 1045, 1<<20); err != nil || len(ents) != 2 {
				t.Errorf("Entries(1043, 1045) = %d entries, %v", len(ents), err)
			}
			s.Close()
		})
	}
}

// TestCorruptMetaRecords damages the hard state, the snapshot and the last
// entry: reads fail, and so does Open, which reads them all.
func TestCorruptMetaRecords(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
		read func(l *Log) error
		want string
	}{
		{"hard state", appendMetaKey(nil, 0, kindHardState), func(l *Log) error { _, err := l.InitialState(); return err }, "store: hard state: checksum mismatch"},
		{"snapshot data", appendMetaKey(nil, 0, kindSnapData), func(l *Log) error { _, err := l.Snapshot(); return err }, "store: snapshot: checksum mismatch"},
		{"snapshot slot", appendMetaKey(nil, 0, kindSnapMeta), func(l *Log) error { _, err := l.Entries(1040, 1050, 100); return err }, "store: snapshot slot: checksum mismatch"},
		{"last entry", entryKey(0, 1044), func(l *Log) error { _, err := l.Entries(1040, 1050, 1<<20); return err }, "store: slot 1044: checksum mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s := corruptStore(t, fs)
			v, closer, err := s.db.Get(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			v = append([]byte(nil), v...)
			closer.Close()
			v[len(v)-1] ^= 0xff
			if err := s.db.Set(tc.key, v, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			err = tc.read(s.Log(0))
			if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("read = %v, want ErrCorrupt %q", err, tc.want)
			}
			s.Close()
			if tc.name == "snapshot data" {
				return // Open does not read the (possibly large) data
			}
			if _, err := Open(memConfig(fs)); !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Open = %v, want ErrCorrupt %q", err, tc.want)
			}
		})
	}
}

// TestCorruptSSTable flips a byte inside an sstable on disk: Pebble's block
// checksum catches it, and the store reports it as ErrCorrupt.
func TestCorruptSSTable(t *testing.T) {
	fs := vfs.NewMem()
	s := corruptStore(t, fs)
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	names, _ := fs.List("db")
	var sst string
	for _, n := range names {
		if strings.HasSuffix(n, ".sst") {
			sst = fs.PathJoin("db", n)
		}
	}
	if sst == "" {
		t.Fatalf("no sstable after Flush in %v", names)
	}
	f, err := fs.OpenReadWrite(sst, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	// The first data block starts the file; byte 40 is inside it.
	if _, err := f.ReadAt(b, 40); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x55
	if _, err := f.WriteAt(b, 40); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s, err = Open(memConfig(fs))
	if err == nil {
		defer s.Close()
		_, err = s.Log(0).Entries(1001, 2000, 1<<20)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading a damaged sstable: %v, want ErrCorrupt", err)
	}
	t.Logf("error: %.200s", err)
}

func TestNotAStore(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, fs vfs.FS)
	}{
		{"foreign file", func(t *testing.T, fs vfs.FS) {
			if err := fs.MkdirAll("db", 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := fs.Create("db/notes.txt", vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}},
		{"a file, not a directory", func(t *testing.T, fs vfs.FS) {
			f, err := fs.Create("db", vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}},
		{"another program's Pebble database", func(t *testing.T, fs vfs.FS) {
			db, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: pebbleLogger{l: quiet}})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Set([]byte("user/42"), []byte("alice"), pebble.Sync); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
		{"unknown format version", func(t *testing.T, fs vfs.FS) {
			s := mustOpen(t, memConfig(fs))
			v := markerValue()
			v[len(v)-1] = 99
			seal(markerKey, v)
			if err := s.db.Set(markerKey, v, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			s.Close()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			tc.setup(t, fs)
			if s, err := Open(memConfig(fs)); !errors.Is(err, ErrNotStore) {
				if err == nil {
					s.Close()
				}
				t.Fatalf("Open = %v, want ErrNotStore", err)
			}
		})
	}
	// An empty existing directory is a new store, and so is a missing one.
	fs := vfs.NewMem()
	if err := fs.MkdirAll("db", 0o755); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, memConfig(fs)).Close()
	mustOpen(t, memConfig(fs)).Close()
}

func TestLockedInProcess(t *testing.T) {
	for _, onDisk := range []bool{false, true} {
		cfg := memConfig(vfs.NewMem())
		if onDisk {
			cfg.FS = nil
			cfg.Dir = filepath.Join(t.TempDir(), "db")
		}
		s := mustOpen(t, cfg)
		if _, err := Open(cfg); !errors.Is(err, ErrLocked) {
			t.Errorf("second Open (disk %v) = %v, want ErrLocked", onDisk, err)
		}
		s.Close()
		mustOpen(t, cfg).Close()
	}
}

// TestLockedByAnotherProcess holds the store open in a child process.
func TestLockedByAnotherProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "db")
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childRoleEnv+"=hold", childDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.Logger = quiet
	_, err = Open(cfg)
	if !errors.Is(err, ErrLocked) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open while another process holds it = %v, want ErrLocked", err)
	}
	t.Logf("error: %v", err)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	mustOpen(t, cfg).Close()
}
