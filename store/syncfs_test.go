package store

import (
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// syncCountingFS wraps a vfs.FS and counts the syncs issued on files opened
// for writing, so benchmarks can show how many Saves one sync covers.
type syncCountingFS struct {
	vfs.FS
	syncs *atomic.Int64
	delay time.Duration // added to every sync, to model a disk's latency
}

func newSyncCountingFS(fs vfs.FS) syncCountingFS {
	return syncCountingFS{FS: fs, syncs: new(atomic.Int64)}
}

func (fs syncCountingFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return syncCountingFile{File: f, syncs: fs.syncs, delay: fs.delay}, nil
}

func (fs syncCountingFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.wrap(fs.FS.Create(name, c))
}

func (fs syncCountingFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, o ...vfs.OpenOption) (vfs.File, error) {
	return fs.wrap(fs.FS.OpenReadWrite(name, c, o...))
}

func (fs syncCountingFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.wrap(fs.FS.ReuseForWrite(oldname, newname, c))
}

type syncCountingFile struct {
	vfs.File
	syncs *atomic.Int64
	delay time.Duration
}

func (f syncCountingFile) count() {
	f.syncs.Add(1)
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
}

func (f syncCountingFile) Sync() error     { f.count(); return f.File.Sync() }
func (f syncCountingFile) SyncData() error { f.count(); return f.File.SyncData() }
func (f syncCountingFile) SyncTo(n int64) (bool, error) {
	f.count()
	return f.File.SyncTo(n)
}
