package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/atomicfs"
	"github.com/mpaxos/mpaxos/engine"
)

// TestCorruptManifest damages the MANIFEST of a store whose records sit
// in several sstables, one byte (or the whole tail) at a time. Pebble
// stops reading a MANIFEST at its first bad record and opens what the
// records before it list; when that loses the sstable holding the store's
// marker, Open used to say the directory is "a Pebble database without a
// store marker" (ErrNotStore), sending an operator after the wrong
// problem. It must name the corruption.
func TestCorruptManifest(t *testing.T) {
	damages := []struct {
		name string
		do   func(t *testing.T, fs vfs.FS, path string, off int64)
	}{
		{"flipped byte", func(t *testing.T, fs vfs.FS, path string, off int64) {
			f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := make([]byte, 1)
			if _, err := f.ReadAt(b, off); err != nil {
				t.Fatal(err)
			}
			b[0] ^= 0x55
			if _, err := f.WriteAt(b, off); err != nil {
				t.Fatal(err)
			}
		}},
		{"zeroed tail", func(t *testing.T, fs vfs.FS, path string, off int64) {
			f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(make([]byte, st.Size()-off), off); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			named := 0
			for off := int64(0); ; off += 7 {
				fs := vfs.NewMem()
				s := mustOpen(t, memConfig(fs))
				for sl := engine.Slot(1); sl <= 3; sl++ {
					if err := s.Save(Write{Entries: []engine.Entry{ent(0, sl, 1, 1)}}); err != nil {
						t.Fatal(err)
					}
					if err := s.db.Flush(); err != nil {
						t.Fatal(err)
					}
				}
				s.Close()
				name, err := atomicfs.ReadMarker(fs, "db", "manifest")
				if err != nil {
					t.Fatal(err)
				}
				path := fs.PathJoin("db", name)
				st, err := fs.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if off >= st.Size() {
					break
				}
				d.do(t, fs, path, off)
				s, err = Open(memConfig(fs))
				if err == nil {
					// Pebble took the damage for a torn tail and opened
					// what came before it.
					s.Close()
					continue
				}
				if errors.Is(err, ErrNotStore) {
					t.Errorf("damage at offset %d of %d: %v, want it named as a corrupt MANIFEST", off, st.Size(), err)
					continue
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("damage at offset %d: %v, want ErrCorrupt", off, err)
				}
				if strings.HasPrefix(err.Error(), "store: db: corrupt Pebble MANIFEST: "+name+": ") {
					if named == 0 {
						t.Logf("damage at offset %d: %v", off, err)
					}
					named++
				}
			}
			if named == 0 {
				t.Error("no damage was reported as a corrupt MANIFEST")
			}
		})
	}
}
