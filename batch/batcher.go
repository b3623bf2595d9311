package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mpaxos/mpaxos/internal/invariants"
)

var (
	// ErrTooLarge is returned by Add for a command that cannot fit in a
	// batch of Config.MaxBytes on its own.
	ErrTooLarge = errors.New("batch: command too large")
	// ErrFull is returned by Add when Config.MaxQueueBytes are already
	// queued; the caller should push back on its clients.
	ErrFull = errors.New("batch: queue full")
)

// Batcher collects commands into batches. It is not safe for concurrent use:
// the caller serializes every call. The node, for one, calls Add from each
// client connection's reader goroutine (so a command is copied straight
// into the open batch) and Next, Deadline and Reset from its loop, all
// under one mutex.
//
// Memory: batches are carved one after another from an arena, a []byte of
// Config.ArenaBytes. The batch being filled ("open") always lies at the end
// of the arena's used part; a batch is started only where MaxBytes still fit,
// so appending to the arena never reallocates it and a command is copied
// exactly once. Sealed batches (full, waiting for room) and handed-out
// batches lie below the open one and are never written again.
type Batcher struct {
	cfg Config

	// arena[:len(arena)] is written; its capacity is fixed at allocation.
	arena []byte

	// The open batch is arena[openStart:]; openN commands, whose lengths are
	// in lens (reused scratch, turned into the index when sealing).
	openStart int
	openN     int
	openIndex int // bytes the open batch's index will take
	lens      []uint32
	stamped   bool      // the open batch's delay clock has started
	since     time.Time // when it started (valid if stamped)

	// Sealed batches not yet handed out, oldest first: ready[head:].
	ready []readyBatch
	head  int

	queuedBytes int // bytes in ready[head:] plus the open batch
	queuedCmds  int
}

type readyBatch struct {
	b []byte
	n int
}

// New returns a Batcher, or the problems Validate found in cfg.
func New(cfg Config) (*Batcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Batcher{cfg: cfg}, nil
}

// Add copies cmd into the batch being filled; cmd may be reused as soon as
// Add returns. It fails with ErrTooLarge if cmd can never fit in a batch and
// with ErrFull if Config.MaxQueueBytes are queued; in both cases nothing was
// added.
func (b *Batcher) Add(cmd []byte) error {
	need := len(cmd) + uvarintLen(uint64(len(cmd)))
	if HeaderSize+need > b.cfg.MaxBytes {
		return fmt.Errorf("%w: %d bytes, at most %d fit in a batch", ErrTooLarge, len(cmd), b.cfg.MaxCommand())
	}
	extra := need
	if b.openN == 0 || b.openSize()+need > b.cfg.MaxBytes {
		extra += HeaderSize // a new batch would start
	}
	if b.queuedBytes+extra > b.cfg.MaxQueueBytes {
		return fmt.Errorf("%w: %d bytes queued", ErrFull, b.queuedBytes)
	}
	if b.openN > 0 && b.openSize()+need > b.cfg.MaxBytes {
		b.seal()
	}
	if b.openN == 0 {
		b.start()
	}
	b.arena = append(b.arena, cmd...)
	b.lens = append(b.lens, uint32(len(cmd)))
	b.openN++
	b.openIndex += need - len(cmd)
	b.queuedBytes += need
	b.queuedCmds++
	if b.openN == b.cfg.MaxCount {
		b.seal()
	}
	return nil
}

// openSize is the size the open batch would have if sealed now.
func (b *Batcher) openSize() int {
	return len(b.arena) - b.openStart + b.openIndex
}

// start opens a new batch, in a fresh arena if MaxBytes no longer fit in the
// current one.
func (b *Batcher) start() {
	if cap(b.arena)-len(b.arena) < b.cfg.MaxBytes {
		// The old arena stays alive only through the batches carved from it.
		b.arena = make([]byte, 0, b.cfg.ArenaBytes)
	}
	b.openStart = len(b.arena)
	b.arena = b.arena[:b.openStart+HeaderSize] // header filled in by seal
	b.openIndex = 0
	b.stamped = false
	b.queuedBytes += HeaderSize
}

// seal finishes the open batch (header and index) and queues it as ready.
func (b *Batcher) seal() {
	capBefore := cap(b.arena)
	cmdBytes := len(b.arena) - b.openStart - HeaderSize
	putHeader(b.arena[b.openStart:], b.openN, cmdBytes)
	for _, l := range b.lens {
		b.arena = binary.AppendUvarint(b.arena, uint64(l))
	}
	if cap(b.arena) != capBefore || len(b.arena)-b.openStart > b.cfg.MaxBytes {
		panic(fmt.Sprintf("batch: sealed batch of %d bytes (max %d) outgrew the arena (cap %d -> %d)",
			len(b.arena)-b.openStart, b.cfg.MaxBytes, capBefore, cap(b.arena)))
	}
	end := len(b.arena)
	if invariants.Enabled {
		if n, err := Count(b.arena[b.openStart:end]); err != nil || n != b.openN {
			panic(fmt.Sprintf("batch: sealed a batch that decodes to %d commands (%v), want %d", n, err, b.openN))
		}
	}
	if b.head == len(b.ready) {
		// Reuse the queue's backing array once it is drained.
		b.ready, b.head = b.ready[:0], 0
	}
	// Clip the capacity: an append by the batch's owner must not reach the
	// bytes after it, which the next batch will use.
	b.ready = append(b.ready, readyBatch{b: b.arena[b.openStart:end:end], n: b.openN})
	b.openStart = end
	b.openN = 0
	b.openIndex = 0
	b.lens = b.lens[:0]
	b.stamped = false
}

// Next hands out the next batch, if one is due. room says whether the
// caller can take a batch now (the engine's pipeline has room); without room
// Next returns nothing but still starts the delay clock of a new open batch.
//
// In adaptive mode a batch is due whenever anything is queued. In fixed mode
// a batch is due when it is full (MaxCount or MaxBytes) or when MaxDelay has
// passed since the first Next that saw it. Batches come out oldest first;
// call Next again while it returns ok and there is room: several batches may
// be due at once.
//
// The returned batch belongs to the caller forever; the Batcher never touches
// it again.
func (b *Batcher) Next(now time.Time, room bool) (batch []byte, ok bool) {
	if b.openN > 0 && !b.stamped {
		b.stamped, b.since = true, now
	}
	if !room {
		return nil, false
	}
	if b.head == len(b.ready) && b.openN > 0 &&
		(b.cfg.Adaptive || !now.Before(b.since.Add(b.cfg.MaxDelay))) {
		b.seal()
	}
	if b.head == len(b.ready) {
		return nil, false
	}
	r := b.ready[b.head]
	b.ready[b.head] = readyBatch{} // drop the reference: the caller owns it now
	b.head++
	b.queuedBytes -= len(r.b)
	b.queuedCmds -= r.n
	return r.b, true
}

// Deadline reports when the caller should next call Next (given room), so it
// can arm a timer: ok is false if nothing is queued. A zero time means "now":
// a batch is already due, or the open batch's delay clock has not started
// yet (Next starts it).
func (b *Batcher) Deadline() (t time.Time, ok bool) {
	switch {
	case b.head < len(b.ready):
		return time.Time{}, true
	case b.openN == 0:
		return time.Time{}, false
	case b.cfg.Adaptive || !b.stamped:
		return time.Time{}, true
	default:
		return b.since.Add(b.cfg.MaxDelay), true
	}
}

// Len returns the number of commands queued (added, not yet handed out).
func (b *Batcher) Len() int { return b.queuedCmds }

// Bytes returns the bytes queued: the batches not yet handed out, headers
// and indexes included.
func (b *Batcher) Bytes() int { return b.queuedBytes }

// Reset drops every queued command (for example when this node stops being
// the leader and its clients must retry elsewhere) and returns how many were
// dropped. Batches already handed out are unaffected.
func (b *Batcher) Reset() int {
	n := b.queuedCmds
	clear(b.ready[b.head:])
	b.ready, b.head = b.ready[:0], 0
	// Drop the open batch's bytes; the arena space they used is simply
	// reused by the next batch (nobody else saw it).
	b.arena = b.arena[:b.openStart]
	b.openN, b.openIndex = 0, 0
	b.lens = b.lens[:0]
	b.stamped = false
	b.queuedBytes, b.queuedCmds = 0, 0
	return n
}
