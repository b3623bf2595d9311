package node

import (
	"sync"
	"time"

	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/net/transport"
)

// inbox is where client commands wait for the leader's next proposal. The
// client connection readers copy each command straight into the open batch
// (the one copy a command gets before it is written out), so the lock is
// shared by readers and loop. Only the methods below touch mu.
type inbox struct {
	mu struct {
		sync.Mutex
		b *batch.Batcher
		// pending maps a client session to the request waiting for its
		// reply. A session has one outstanding command at a time; a retry
		// of the same seq (after a timeout) replaces the entry, so the
		// reply goes to the connection that asked last. The key holds the
		// Token too: a forger naming someone's ClientID gets an entry of
		// its own (and its StatusNotOwner there), so it cannot take the
		// owner's reply away.
		pending map[sessionKey]waiter
		// oldest is when the oldest command not yet proposed arrived; zero
		// if none.
		oldest time.Time
	}
}

// sessionKey names a client session as the state machine knows it (see
// kv's doc, "Session ownership").
type sessionKey struct{ id, token uint64 }

type waiter struct {
	conn  *transport.Conn
	reqID uint64
	seq   uint64
}

type staleRead struct {
	g     *group
	conn  *transport.Conn
	reqID uint64
	key   []byte
}

func (in *inbox) init(cfg batch.Config) error {
	b, err := batch.New(cfg)
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.mu.b = b
	in.mu.pending = make(map[sessionKey]waiter)
	return nil
}

// push queues cmd (in batch format) into the open batch and records w as
// the session's waiting request. On an error (batch.ErrTooLarge, or the
// queue is full) nothing is queued or recorded.
func (in *inbox) push(cmd []byte, s sessionKey, w waiter, now time.Time) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.mu.b.Add(cmd); err != nil {
		return err
	}
	if in.mu.oldest.IsZero() {
		in.mu.oldest = now
	}
	in.mu.pending[s] = w
	return nil
}

// take returns the next batch to propose, if one is ready at now, and when
// its oldest command arrived (zero if unknown). Commands left behind wait
// from now on.
func (in *inbox) take(now time.Time) (b []byte, oldest time.Time, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	b, ok = in.mu.b.Next(now, true)
	if !ok {
		return nil, time.Time{}, false
	}
	oldest = in.mu.oldest
	in.mu.oldest = time.Time{}
	if !oldest.IsZero() && in.mu.b.Len() > 0 {
		in.mu.oldest = now
	}
	return b, oldest, true
}

// deadline is when the batcher wants another look (its max-delay), if it
// does.
func (in *inbox) deadline() (time.Time, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.mu.b.Deadline()
}

// len is how many commands are queued, not yet taken.
func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.mu.b.Len()
}

// waiting is how many sessions wait for a reply.
func (in *inbox) waiting() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.mu.pending)
}

// claim keeps, in place, the results whose session waits for exactly that
// command, each with its waiter, and forgets those waiters: the caller
// answers them (outside the lock). It returns the kept prefix.
func (in *inbox) claim(results []applied) []applied {
	kept := results[:0]
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range results {
		w, ok := in.mu.pending[r.client]
		if ok && w.seq == r.seq {
			delete(in.mu.pending, r.client)
			r.w = w
			kept = append(kept, r)
		}
	}
	return kept
}

// drop discards every queued command and hands every waiter to answer,
// under the lock, so no reader queues behind a half-emptied inbox.
func (in *inbox) drop(answer func(waiter)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.mu.b.Reset()
	in.mu.oldest = time.Time{}
	for id, w := range in.mu.pending {
		answer(w)
		delete(in.mu.pending, id)
	}
}
