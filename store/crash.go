package store

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// NewCrashableFS returns an in-memory filesystem for Config.FS that remembers
// which writes were synced, so CrashClose can drop the rest.
func NewCrashableFS() *vfs.MemFS { return vfs.NewCrashableMem() }

// CrashClose simulates the machine losing power under s: it returns a copy
// of s's filesystem holding only what was synced (as a disk would after the
// crash), then closes s. Reopen the store with Config.FS set to the copy.
// s must have been opened on a filesystem from NewCrashableFS; writes to s
// that race with CrashClose land either in the copy (if synced) or nowhere.
func (s *Store) CrashClose() (*vfs.MemFS, error) {
	mfs, ok := s.fs.(*vfs.MemFS)
	if !ok {
		return nil, fmt.Errorf("store: CrashClose needs a *vfs.MemFS from NewCrashableFS, have %T", s.fs)
	}
	// CrashClone panics on a MemFS that is not crashable: that is a
	// programming error in the test, not a runtime condition.
	clone := mfs.CrashClone(vfs.CrashCloneCfg{})
	return clone, s.Close()
}
