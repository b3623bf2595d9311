package node

import (
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/kv"
)

// loop owns the engine: every protocol decision happens here.
func (n *Node) loop() {
	defer n.wg.Done()
	// Before the ticker, so each of its fires finds one more interval
	// passed since tickStart (catchUpTicks), however late it fires.
	n.ls.tickStart = time.Now()
	ticker := time.NewTicker(n.cfg.Tick)
	defer ticker.Stop()
	batchTimer := time.NewTimer(time.Hour)
	batchTimer.Stop()
	spaceTicks, sinceSpace := n.cfg.ticks(n.cfg.SpaceCheck), 0
	n.checkSpace()
	for {
		select {
		case <-n.stop:
			for _, g := range n.groups {
				n.failPending(g, kv.StatusRetry)
			}
			n.failReads(kv.StatusRetry)
			return
		case <-ticker.C:
			if k := n.catchUpTicks(); k > 0 {
				n.publishPeers()
				n.maybeHandOff(k)
				n.tickMembers(k)
				if sinceSpace += k; sinceSpace >= spaceTicks {
					sinceSpace = 0
					n.checkSpace()
				}
				n.serveHeld()
			}
		case m := <-n.peerIn:
			n.step(m)
		case r := <-n.reads:
			n.startRead(r)
			n.drainReads()
		case j := <-n.persisted:
			n.onPersisted(j)
		case r := <-n.staleReads:
			n.serveStale(r)
		case q := <-n.queries:
			q()
		case r := <-n.snapDone:
			n.onSnapshotDone(r)
		case <-n.wake:
		case <-batchTimer.C:
		}
		n.drain()
		if d, ok := n.propose(); ok {
			batchTimer.Reset(d)
		}
		n.handleReadies()
		n.publish()
	}
}

// drain takes whatever else is already queued, so one Ready covers many
// messages (fewer, larger writes and syncs). Bounded so ticks stay timely.
func (n *Node) drain() {
	for i := 0; i < 1024; i++ {
		select {
		case m := <-n.peerIn:
			n.step(m)
		case j := <-n.persisted:
			n.onPersisted(j)
		default:
			return
		}
	}
}

// drainReads takes the reads already queued, so one heartbeat round
// confirms them all. Bounded so ticks stay timely.
func (n *Node) drainReads() {
	for i := 0; i < 1024; i++ {
		select {
		case r := <-n.reads:
			n.startRead(r)
		default:
			return
		}
	}
}

// step hands m to its group's engine (onPeerFrame checked the group).
func (n *Node) step(m engine.Message) {
	if m.Type == engine.MsgReadIndex && m.Lease {
		// The engine may answer it from its lease: count the ticks first.
		n.catchUpTicks()
	}
	if err := n.groups[m.Group].eng.Step(m); err != nil {
		n.log.Debug("step", "group", m.Group, "from", m.From, "type", m.Type, "err", err)
	}
}

// onPeerFrame runs on a transport reader goroutine. body is only valid
// during the call, and the engine keeps Entries' Data until they are
// applied and persisted, so the frame is copied once here.
func (n *Node) onPeerFrame(from uint64, typ byte, body []byte) {
	if typ != framePaxos {
		n.log.Warn("unknown peer frame type", "from", from, "type", typ)
		return
	}
	own := make([]byte, len(body))
	copy(own, body)
	var m engine.Message
	if err := m.Unmarshal(own); err != nil {
		n.log.Warn("bad peer message", "from", from, "err", err)
		return
	}
	if uint64(m.From) != from || int(m.Group) >= len(n.groups) {
		n.log.Warn("peer message with wrong sender or group", "conn_from", from, "msg_from", m.From, "group", m.Group)
		return
	}
	m.To = n.cfg.ID
	if h := (*n.heard.Load())[m.From]; h != nil {
		h.Add(1)
	}
	select {
	case n.peerIn <- m:
	case <-n.stop:
	}
}

func (n *Node) send(msgs []engine.Message) {
	for i := range msgs {
		m := &msgs[i]
		buf := n.peerPool.Get()
		buf.B = m.MarshalAppend(buf.B[:0])
		if !n.peers.Send(uint64(m.To), framePaxos, buf) {
			n.stats.dropped.Add(1)
		}
	}
}

// publish makes every group's engine view visible to other goroutines
// and, when this node stops leading a group, tells the clients waiting on
// it to go elsewhere.
func (n *Node) publish() {
	for _, g := range n.groups {
		g.eng.StatusInto(&g.status)
		st := &g.status
		lead := st.Role == engine.RoleLeader
		g.isLeader.Store(lead)
		g.leader.Store(uint32(st.Leader))
		g.commit.Store(uint64(st.Commit))
		g.appliedP.Store(uint64(g.applied))
		g.ballot.Store(uint64(st.Ballot))
		if lead != g.wasLeader {
			g.wasLeader = lead
			n.log.Info("role changed", "group", g.id, "leader", lead, "ballot", st.Ballot.String(), "commit", st.Commit)
			if !lead {
				n.failPending(g, kv.StatusNotLeader)
			}
		}
	}
}

// publishPeers refreshes, for every group this node leads, the per-peer
// lag the admin endpoint shows.
func (n *Node) publishPeers() {
	for _, g := range n.groups {
		st := &g.status
		if st.Role != engine.RoleLeader {
			g.peerLag.Store(nil)
			continue
		}
		lags := make([]PeerLag, 0, len(st.Match))
		for _, m := range st.Match {
			lag := uint64(0)
			if st.LastSlot > m.Match {
				lag = uint64(st.LastSlot - m.Match)
			}
			lags = append(lags, PeerLag{ID: uint16(m.ID), Match: uint64(m.Match), Lag: lag})
		}
		g.peerLag.Store(&lags)
	}
}

// onLoop runs f on the loop goroutine and waits for it; false if the node
// stopped first.
func (n *Node) onLoop(f func()) bool {
	done := make(chan struct{})
	select {
	case n.queries <- func() { f(); close(done) }:
	case <-n.stop:
		return false
	}
	select {
	case <-done:
		return true
	case <-n.stop:
		return false
	}
}
