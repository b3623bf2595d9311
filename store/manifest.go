package store

import (
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/atomicfs"
)

// ManifestError reports a damaged Pebble MANIFEST, the file that lists the
// database's sstables. errors.Is(err, ErrCorrupt) holds.
//
// Why the store reads the MANIFEST itself: Pebble stops reading it at the
// first damaged record and opens what the records before it describe,
// taking the damage for a write torn by a crash. The sstables added after
// that point are then missing, the store's format marker among them when
// the damage is early, and the directory looked like "a Pebble database
// without a store marker" (ErrNotStore) rather than what it is. Pebble then
// writes a new MANIFEST, so the old one must be read before Pebble opens.
type ManifestError struct {
	Dir, File string
	Err       error // what Pebble's record reader said
}

func (e *ManifestError) Error() string {
	return fmt.Sprintf("store: %s: corrupt Pebble MANIFEST: %s: %v", e.Dir, e.File, e.Err)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true and exposes Pebble's error.
func (e *ManifestError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// checkManifest reads every record of dir's current MANIFEST and returns a
// *ManifestError for the first that fails its checksum or is cut short; nil
// when it reads to its end (or dir has no MANIFEST).
func checkManifest(fsys vfs.FS, dir string) error {
	name, err := atomicfs.ReadMarker(fsys, dir, "manifest")
	if err != nil || name == "" {
		return nil // no marker: Pebble's own open reports what is wrong
	}
	f, err := fsys.Open(fsys.PathJoin(dir, name))
	if err != nil {
		return &ManifestError{Dir: dir, File: name, Err: err}
	}
	defer f.Close()
	rr := record.NewReader(f, 0)
	for records := 0; ; records++ {
		r, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if err != nil {
			return &ManifestError{Dir: dir, File: name, Err: fmt.Errorf("after %d good records: %w", records, err)}
		}
	}
}
