package batch

import (
	"errors"
	"time"

	"github.com/mpaxos/mpaxos/internal/config"
)

// MaxBatchBytes is the largest MaxBytes a Config may ask for: the header
// stores the command count and the command area's size as uint32.
const MaxBatchBytes = 1<<31 - 1

// Config bounds the batches a Batcher builds.
type Config struct {
	// MaxCount is the most commands one batch holds. The default is 1024.
	// It must be at least 1.
	MaxCount int

	// MaxBytes is the largest batch in bytes, header and index included; a
	// command that cannot fit in a batch of this size on its own is refused
	// by Add with ErrTooLarge. The default is 1 MiB. It must be larger than
	// HeaderSize+1 (one empty command) and at most MaxBatchBytes; keep it
	// below the transport's maximum frame size minus the message header.
	MaxBytes int

	// MaxDelay is how long the first command of a batch may wait before the
	// batch is handed out although it is not full (fixed mode only; the
	// adaptive mode ignores it). The clock of a batch starts at the first
	// Next call that sees it non-empty. The default is 1ms. It must not be
	// negative; 0 hands out whatever is queued at every Next with room.
	MaxDelay time.Duration

	// Adaptive selects the adaptive mode (the default, true): whenever the
	// caller says the pipeline has room, Next hands out what is queued at
	// once; while the pipeline is full, commands keep collecting (still cut
	// into batches at MaxCount and MaxBytes) and go out as soon as there is
	// room. Batches thus grow with load and no command waits for a timer.
	// With Adaptive false (fixed mode) a batch goes out when it is full or
	// its MaxDelay expired, and the pipeline has room.
	Adaptive bool

	// MaxQueueBytes bounds the bytes queued in the Batcher (batches not yet
	// handed out); past it Add returns ErrFull so the caller can push back on
	// clients (e.g. while there is no leader). The default is 64 MiB. It must
	// be at least MaxBytes.
	MaxQueueBytes int

	// ArenaBytes is the size of each buffer allocation from which batches
	// are carved. A batch starts in the current arena only if MaxBytes still
	// fit in it, so up to MaxBytes of every arena may go unused, and an arena
	// stays in memory while any batch carved from it is retained. Larger
	// arenas mean fewer allocations (about one per ArenaBytes of commands)
	// and less waste per arena. The default is 8 MiB. It must be at least
	// MaxBytes; several times MaxBytes is best.
	ArenaBytes int
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		MaxCount:      1024,
		MaxBytes:      1 << 20,
		MaxDelay:      time.Millisecond,
		Adaptive:      true,
		MaxQueueBytes: 64 << 20,
		ArenaBytes:    8 << 20,
	}
}

// ErrConfig is wrapped by every problem Validate reports.
var ErrConfig = errors.New("batch: invalid config")

// Validate reports every problem with c at once, each wrapping ErrConfig.
func (c Config) Validate() error {
	v := config.NewCollector(ErrConfig)
	if c.MaxCount < 1 {
		v.Bad("MaxCount", c.MaxCount, "must be at least 1")
	}
	if c.MaxBytes <= HeaderSize+1 {
		v.Bad("MaxBytes", c.MaxBytes, "must be larger than one batch header plus one index byte (%d)", HeaderSize+1)
	}
	if c.MaxBytes > MaxBatchBytes {
		v.Bad("MaxBytes", c.MaxBytes, "must be at most %d", MaxBatchBytes)
	}
	if c.MaxDelay < 0 {
		v.Bad("MaxDelay", c.MaxDelay, "must not be negative")
	}
	if c.MaxQueueBytes < c.MaxBytes {
		v.Bad("MaxQueueBytes", c.MaxQueueBytes, "must be at least MaxBytes (%d)", c.MaxBytes)
	}
	if c.ArenaBytes < c.MaxBytes {
		v.Bad("ArenaBytes", c.ArenaBytes, "must be at least MaxBytes (%d)", c.MaxBytes)
	}
	return v.Err()
}

// MaxCommand returns the largest command Add accepts under c: one that fills
// a batch of MaxBytes on its own, with the header and its index entry.
func (c Config) MaxCommand() int {
	n := c.MaxBytes - HeaderSize - 1
	for n > 0 && HeaderSize+n+uvarintLen(uint64(n)) > c.MaxBytes {
		n--
	}
	return n
}
