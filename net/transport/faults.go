package transport

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"
)

// Faults is the run-time fault hook of one node's Peers: it drops and delays
// peer frames at send or receive time, in this process, without root. Tests
// and the benchmark use it to inject network faults; it is safe for
// concurrent use. With no fault set it costs Send and each received frame one
// atomic load.
//
// Where each fault acts, on this node (self):
//   - Partition and OneWay block directed links. A frame on a blocked link
//     self->peer is dropped at Send; one on a blocked link peer->self is
//     dropped on arrival, before the handler. Setting a fault on only one of
//     the two nodes is therefore enough to cut a link; setting it on both is
//     harmless.
//   - Delay and DropRate act on frames this node sends. To delay or thin out
//     every link, set them on every node.
//
// A dropped frame's Send returns true, as a frame lost on the wire would.
// Delayed frames keep their order per link: each is due at send time + delay
// + a random jitter in [0, jitter), but never before the frame sent before it
// on the same link. The random choices come from a PCG seeded with
// PeersConfig.Seed, so one sender's sequence of drops is repeatable.
type Faults struct {
	self   uint64
	active atomic.Bool // some fault is set or frames are still delayed
	sendFn func(to uint64, typ byte, body *bytebufferpool.ByteBuffer) bool
	pool   *bytebufferpool.Pool // where dropped bodies go (nil: the default pool)
	wake   chan struct{}

	mu struct {
		sync.Mutex
		blocked  map[[2]uint64]bool // directed links (from, to) that drop everything
		delay    time.Duration
		jitter   time.Duration
		dropRate float64
		rng      *rand.Rand
		queues   map[uint64]*delayQueue // per destination, oldest first
		delayed  int                    // frames in all queues
	}
}

type delayed struct {
	due  time.Time
	typ  byte
	body *bytebufferpool.ByteBuffer // owned by the queue until handed to sendFn
}

type delayQueue struct {
	q    []delayed
	head int
}

func newFaults(self, seed uint64, pool *bytebufferpool.Pool, send func(uint64, byte, *bytebufferpool.ByteBuffer) bool) *Faults {
	f := &Faults{self: self, sendFn: send, pool: pool, wake: make(chan struct{}, 1)}
	f.mu.blocked = make(map[[2]uint64]bool)
	f.mu.rng = rand.New(rand.NewPCG(seed, self))
	f.mu.queues = make(map[uint64]*delayQueue)
	return f
}

// Partition cuts this node off from the given peers, both directions, until
// Heal. It adds to any faults already set.
func (f *Faults) Partition(ids ...uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.mu.blocked[[2]uint64{f.self, id}] = true
		f.mu.blocked[[2]uint64{id, f.self}] = true
	}
	f.updateLocked()
}

// OneWay drops every frame from node from to node to, until Heal. It has an
// effect on this node only if from or to is this node.
func (f *Faults) OneWay(from, to uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.blocked[[2]uint64{from, to}] = true
	f.updateLocked()
}

// Delay holds every frame this node sends for d plus a random jitter in
// [0, jitter), keeping each link's order. Delay(0, 0) stops delaying new
// frames; frames already held still go out at their due time.
func (f *Faults) Delay(d, jitter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.delay, f.mu.jitter = max(d, 0), max(jitter, 0)
	f.updateLocked()
}

// DropRate drops each frame this node sends with probability rate (clamped
// to [0, 1]).
func (f *Faults) DropRate(rate float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.dropRate = min(max(rate, 0), 1)
	f.updateLocked()
}

// Heal clears every fault. Frames still delayed are sent at once, in order,
// before any frame sent after Heal.
func (f *Faults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.mu.blocked)
	f.mu.delay, f.mu.jitter, f.mu.dropRate = 0, 0, 0
	for to, dq := range f.mu.queues {
		for ; dq.head < len(dq.q); dq.head++ {
			d := dq.q[dq.head]
			dq.q[dq.head] = delayed{}
			f.sendFn(to, d.typ, d.body)
		}
		dq.q, dq.head = dq.q[:0], 0
	}
	f.mu.delayed = 0
	f.updateLocked()
}

// String describes the faults set, for status pages and logs.
func (f *Faults) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	var links []string
	for l := range f.mu.blocked {
		links = append(links, fmt.Sprintf("%d->%d", l[0], l[1]))
	}
	sort.Strings(links)
	if len(links) > 0 {
		parts = append(parts, "blocked "+strings.Join(links, " "))
	}
	if f.mu.delay > 0 || f.mu.jitter > 0 {
		parts = append(parts, fmt.Sprintf("delay %v jitter %v", f.mu.delay, f.mu.jitter))
	}
	if f.mu.dropRate > 0 {
		parts = append(parts, fmt.Sprintf("drop %.3g", f.mu.dropRate))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

func (f *Faults) updateLocked() {
	f.active.Store(len(f.mu.blocked) > 0 || f.mu.delay > 0 || f.mu.jitter > 0 ||
		f.mu.dropRate > 0 || f.mu.delayed > 0)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// send is Peers.Send's slow path while any fault is set. The mutex also
// orders a link's frames with respect to its delay queue.
func (f *Faults) send(to uint64, typ byte, body *bytebufferpool.ByteBuffer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.blocked[[2]uint64{f.self, to}] ||
		(f.mu.dropRate > 0 && f.mu.rng.Float64() < f.mu.dropRate) {
		release(f.pool, body)
		return true
	}
	dq := f.mu.queues[to]
	if f.mu.delay == 0 && f.mu.jitter == 0 && (dq == nil || dq.head == len(dq.q)) {
		return f.sendFn(to, typ, body)
	}
	if dq == nil {
		dq = &delayQueue{}
		f.mu.queues[to] = dq
	}
	due := time.Now().Add(f.mu.delay)
	if f.mu.jitter > 0 {
		due = due.Add(time.Duration(f.mu.rng.Int64N(int64(f.mu.jitter))))
	}
	if dq.head < len(dq.q) {
		if last := dq.q[len(dq.q)-1].due; due.Before(last) {
			due = last // never overtake the previous frame on this link
		}
	}
	dq.q = append(dq.q, delayed{due: due, typ: typ, body: body})
	f.mu.delayed++
	if f.mu.delayed == 1 || len(dq.q)-dq.head == 1 {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// dropIncoming reports whether a frame from peer from is to be dropped on
// arrival.
func (f *Faults) dropIncoming(from uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.blocked[[2]uint64{from, f.self}]
}

// run is the delay goroutine: it sends each delayed frame when it is due.
// Peers owns it and stops it through done.
func (f *Faults) run(done <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	defer f.discard()
	for {
		next := f.flushDue(time.Now())
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-f.wake:
		case <-done:
			return
		}
	}
}

// flushDue sends every frame due by now and returns when the next one is due
// (zero if none is held).
func (f *Faults) flushDue(now time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next time.Time
	for to, dq := range f.mu.queues {
		for dq.head < len(dq.q) && !dq.q[dq.head].due.After(now) {
			d := dq.q[dq.head]
			dq.q[dq.head] = delayed{}
			dq.head++
			f.mu.delayed--
			f.sendFn(to, d.typ, d.body)
		}
		if dq.head == len(dq.q) {
			dq.q, dq.head = dq.q[:0], 0
			continue
		}
		if due := dq.q[dq.head].due; next.IsZero() || due.Before(next) {
			next = due
		}
	}
	if f.mu.delayed == 0 {
		f.active.Store(len(f.mu.blocked) > 0 || f.mu.delay > 0 || f.mu.jitter > 0 || f.mu.dropRate > 0)
	}
	return next
}

// discard drops every held frame when Peers closes.
func (f *Faults) discard() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, dq := range f.mu.queues {
		for i := dq.head; i < len(dq.q); i++ {
			release(f.pool, dq.q[i].body)
		}
		dq.q, dq.head = nil, 0
	}
	f.mu.delayed = 0
}
