package store

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Durability says when Save may return.
type Durability uint8

const (
	// Sync makes Save return only after the write is on stable storage
	// (Pebble's WAL fdatasync'd). It is the zero value, so a Config built
	// by hand without DefaultConfig is still durable.
	Sync Durability = iota
	// NoSync lets Save return once the write is in Pebble's memtable and
	// WAL buffer; a machine crash can lose acknowledged writes. Only for
	// benchmarks that say so in their results.
	NoSync
)

func (d Durability) String() string {
	switch d {
	case Sync:
		return "sync"
	case NoSync:
		return "nosync"
	}
	return fmt.Sprintf("Durability(%d)", uint8(d))
}

// Config configures a Store.
type Config struct {
	// Dir is the directory holding the store; Open creates it when it does
	// not exist. It must not be empty. It must hold nothing but the store.
	Dir string

	// FS is the filesystem the store lives on. nil means the real disk
	// (vfs.Default). Tests pass vfs.NewMem() or NewCrashableFS().
	FS vfs.FS

	// Durability says whether Save waits for an fdatasync. The default is
	// Sync.
	Durability Durability

	// Logger receives Pebble's background messages (flushes, compactions:
	// at Debug level; errors at Error level) and the store's own. nil means
	// slog.Default(). Nothing is logged on the write or read path.
	Logger *slog.Logger

	// CacheSize is Pebble's block cache, in bytes. Reads of recent entries
	// come from the memtable; the cache serves catch-up reads of older
	// slots. The default is 8 MiB. Must be >= 0 (0 means the default).
	CacheSize int64

	// MemTableSize is the size of one Pebble memtable, in bytes. A larger
	// memtable flushes less often, and entries truncated by a snapshot
	// before their memtable flushes never reach an sstable. The default is
	// 32 MiB. Must be 0 (the default) or between 1 MiB and 1 GiB.
	MemTableSize uint64

	// SpaceQuota is how many bytes of the disk the store may use (see
	// Space.Used); at or above it Space.Err reports ErrNoSpace, and the
	// WAL spare is not written when it would not fit. The store itself
	// refuses no write: its user checks Space periodically and stops
	// taking new work. Leave headroom below the disk's size for what is
	// in flight: a memtable flush and a compaction can write about a
	// memtable's size each. The default is 0, no quota. Must be >= 0.
	SpaceQuota int64

	// MinFreeBytes is the free space (statfs f_bavail) below which
	// Space.Err reports ErrNoSpace, and the WAL spare is not written;
	// checked only on the real disk. The default is 0, no minimum.
	// Must be >= 0.
	MinFreeBytes int64
}

// DefaultConfig returns the defaults; the caller sets Dir.
func DefaultConfig() Config {
	return Config{
		Durability:   Sync,
		CacheSize:    8 << 20,
		MemTableSize: 32 << 20,
	}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("store: Config.Dir is empty"))
	}
	if c.Durability != Sync && c.Durability != NoSync {
		errs = append(errs, fmt.Errorf("store: Config.Durability %d is neither Sync nor NoSync", c.Durability))
	}
	if c.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("store: Config.CacheSize %d is negative", c.CacheSize))
	}
	if c.MemTableSize != 0 && (c.MemTableSize < 1<<20 || c.MemTableSize > 1<<30) {
		errs = append(errs, fmt.Errorf("store: Config.MemTableSize %d is outside [1 MiB, 1 GiB]", c.MemTableSize))
	}
	if c.SpaceQuota < 0 {
		errs = append(errs, fmt.Errorf("store: Config.SpaceQuota %d is negative", c.SpaceQuota))
	}
	if c.MinFreeBytes < 0 {
		errs = append(errs, fmt.Errorf("store: Config.MinFreeBytes %d is negative", c.MinFreeBytes))
	}
	return errors.Join(errs...)
}
