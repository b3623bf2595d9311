package store

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// Space is the store's use of its disk, as measured by Store.Space.
//
// Why a quota at all: a write that finds the disk full fails inside
// Pebble's commit pipeline, which cannot undo it and stops the process
// (Pebble's "fatal commit error"). Refusing new writes while some room is
// left keeps the node up, serving reads, until space is freed (as etcd's
// space quota and NOSPACE alarm do).
type Space struct {
	Dir string
	// Used is the bytes of the store's files: Pebble's WALs, sstables,
	// MANIFEST and OPTIONS (obsolete ones not yet deleted included), the
	// output of compactions in progress, and the WAL spare.
	Used uint64
	// Quota is Config.SpaceQuota; 0 means none.
	Quota uint64
	// Free is what the filesystem holding Dir has free for unprivileged
	// writers (statfs f_bavail); FreeKnown is false where it cannot be
	// asked (an in-memory filesystem).
	Free      uint64
	FreeKnown bool
	// MinFree is Config.MinFreeBytes; 0 means no minimum.
	MinFree uint64
}

// Err returns nil while the store is within its quota and the filesystem
// has at least MinFree bytes free, and otherwise an error wrapping
// ErrNoSpace that names the directory and the numbers.
func (sp Space) Err() error {
	if sp.Quota > 0 && sp.Used >= sp.Quota {
		return fmt.Errorf("%w: %s: the store uses %d bytes, its quota is %d", ErrNoSpace, sp.Dir, sp.Used, sp.Quota)
	}
	if sp.MinFree > 0 && sp.FreeKnown && sp.Free < sp.MinFree {
		return fmt.Errorf("%w: %s: the filesystem has %d bytes free, the store keeps at least %d", ErrNoSpace, sp.Dir, sp.Free, sp.MinFree)
	}
	return nil
}

// room reports whether size more bytes of the store's own files still
// leave it within bounds.
func (sp Space) room(size uint64) bool {
	sp.Used += size
	if sp.Free >= size {
		sp.Free -= size
	} else {
		sp.Free = 0
	}
	return sp.Err() == nil
}

// Space measures the store's disk use and the filesystem's free space. It
// costs a Pebble metrics snapshot and a statfs: call it periodically (a
// node does, a few times a second), not per write.
func (s *Store) Space() (Space, error) {
	if s.closed.Load() {
		return Space{}, ErrClosed
	}
	sp := s.baseSpace()
	sp.Used = s.db.Metrics().DiskSpaceUsage()
	if s.spare != nil {
		sp.Used += uint64(s.spare.onDisk())
	}
	s.lastUsed.Store(sp.Used)
	return sp, nil
}

// baseSpace fills in what needs no Pebble: the limits, the free space, and
// Used as last measured by Space.
func (s *Store) baseSpace() Space {
	sp := Space{Dir: s.cfg.Dir, Quota: uint64(s.cfg.SpaceQuota), MinFree: uint64(s.cfg.MinFreeBytes), Used: s.lastUsed.Load()}
	if s.fs == vfs.Default {
		var st unix.Statfs_t
		if err := unix.Statfs(s.cfg.Dir, &st); err == nil {
			sp.Free, sp.FreeKnown = st.Bavail*uint64(st.Bsize), true
		}
	}
	return sp
}
