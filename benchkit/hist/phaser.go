package hist

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Phaser is Gil Tene's WriterReaderPhaser: writers enter and leave a
// critical section with one atomic add each and never wait; a reader flips
// the phase and then waits until every writer that entered before the flip
// has left. It lets a hot path record into a double-buffered structure while
// a reporter swaps the buffers, without a lock on the hot path.
//
// The zero value is not ready: use Init (or NewRecorder).
type Phaser struct {
	start   atomic.Int64 // even phase: >= 0; odd phase: counts up from MinInt64
	evenEnd atomic.Int64
	oddEnd  atomic.Int64
	reader  sync.Mutex // serializes readers (Flip callers)
}

// Init prepares p for use. Call once, before any Enter.
func (p *Phaser) Init() {
	p.start.Store(0)
	p.evenEnd.Store(0)
	p.oddEnd.Store(math.MinInt64)
}

// Enter starts a writer's critical section; pass its result to Exit.
func (p *Phaser) Enter() int64 { return p.start.Add(1) - 1 }

// Exit ends the critical section begun by the Enter that returned e.
func (p *Phaser) Exit(e int64) {
	if e < 0 {
		p.oddEnd.Add(1)
	} else {
		p.evenEnd.Add(1)
	}
}

// Flip starts a new phase and returns once every writer that entered in the
// previous phase has exited. A reader swaps the writers' target (with an
// atomic store) before calling Flip; after Flip the old target is its own.
// Flip is safe for concurrent readers (they are serialized).
func (p *Phaser) Flip() {
	p.reader.Lock()
	defer p.reader.Unlock()
	nextEven := p.start.Load() < 0
	var initial int64
	if nextEven {
		initial = 0
		p.evenEnd.Store(initial)
	} else {
		initial = math.MinInt64
		p.oddEnd.Store(initial)
	}
	atFlip := p.start.Swap(initial)
	for {
		var end int64
		if nextEven {
			end = p.oddEnd.Load()
		} else {
			end = p.evenEnd.Load()
		}
		if end == atFlip {
			return
		}
		// A writer is inside a critical section of a few nanoseconds
		// (one histogram increment); yielding lets it finish.
		runtime.Gosched()
	}
}

// Recorder records latencies from any number of goroutines that take turns
// (one at a time: a histogram increment is not atomic) and hands a reporter
// the histogram of each interval, without a lock on the recording path.
// Use one Recorder per recording goroutine.
type Recorder struct {
	ph     Phaser
	active atomic.Pointer[hdr.Histogram]
	spare  *hdr.Histogram // owned by the reader between Interval calls
}

// NewRecorder returns a Recorder with two empty histograms.
func NewRecorder() *Recorder {
	r := &Recorder{spare: New()}
	r.ph.Init()
	r.active.Store(New())
	return r
}

// Record adds one latency; see the package-level Record for clamping.
func (r *Recorder) Record(v int64) {
	e := r.ph.Enter()
	h := r.active.Load()
	if v > Highest {
		v = Highest
	}
	if v < 0 {
		v = 0
	}
	_ = h.RecordValue(v) // in range by construction
	r.ph.Exit(e)
}

// Interval returns the values recorded since the previous call; one reader
// calls it at a time. The returned
// histogram belongs to the caller until its next call to Interval, which
// reuses it.
func (r *Recorder) Interval() *hdr.Histogram {
	next := r.spare
	next.Reset()
	old := r.active.Swap(next)
	r.ph.Flip()
	r.spare = old
	return old
}
