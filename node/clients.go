package node

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/transport"
)

// inbox is where client commands wait for the leader's next proposal. The
// client connection readers copy each command straight into the open batch
// (the one copy a command gets before it is written out), so the lock is
// shared by readers and loop.
type inbox struct {
	mu struct {
		sync.Mutex
	}
	b *batch.Batcher
	// pending maps a client session to the request waiting for its reply.
	// A session has one outstanding command at a time; a retry of the same
	// seq (after a timeout) replaces the entry, so the reply goes to the
	// connection that asked last. The key holds the Token too: a forger
	// naming someone's ClientID gets an entry of its own (and its
	// StatusNotOwner there), so it cannot take the owner's reply away.
	pending map[sessionKey]waiter
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
	conn  *transport.Conn
	reqID uint64
	key   []byte
}

func (in *inbox) init(cfg batch.Config) error {
	b, err := batch.New(cfg)
	if err != nil {
		return err
	}
	in.b = b
	in.pending = make(map[sessionKey]waiter)
	return nil
}

// onClientFrame runs on a client connection's reader goroutine; body is
// valid only during the call. A malformed request closes that connection
// and nothing else.
func (n *Node) onClientFrame(c *transport.Conn, typ byte, body []byte) {
	if typ != kv.FrameRequest {
		n.log.Warn("client sent an unknown frame type; closing", "remote", c.RemoteAddr(), "type", typ)
		c.Close()
		return
	}
	req, err := kv.DecodeRequest(body)
	if err != nil {
		n.log.Warn("bad client request; closing", "remote", c.RemoteAddr(), "err", err)
		c.Close()
		return
	}
	if n.cfg.Null {
		n.replyQueued(c, req.ReqID, kv.StatusOK, nil)
		return
	}
	if req.Stale && req.Cmd.Op == kv.OpGet {
		key := append([]byte(nil), req.Cmd.Key...)
		select {
		case n.staleReads <- staleRead{conn: c, reqID: req.ReqID, key: key}:
		case <-n.stop:
		}
		return
	}
	if !n.isLeader.Load() {
		n.replyQueued(c, req.ReqID, kv.StatusNotLeader, nil)
		return
	}
	if n.refusedForSpace(req.Cmd.Op) {
		n.replyQueued(c, req.ReqID, kv.StatusNoSpace, nil)
		return
	}
	n.inbox.mu.Lock()
	// The request's tail is the command in batch format: one copy, here.
	err = n.inbox.b.Add(body[kv.RequestHeaderSize:])
	if err == nil && n.stages.oldest.IsZero() {
		n.stages.oldest = time.Now()
	}
	if err == nil {
		n.inbox.pending[sessionKey{req.Cmd.ClientID, req.Cmd.Token}] = waiter{conn: c, reqID: req.ReqID, seq: req.Cmd.Seq}
	}
	n.inbox.mu.Unlock()
	if errors.Is(err, batch.ErrTooLarge) {
		n.replyQueued(c, req.ReqID, kv.StatusBadRequest, nil)
		return
	}
	if err != nil {
		// The queue is full (no leader progress): push back.
		n.replyQueued(c, req.ReqID, kv.StatusRetry, nil)
		return
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// reply answers a client from loop, inline when loop's replyInline says so.
func (n *Node) reply(c *transport.Conn, reqID uint64, status kv.Status, value []byte) {
	n.respond(c, reqID, status, value, n.replyInline)
}

// replyQueued answers a client from a connection's reader goroutine, which
// must not read loop's replyInline; the connection's writer sends it.
func (n *Node) replyQueued(c *transport.Conn, reqID uint64, status kv.Status, value []byte) {
	n.respond(c, reqID, status, value, false)
}

// respond encodes a response into a pooled buffer whose ownership passes to
// the connection's writer (it returns the buffer to the pool once written).
func (n *Node) respond(c *transport.Conn, reqID uint64, status kv.Status, value []byte, inline bool) {
	resp := kv.Response{
		ReqID:  reqID,
		Status: status,
		Node:   uint16(n.cfg.ID),
		Leader: uint16(n.leader.Load()),
		Value:  value,
	}
	buf := bytebufferpool.Get()
	buf.B = kv.AppendResponse(buf.B[:0], &resp)
	if inline {
		c.SendInline(kv.FrameResponse, buf)
		return
	}
	c.Send(kv.FrameResponse, buf)
}

// apply executes committed entries in slot order and answers the clients
// whose commands they carry. The state machine runs without inbox.mu (the
// client readers keep queueing meanwhile); the lock is taken once per call
// to match the results with the waiting clients.
func (n *Node) apply(entries []engine.Entry) {
	if len(entries) == 0 {
		return
	}
	results := n.results[:0]
	for i := range entries {
		e := &entries[i]
		if e.Slot <= n.applied {
			continue // covered by a snapshot we installed
		}
		if e.Slot != n.applied+1 {
			panic(fmt.Sprintf("node: committed entries skip from slot %d to %d", n.applied, e.Slot))
		}
		n.applied = e.Slot
		n.logBytes += uint64(len(e.Data))
		if e.Type != engine.EntryBatch || len(e.Data) == 0 {
			continue
		}
		start := time.Now()
		p, proposed := n.stages.proposedAt[&e.Data[0]]
		if proposed {
			delete(n.stages.proposedAt, &e.Data[0])
			n.stages.record(StageQuorumWait, start.Sub(p.at))
		}
		err := batch.ForEach(e.Data, func(raw []byte) error {
			cmd, err := kv.DecodeCommand(raw)
			if err != nil {
				return err
			}
			res, dup := n.sm.Apply(uint64(e.Slot), cmd)
			switch {
			case !dup:
				if n.appliedLog != nil {
					n.appliedLog.add(AppliedCommand{Slot: uint64(e.Slot), Client: cmd.ClientID, Seq: cmd.Seq})
				}
			case res.Status != kv.StatusNotOwner: // a refused forgery is no retry
				n.stats.dups.Add(1)
			}
			results = append(results, applied{client: sessionKey{cmd.ClientID, cmd.Token}, seq: cmd.Seq, res: res})
			return nil
		})
		if err != nil {
			// Every replica sees the same chosen bytes and skips the same
			// commands, so they stay identical; but it is never silent.
			n.stats.badEntries.Add(1)
			n.log.Error("committed batch is malformed; its remaining commands are not applied", "slot", e.Slot, "err", err)
		}
		n.stages.since(StageApply, start)
		if proposed {
			n.stages.since(StageRequest, p.oldest)
		}
	}
	// Match results with waiting clients under the lock, answer outside it.
	answers := results[:0] // filtered in place
	n.inbox.mu.Lock()
	for _, r := range results {
		w, ok := n.inbox.pending[r.client]
		if ok && w.seq == r.seq {
			delete(n.inbox.pending, r.client)
			r.w = w
			answers = append(answers, r)
		}
	}
	n.inbox.mu.Unlock()
	for _, r := range answers {
		n.reply(r.w.conn, r.w.reqID, r.res.Status, r.res.Value)
	}
	clear(results) // drop references to connections and values
	n.results = results[:0]
}

// applied is one executed command's result, kept by apply until it is
// matched with its waiting client.
type applied struct {
	client sessionKey
	seq    uint64
	res    kv.Result
	w      waiter
}

// failPending answers every waiting client (after losing leadership or on
// shutdown) so it retries elsewhere at once instead of timing out. Queued
// but unproposed commands are dropped; their clients retry with the same
// sequence numbers, so nothing runs twice.
func (n *Node) failPending(status kv.Status) {
	n.inbox.mu.Lock()
	defer n.inbox.mu.Unlock()
	n.inbox.b.Reset()
	n.stages.oldest = time.Time{}
	clear(n.stages.proposedAt) // batches of a lost leadership may never come back
	for id, w := range n.inbox.pending {
		n.reply(w.conn, w.reqID, status, nil)
		delete(n.inbox.pending, id)
	}
}

// serveStale answers a read the client explicitly allowed to be stale from
// this node's state machine, whatever its role.
func (n *Node) serveStale(r staleRead) {
	v, ok := n.sm.Get(r.key)
	if !ok {
		n.reply(r.conn, r.reqID, kv.StatusNotFound, nil)
		return
	}
	n.reply(r.conn, r.reqID, kv.StatusOK, v)
}
