package store

import (
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// walSpareName is the file, in the store's directory, that the store keeps
// written with zeros and synced, ready to become Pebble's next WAL.
const walSpareName = "mpaxos-wal-spare"

// walSpareMin is the first spare's size; each next one doubles, up to
// walSpareMax (or the memtable size, if smaller: a WAL holds about one
// memtable's writes). Pebble's own memtables start small and double the
// same way, so early spares are not zero-filled far beyond what their WAL
// will use.
const walSpareMin = 1 << 20

// walSpareMax bounds a spare. Zero-filling is not free: it copies zeros
// into the page cache, which the disk then writes. With spares growing up
// to the 32 MiB memtable, a 5-node run at 200 clients wrote about 127 MiB
// of zeros per node in its first 15 s and spent 2.5% of the machine's CPU
// per node doing it, more than the cheaper syncs saved; under load a sync
// covers many commands, so what a sync costs matters less there. A
// 4 MiB spare covers the first 4 MiB of every WAL, which is where a lightly
// loaded node (whose every command waits for a sync) writes for tens of
// seconds, and the ones after it are Pebble's own recycled WALs, which are
// at least as large and need no spare.
const walSpareMax = 4 << 20

// spareFS gives Pebble WAL files whose blocks were already written (with
// zeros) and synced, so that every synced log write overwrites blocks in
// place.
//
// Why: an fdatasync after writing a file's fresh blocks also writes the
// metadata that allocates them (new blocks and the file size, or the
// conversion of fallocate's unwritten extents); after overwriting written
// blocks it writes the data and flushes the disk cache, nothing else. On
// this project's machine (ext4, virtual disk; 8 KiB write + fdatasync, 2,000
// each) appending took 338 µs at p50 and 219 µs of CPU per sync, fallocate'd
// blocks 329 µs and 217 µs, zero-filled blocks 238 µs and 132 µs. Pebble
// recycles old WAL files for the same reason, but only WALs whose memtables
// have flushed, and its first memtables are small: a new store, a store
// under light load and every benchmark of a few seconds appended on every
// sync.
//
// Safety: Pebble reads a zeroed chunk after the last record as the end of
// the log (record.ErrZeroedChunk, then a read-ahead finds no later record),
// exactly as for its own preallocated and recycled WALs; the newest WAL's
// unclean end is tolerated and older WALs end with an EOF trailer. Pebble
// syncs the directory after creating or reusing a WAL, which also makes the
// rename of the spare durable. A spare left over by a crash is removed at
// Open.
type spareFS struct {
	vfs.FS
	path string
	max  int64
	log  *slog.Logger
	// room, when set, says whether a spare of this many bytes still fits
	// the store's quota and free space; set once before Pebble opens.
	room func(size int64) bool

	mu struct {
		sync.Mutex
		ready   bool  // the spare exists, is complete and synced
		busy    bool  // a goroutine is writing it
		closed  bool  // no new spare after Close
		next    int64 // size of the next spare
		refused bool  // the last spare did not fit (logged once)
		created int   // spares handed to Pebble, for tests
	}
	wg sync.WaitGroup
}

// newSpareFS wraps fsys for the store in dir; memtable is Pebble's
// memtable size.
func newSpareFS(fsys vfs.FS, dir string, memtable int64, log *slog.Logger) (*spareFS, error) {
	s := &spareFS{FS: fsys, path: fsys.PathJoin(dir, walSpareName), max: min(memtable, walSpareMax), log: log}
	s.mu.next = min(walSpareMin, s.max)
	if err := fsys.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return s, nil
}

// Create hands Pebble the spare for a new WAL when one is ready.
func (s *spareFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	if f, ok := s.take(name, cat); ok {
		return walFile{f}, nil
	}
	f, err := s.FS.Create(name, cat)
	return maybeWAL(name, f), err
}

// walFile is a WAL file that ignores Pebble's preallocation. Pebble
// fallocates every new WAL to 110% of the memtable size: 282 MiB at the
// node's 256 MiB memtable, for each of the half dozen WALs a short run goes
// through as its memtables double, so a 6 s benchmark held about 1.9 GB of
// allocated disk per node for 28 MB of data, and a full disk came from
// space nothing used. Fallocate'd blocks made syncs no cheaper (329 against
// 338 µs, see spareFS); the zero-filled spare is what does.
type walFile struct{ vfs.File }

// Preallocate allocates nothing.
func (walFile) Preallocate(offset, length int64) error { return nil }

// maybeWAL wraps f in walFile when name is a WAL's.
func maybeWAL(name string, f vfs.File) vfs.File {
	if f == nil || !strings.HasSuffix(name, ".log") {
		return f
	}
	return walFile{f}
}

// ReuseForWrite prefers a ready spare to an old WAL smaller than it: the
// old file would be overwritten only up to its size and appended to after.
// ReuseForWrite's contract lets it remove oldname and write a new file.
func (s *spareFS) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	if st, err := s.FS.Stat(oldname); err == nil && st.Size() < s.spareSize() {
		if f, ok := s.take(newname, cat); ok {
			if err := s.FS.Remove(oldname); err != nil {
				s.log.Warn("store: removing a recycled WAL replaced by the spare", "file", oldname, "err", err)
			}
			return walFile{f}, nil
		}
	}
	f, err := s.FS.ReuseForWrite(oldname, newname, cat)
	return maybeWAL(newname, f), err
}

// spareSize is the size of the spare that is (or will be) ready.
func (s *spareFS) spareSize() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.next
}

// take renames a ready spare to name and opens it for writing from its
// start; ok is false when no spare is ready or name is not a WAL. Either
// way the next spare is started.
func (s *spareFS) take(name string, cat vfs.DiskWriteCategory) (f vfs.File, ok bool) {
	if !strings.HasSuffix(name, ".log") {
		return nil, false
	}
	s.mu.Lock()
	ready := s.mu.ready && !s.mu.closed
	s.mu.ready = false
	s.mu.Unlock()
	if ready {
		var err error
		if f, err = s.FS.ReuseForWrite(s.path, name, cat); err != nil {
			s.log.Warn("store: could not use the WAL spare", "file", name, "err", err)
			f = nil
		} else {
			s.mu.Lock()
			s.mu.created++
			s.mu.next = min(2*s.mu.next, s.max)
			s.mu.Unlock()
		}
	}
	s.prepare()
	return f, f != nil
}

// prepare starts writing the next spare unless one is ready or on its way.
func (s *spareFS) prepare() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.ready || s.mu.busy || s.mu.closed {
		return
	}
	size := s.mu.next
	if s.room != nil && !s.room(size) {
		// Pebble creates its next WAL the ordinary way; the next WAL
		// asks again.
		if !s.mu.refused {
			s.log.Warn("store: no WAL spare: it would not fit the space quota or the free space", "path", s.path, "bytes", size)
		}
		s.mu.refused = true
		return
	}
	s.mu.refused = false
	s.mu.busy = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.write(size)
		s.mu.Lock()
		s.mu.busy = false
		s.mu.ready = err == nil && !s.mu.closed
		s.mu.Unlock()
		if err != nil && !errors.Is(err, errSpareClosed) {
			// Not fatal: Pebble then creates its WAL the ordinary way.
			s.log.Warn("store: writing the WAL spare", "err", err)
		}
	}()
}

var errSpareClosed = errors.New("store: closed while writing the WAL spare")

// write creates the spare file: size bytes of zeros, synced.
func (s *spareFS) write(size int64) (err error) {
	f, err := s.FS.Create(s.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, f.Close())
		if err != nil {
			_ = s.FS.Remove(s.path)
		}
	}()
	zeros := make([]byte, 256<<10)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		s.mu.Lock()
		closed := s.mu.closed
		s.mu.Unlock()
		if closed {
			return errSpareClosed
		}
		if _, err := f.Write(zeros[:min(int64(len(zeros)), size-off)]); err != nil {
			return err
		}
	}
	return f.SyncData()
}

// close stops making spares and waits for one being written. Called after
// Pebble is closed; a ready spare stays on disk for nothing and is removed
// at the next Open.
func (s *spareFS) close() {
	s.mu.Lock()
	s.mu.closed = true
	s.mu.Unlock()
	s.wg.Wait()
}

// onDisk returns the bytes the spare takes or is about to take.
func (s *spareFS) onDisk() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.ready || s.mu.busy {
		return s.mu.next
	}
	return 0
}

// spares returns how many spares Pebble received as WALs.
func (s *spareFS) spares() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.created
}
