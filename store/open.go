package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// checkDir makes sure dir is absent (it is then created), empty, or holds
// only Pebble's files. Anything else is ErrNotStore: Pebble would happily
// create a database next to foreign files, and we must not.
func checkDir(fsys vfs.FS, dir string) error {
	st, err := fsys.Stat(dir)
	switch {
	case err != nil && errors.Is(err, fs.ErrNotExist):
		if err := fsys.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("store: create %s: %w", dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("store: %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrNotStore, dir)
	}
	names, err := fsys.List(dir)
	if err != nil {
		return fmt.Errorf("store: list %s: %w", dir, err)
	}
	for _, n := range names {
		if !isPebbleFile(n) {
			return fmt.Errorf("%w: %s holds %q, which is not a store file", ErrNotStore, dir, n)
		}
	}
	return nil
}

// isPebbleFile reports whether name is one Pebble (or the store) writes in
// its directory.
func isPebbleFile(name string) bool {
	if name == walSpareName {
		return true // the store's own, see spareFS
	}
	for _, p := range []string{"LOCK", "MANIFEST-", "OPTIONS-", "marker.", "temporary.", "CURRENT", "archive"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, s := range []string{".log", ".sst", ".blob", ".dbtmp"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// lockDir takes Pebble's directory lock, telling "someone else holds it"
// (ErrLocked) apart from other failures.
func lockDir(fsys vfs.FS, dir string) (*pebble.Lock, error) {
	lock, err := pebble.LockDirectory(dir, fsys)
	if err == nil {
		return lock, nil
	}
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		// Creating the LOCK file failed (permissions, read-only disk):
		// not a lock conflict.
		return nil, fmt.Errorf("store: lock %s: %w", dir, err)
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EACCES),
		strings.Contains(err.Error(), "lock held by current process"):
		// fcntl(F_SETLK) says EAGAIN or EACCES when another process holds
		// the lock; Pebble reports a second lock in this process by
		// message only.
		return nil, fmt.Errorf("%w: %s: %v", ErrLocked, dir, err)
	}
	return nil, fmt.Errorf("store: lock %s: %w", dir, err)
}

// pebbleOptions is where every Pebble knob the store turns is set; see the
// comments for why.
func pebbleOptions(cfg Config, fsys vfs.FS, lock *pebble.Lock, log *slog.Logger) *pebble.Options {
	o := &pebble.Options{
		FS:   fsys,
		Lock: lock,
		// Newest format: WAL sync chunks let recovery tell a torn,
		// never-synced WAL tail (dropped, as it was never acknowledged)
		// from corruption in the synced part (an error); v6 tables carry
		// footer checksums.
		FormatMajorVersion: pebble.FormatNewest,
		CacheSize:          cfg.CacheSize,
		MemTableSize:       cfg.MemTableSize,
		// The log is written once and mostly deleted by range deletions
		// after snapshots; the defaults for L0 and compaction concurrency
		// suit that. WALMinSyncInterval stays 0: delaying syncs to batch
		// more commits adds latency to every write, and the commit
		// pipeline already folds concurrent commits into one sync (see
		// BenchmarkSaveConcurrent).
		Logger: pebbleLogger{l: log, dir: cfg.Dir},
		// Pebble's default reaction to a damaged file is Logger.Fatalf;
		// the store wants the read to fail with ErrCorrupt instead, so the
		// caller decides (a node can refetch from peers or stop).
		EventListener: &pebble.EventListener{
			DataCorruption: func(info pebble.DataCorruptionInfo) {
				log.Error("store: pebble found on-disk corruption", "path", info.Path, "err", info.Details)
			},
			BackgroundError: func(err error) {
				// Error(), not the error: Pebble's errors format with
				// their stack traces otherwise, burying the cause.
				log.Error("store: pebble background error", "dir", cfg.Dir, "err", err.Error())
			},
		},
	}
	// No block compression: log entries live briefly (a snapshot deletes
	// them), the disk has room, and CPU is the scarce resource on the
	// machines this runs on; snappy was ~10% of the CPU in a write profile.
	o.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	if o.CacheSize == 0 {
		o.CacheSize = DefaultConfig().CacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultConfig().MemTableSize
	}
	return o
}

// pebbleLogger sends Pebble's messages to slog. Pebble logs routine events
// (flushes, compactions) through Infof: those go to Debug.
type pebbleLogger struct {
	l   *slog.Logger
	dir string
}

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	// Pebble calls Fatalf for broken internal invariants and for write
	// failures it cannot undo (a WAL write in its commit pipeline, a
	// MANIFEST write), and expects it not to return.
	msg := fmt.Sprintf(format, args...)
	if !strings.HasPrefix(msg, "pebble: ") {
		msg = "pebble: " + msg
	}
	p.l.Error(msg)
	if diskFull(msg, args) {
		// Not a bug: the stack trace of a panic would only hide the
		// cause. One line naming the disk, and out.
		fmt.Fprintf(fatalOut, "store: %s: disk full, stopping: %s\n", p.dir, msg)
		exit(1)
		return // only where a test replaced exit
	}
	// A broken invariant: a panic keeps the stack.
	panic(msg)
}

// exit and fatalOut are os.Exit and os.Stderr, replaced by tests.
var (
	exit               = os.Exit
	fatalOut io.Writer = os.Stderr

	osExit   = os.Exit
	osStderr = os.Stderr
)

// diskFull reports whether a Fatalf's arguments or message are ENOSPC.
func diskFull(msg string, args []any) bool {
	for _, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, syscall.ENOSPC) {
			return true
		}
	}
	return strings.Contains(msg, syscall.ENOSPC.Error())
}
