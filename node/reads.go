package node

import (
	"errors"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/transport"
)

// Linearizable reads without the log (engine.Read): a get in index or
// lease mode goes from the client's reader to the loop (n.reads), which
// asks the engine for a read index under a ctx id and parks the read in
// a ring of slots by ctx. The engine's answer (Ready.Reads) either fails
// it (the client retries, or goes to the leader) or gives an index; the
// read is served from the state machine once it has applied through that
// index, at once on a leader (its index is at most its commit), maybe a
// little later on a follower (a follower read: its leader's index may be
// ahead of what it has learnt).
//
// Nothing here allocates per read in steady state: the key travels in a
// pooled buffer, the ring and the held list are reused.

// readRing is the number of reads a node holds at once. A read finds its
// slot by ctx modulo readRing; one arriving while the read readRing ctxs
// before it still holds that slot is refused with StatusRetry. The engine
// answers every read within ElectionTicks and a held read expires as
// long after its answer, so only a node serving more than readRing reads
// per election timeout refuses any.
const readRing = 1 << 13

// readBudget bounds the bytes of keys that gets on their way to the loop
// or held by it may occupy (a key may be as long as a command, about 1
// MiB, and readRing plus the channel hold thousands). A get over it is
// refused with StatusRetry.
const readBudget = 64 << 20

// linRead is a get on its way from a client's reader to the loop.
type linRead struct {
	g     *group
	conn  *transport.Conn
	reqID uint64
	mode  engine.ReadMode
	// key holds the read-only command (sm.Info.ReadOnly), header
	// included, for the machine's Query. It is owned by the read from the
	// reader's copy until the loop answers it, which puts the buffer back
	// in the pool.
	key *bytebufferpool.ByteBuffer
}

// readSlot is one read the loop holds: asked of the engine (index 0), or
// answered with an index the state machine has not reached yet (held).
type readSlot struct {
	ctx   uint64 // 0: the slot is free
	r     linRead
	index engine.Slot
	at    int // n.ls.ticked when the engine answered it
}

// readState is the loop's reads (loopState.reads).
type readState struct {
	slots []readSlot // readRing of them, allocated at Start
	next  uint64     // the next read's ctx; ctx 0 is never used
	held  []uint64   // ctxs of answered reads waiting for apply, oldest first
	// answer is the buffer a machine's Query may append its answer to
	// (kv's read-only multi: the RESP front end's pipelined GETs), reused.
	answer []byte
}

func (rs *readState) init() {
	rs.slots = make([]readSlot, readRing)
	rs.held = make([]uint64, 0, 1024)
	rs.next = 1
	rs.answer = make([]byte, 0, answerBuf)
}

// answerBuf is the capacity of readState.answer. An answer longer than it
// is appended to a buffer of its own, which the read does not keep: a
// Query's Value may alias its machine's state, which must never be
// appended to.
const answerBuf = 64 << 10

func (rs *readState) slot(ctx uint64) *readSlot { return &rs.slots[ctx%readRing] }

// readMode is how the node serves a get that asked for mode: the node's
// default for ReadDefault.
func (n *Node) readMode(mode kv.ReadMode) kv.ReadMode {
	if mode == kv.ReadDefault {
		return n.cfg.ReadMode
	}
	return mode
}

// engineReadMode maps a linearizable read mode without the log to the
// engine's; false for ReadLog and ReadStale.
func engineReadMode(mode kv.ReadMode) (engine.ReadMode, bool) {
	switch mode {
	case kv.ReadIndex:
		return engine.ReadIndex, true
	case kv.ReadLease:
		return engine.ReadLease, true
	}
	return 0, false
}

// queueRead runs on a client's reader goroutine: it copies the read-only
// command, which is only valid during the call, and hands the read to the
// loop.
func (n *Node) queueRead(g *group, c *transport.Conn, reqID uint64, mode engine.ReadMode, key []byte) {
	if n.readBytes.Add(int64(len(key))) > n.readBudget {
		n.readBytes.Add(-int64(len(key)))
		n.replyQueued(c, reqID, kv.StatusRetry, nil)
		return
	}
	buf := bytebufferpool.Get()
	buf.B = append(buf.B[:0], key...)
	select {
	case n.reads <- linRead{g: g, conn: c, reqID: reqID, mode: mode, key: buf}:
	case <-n.stop:
		n.releaseKey(buf)
	}
}

// releaseKey returns a read's key to the pool and to the budget.
func (n *Node) releaseKey(key *bytebufferpool.ByteBuffer) {
	n.readBytes.Add(-int64(len(key.B)))
	bytebufferpool.Put(key)
}

// startRead asks the engine for r's read index. The engine's clock is
// caught up first: a lease is only as good as the ticks it has counted.
func (n *Node) startRead(r linRead) {
	n.catchUpTicks()
	rs := &n.ls.reads
	ctx := rs.next
	sl := rs.slot(ctx)
	if sl.ctx != 0 {
		n.finishRead(r, kv.StatusRetry)
		return
	}
	if err := r.g.eng.Read(ctx, r.mode); err != nil {
		var nl *engine.NotLeaderError
		if !errors.As(err, &nl) {
			n.log.Error("read", "err", err)
		}
		n.finishRead(r, kv.StatusNotLeader)
		return
	}
	rs.next++
	if rs.next == 0 {
		rs.next = 1
	}
	*sl = readSlot{ctx: ctx, r: r}
}

// onReads takes a Ready's Reads, after its Committed was applied. Read
// contexts are unique across the node's groups, so one ring serves all.
func (n *Node) onReads(g *group, states []engine.ReadState) {
	rs := &n.ls.reads
	for i := range states {
		st := &states[i]
		sl := rs.slot(st.Ctx)
		if sl.ctx != st.Ctx || sl.index != 0 || sl.r.g != g {
			n.log.Error("engine answered a read the node does not hold", "group", g.id, "ctx", st.Ctx, "index", st.Index)
			continue
		}
		switch {
		case st.Failed:
			status := kv.StatusNotLeader
			if g.isLeader.Load() {
				status = kv.StatusRetry
			}
			n.finishRead(sl.r, status)
			*sl = readSlot{}
		case g.applied >= st.Index:
			n.serveRead(sl)
		default:
			sl.index, sl.at = st.Index, n.ls.ticked
			rs.held = append(rs.held, st.Ctx)
		}
	}
}

// serveHeld serves the held reads whose index the state machine has now
// applied, and refuses those held longer than an election timeout (a
// follower cut off from its leader may not learn the index for long; its
// client has retried elsewhere by then).
func (n *Node) serveHeld() {
	rs := &n.ls.reads
	if len(rs.held) == 0 {
		return
	}
	expire := n.cfg.ticks(n.cfg.ElectionTimeout)
	k := 0
	for _, ctx := range rs.held {
		sl := rs.slot(ctx)
		switch {
		case sl.r.g.applied >= sl.index:
			n.serveRead(sl)
		case n.ls.ticked-sl.at >= expire:
			n.finishRead(sl.r, kv.StatusRetry)
			*sl = readSlot{}
		default:
			rs.held[k] = ctx
			k++
		}
	}
	rs.held = rs.held[:k]
}

// serveRead answers a read whose index is applied and frees its slot.
func (n *Node) serveRead(sl *readSlot) {
	rs := &n.ls.reads
	res := sl.r.g.sm.Query(rs.answer[:0], sl.r.key.B) // read-only: checked on arrival
	n.reply(sl.r.conn, sl.r.reqID, res.Status, res.Value)
	n.releaseKey(sl.r.key)
	*sl = readSlot{}
}

// finishRead refuses r with status and releases its key.
func (n *Node) finishRead(r linRead, status kv.Status) {
	if status == kv.StatusNotLeader {
		n.notLeader(r.g, r.conn, r.reqID)
	} else {
		n.reply(r.conn, r.reqID, status, nil)
	}
	n.releaseKey(r.key)
}

// failReads refuses every read the node holds or has queued (on
// shutdown).
func (n *Node) failReads(status kv.Status) {
	rs := &n.ls.reads
	for i := range rs.slots {
		if sl := &rs.slots[i]; sl.ctx != 0 {
			n.finishRead(sl.r, status)
			*sl = readSlot{}
		}
	}
	rs.held = rs.held[:0]
	for {
		select {
		case r := <-n.reads:
			n.finishRead(r, status)
		default:
			return
		}
	}
}

// catchUpTicks ticks every group's engine once for every tick interval that has
// passed on the monotonic clock since Start and returns how many it
// gave. A ticker drops the ticks of a loop that was late (a long pass, a
// SIGSTOP, a starved process); a leader that missed them would count its
// lease longer than its followers count their promises.
func (n *Node) catchUpTicks() int {
	due := int(time.Since(n.ls.tickStart) / n.cfg.Tick)
	k := due - n.ls.ticked
	for ; n.ls.ticked < due; n.ls.ticked++ {
		for _, g := range n.groups {
			g.eng.Tick()
		}
	}
	return max(k, 0)
}
