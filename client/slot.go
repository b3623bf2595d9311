package client

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mpaxos/mpaxos/kv"
)

// Request ids are the client's to choose (the server echoes them back,
// kv.Request.ReqID), so each one says which session's slot its answer goes
// to, and the connection's reader finds the waiting session without a map
// or a lock:
//
//	 63               40 39                                  0
//	+-------------------+-------------------------------------+
//	|  slot index (24)  |  the slot's attempt counter (40)    |
//	+-------------------+-------------------------------------+
//
// A slot's counter only grows, across the sessions that use the slot in
// turn, so an id is never reused by one Client (2^40 attempts per slot),
// and an id is never 0 (0 means "awaiting nothing").
const (
	counterBits = 40
	counterMask = 1<<counterBits - 1
	// maxSlots bounds the sessions alive at once in one Client.
	maxSlots = 1 << (64 - counterBits)
)

// sweepSteps is how many sweep ticks an attempt lasts: the sweep runs every
// Attempt/sweepSteps, so an attempt times out between Attempt and
// Attempt*(1+1/sweepSteps) after it was sent.
const sweepSteps = 4

// What a slot's mailbox carries.
const (
	kindAnswer  = iota // a server's answer, or Close's ErrClosed
	kindExpired        // the sweep: attempt reqID is overdue
	kindCtx            // a watched context ended (which one: check ctx.Err)
)

type response struct {
	kind   uint8
	reqID  uint64
	status kv.Status
	leader uint16
	value  []byte
	err    error
}

// slot is a session's mailbox. Slots belong to the Client and outlive
// sessions: a collected session's slot is reused by a later one.
type slot struct {
	idx uint64
	// want is the request id of the attempt awaiting an answer, 0 none.
	// Whoever claims it (compare-and-swap to 0: the reader with the
	// answer, Close, or the session giving up) settles the attempt, so
	// each attempt gets at most one answer.
	want atomic.Uint64
	// done holds at most one message. Answers replace what is there (see
	// deliver); expiries and context notices never block or replace (see
	// notify): whatever they would have displaced wakes the waiter, who
	// then checks its context, and an expiry comes again next tick.
	done chan response

	// Owned by the session holding the slot.
	counter  uint64
	watched  <-chan struct{} // Done of the context stopWait watches; nil none
	stopWait func() bool
	last     <-chan struct{} // Done of the previous command's context
	onCtx    func()          // ctxEnded, made once (a method value allocates)
}

// takeSlot returns a free slot, making one if none is.
func (c *Client) takeSlot() *slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.mu.free); n > 0 {
		sl := c.mu.free[n-1]
		c.mu.free = c.mu.free[:n-1]
		return sl
	}
	old := *c.slots.Load()
	if len(old) >= maxSlots {
		panic(fmt.Sprintf("client: more than %d sessions alive in one Client", maxSlots))
	}
	sl := &slot{idx: uint64(len(old)), done: make(chan response, 1)}
	sl.onCtx = sl.ctxEnded
	tbl := make([]*slot, len(old)+1, max(2*len(old), 8))
	copy(tbl, old)
	tbl[len(old)] = sl
	c.slots.Store(&tbl)
	return sl
}

// releaseSlot runs once the slot's session is garbage (runtime.AddCleanup).
func (c *Client) releaseSlot(sl *slot) {
	if sl.stopWait != nil {
		sl.stopWait()
	}
	sl.watched, sl.stopWait, sl.last = nil, nil, nil
	c.mu.Lock()
	c.mu.free = append(c.mu.free, sl)
	c.mu.Unlock()
}

// slotOf returns the slot request id reqID names, nil if none.
func (c *Client) slotOf(reqID uint64) *slot {
	tbl := *c.slots.Load()
	if k := reqID >> counterBits; k < uint64(len(tbl)) {
		return tbl[k]
	}
	return nil
}

// nextReqID returns a new request id of the slot.
func (sl *slot) nextReqID() uint64 {
	sl.counter++
	if sl.counter&counterMask == 0 {
		sl.counter++
	}
	return sl.idx<<counterBits | sl.counter&counterMask
}

// watch arranges for ctx's end to wake the command's waits, and returns
// the channel those waits must also select on (nil: a plain receive).
//
// A context that two commands in a row use (a load generator's, a
// caller's long-lived one) gets a context.AfterFunc that sends the slot a
// notice, kept until a later command's context replaces it: nothing per
// command, and the wait is a single receive. A context seen for the first
// time (typically a context.WithTimeout per command) is selected on
// instead: registering would cost allocations, and a goroutine when it is
// cancelled. A context that is never done needs neither.
func (sl *slot) watch(ctx context.Context) <-chan struct{} {
	done := ctx.Done()
	if done == nil || done == sl.watched {
		return nil
	}
	if done != sl.last {
		sl.last = done
		return done
	}
	if sl.stopWait != nil {
		sl.stopWait()
	}
	sl.watched = done
	sl.stopWait = context.AfterFunc(ctx, sl.onCtx)
	return nil
}

func (sl *slot) ctxEnded() { sl.notify(response{kind: kindCtx}) }

// deliver hands an answer to the slot, replacing a message still in the
// buffer: the newest answer is the only one a waiting attempt can want.
func (sl *slot) deliver(r response) {
	for {
		select {
		case sl.done <- r:
			return
		default:
			select {
			case <-sl.done:
			default:
			}
		}
	}
}

// notify hands the slot a notice if there is room, and drops it if not.
func (sl *slot) notify(r response) {
	select {
	case sl.done <- r:
	default:
	}
}

// wait waits for attempt reqID's answer; false means the attempt expired
// or ctx ended. ctxDone is what watch returned for ctx. Messages about
// earlier attempts, or earlier contexts, are dropped; after any of them ctx
// is checked, since a notice of its end may have been dropped for want of
// room.
func (sl *slot) wait(ctx context.Context, ctxDone <-chan struct{}, reqID uint64) (response, bool) {
	for {
		var r response
		if ctxDone == nil {
			r = <-sl.done
		} else {
			select {
			case r = <-sl.done:
			case <-ctxDone:
				return response{}, false
			}
		}
		switch {
		case r.kind == kindAnswer && (r.reqID == reqID || r.err != nil):
			return r, true
		case r.kind == kindExpired && r.reqID == reqID:
			return response{}, false
		}
		if ctx.Err() != nil {
			return response{}, false
		}
	}
}

// sweep expires overdue attempts until Close. Every Attempt/sweepSteps it
// looks at each slot's awaited request id; one it has seen awaited at
// sweepSteps+1 looks in a row was sent more than Attempt ago (ids are never
// reused), and the slot is told. One goroutine per Client replaces a timer
// reset and stopped per attempt, and the attempt itself records nothing
// but its id.
func (c *Client) sweep() {
	t := time.NewTicker(max(c.cfg.Attempt/sweepSteps, time.Millisecond))
	defer t.Stop()
	type sighting struct {
		id    uint64
		looks int
	}
	var seen []sighting // by slot index
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		tbl := *c.slots.Load()
		for len(seen) < len(tbl) {
			seen = append(seen, sighting{})
		}
		for k, sl := range tbl {
			id := sl.want.Load()
			if id == 0 || id != seen[k].id {
				seen[k] = sighting{id: id, looks: 1}
				continue
			}
			if seen[k].looks++; seen[k].looks > sweepSteps {
				sl.notify(response{kind: kindExpired, reqID: id})
			}
		}
	}
}
