package node

import (
	"errors"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/transport"
	"github.com/mpaxos/mpaxos/sm"
)

// onClientFrame runs on a client connection's reader goroutine; body is
// valid only during the call. A malformed request closes that connection
// and nothing else.
func (n *Node) onClientFrame(c *transport.Conn, typ byte, body []byte) {
	if typ != kv.FrameRequest {
		n.log.Warn("client sent an unknown frame type; closing", "remote", c.RemoteAddr(), "type", typ)
		c.Close()
		return
	}
	reqID, read, err := kv.DecodeRequestHeader(body)
	var info sm.Info
	if err == nil {
		// The machine checks its command (kv's: DecodeCommand).
		info, err = n.cfg.Machine.Check(body[kv.RequestHeaderSize:], len(n.groups))
	}
	if err != nil {
		n.log.Warn("bad client request; closing", "remote", c.RemoteAddr(), "err", err)
		c.Close()
		return
	}
	if n.cfg.Null {
		n.replyQueued(c, reqID, kv.StatusOK, nil)
		return
	}
	if info.CrossGroup {
		// One group's log cannot order another's state (kv: an OpMulti,
		// whose keys may belong to several groups).
		n.replyQueued(c, reqID, kv.StatusBadRequest, nil)
		return
	}
	h := &info.Header
	cmd := body[kv.RequestHeaderSize:]
	g := n.groupOf(h.Key)
	if g.removed.Load() {
		n.removedReply(g, c, reqID)
		return
	}
	mode := n.readMode(read)
	if em, ok := engineReadMode(mode); ok && info.ReadOnly {
		// A read (kv: a get, or a pipeline of gets, the RESP front end's,
		// read off one state): a read index or lease, not the log.
		n.queueRead(g, c, reqID, em, cmd)
		return
	}
	if mode == kv.ReadStale && info.ReadOnly {
		key := append([]byte(nil), cmd...)
		select {
		case n.staleReads <- staleRead{g: g, conn: c, reqID: reqID, key: key}:
		case <-n.stop:
		}
		return
	}
	if !g.isLeader.Load() {
		n.notLeader(g, c, reqID)
		return
	}
	if n.refusedForSpace(info.ReadOnly) {
		n.replyQueued(c, reqID, kv.StatusNoSpace, nil)
		return
	}
	// The request's tail is the command in batch format: one copy, here.
	err = g.inbox.push(cmd, sessionKey{h.ClientID, h.Token},
		waiter{conn: c, reqID: reqID, seq: h.Seq}, time.Now())
	if errors.Is(err, batch.ErrTooLarge) {
		n.replyQueued(c, reqID, kv.StatusBadRequest, nil)
		return
	}
	if err != nil {
		// The queue is full (no leader progress): push back.
		n.replyQueued(c, reqID, kv.StatusRetry, nil)
		return
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// notLeader refuses a command of group g on a node that does not lead
// it, naming g's leader. With several groups the value says which group
// and how many there are (kv.NotLeaderInfo), so the client learns the
// group count and that group's leader from the refusal; with one, the
// value stays empty as it always was.
func (n *Node) notLeader(g *group, c *transport.Conn, reqID uint64) {
	resp := kv.Response{ReqID: reqID, Status: kv.StatusNotLeader, Node: uint16(n.cfg.ID), Leader: uint16(g.leader.Load())}
	var info [kv.NotLeaderInfoSize]byte
	if len(n.groups) > 1 {
		resp.Value = kv.AppendNotLeaderInfo(info[:0], kv.NotLeaderInfo{Group: uint16(g.id), Groups: uint16(len(n.groups))})
	}
	buf := bytebufferpool.Get()
	buf.B = kv.AppendResponse(buf.B[:0], &resp)
	c.Send(kv.FrameResponse, buf)
}

// reply answers a client from loop, inline when loop's replyInline says so.
func (n *Node) reply(c *transport.Conn, reqID uint64, status kv.Status, value []byte) {
	n.respond(c, reqID, status, value, n.ls.replyInline)
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
		Leader: uint16(n.groups[0].leader.Load()),
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

// serveStale answers a read the client explicitly allowed to be stale from
// this node's state machine, whatever its role.
func (n *Node) serveStale(r staleRead) {
	res := r.g.sm.Query(n.ls.reads.answer[:0], r.key)
	n.reply(r.conn, r.reqID, res.Status, res.Value)
}
