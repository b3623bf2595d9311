package replica

import (
	"errors"
	"fmt"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/examples/ledger/ledger"
	"github.com/mpaxos/mpaxos/store"
	"github.com/valyala/bytebufferpool"
)

// run is the event loop, the one goroutine that touches the engine and the
// ledger. Each pass takes one event (a tick, a peer message, a client
// proposal, an inspection call) and then handles every Ready the engine
// has, in engine/doc.go's order.
//
// A time.Ticker drops ticks the loop was too busy to take, so the engine's
// clock may run slow. That only delays elections and heartbeats: this
// replica never asks the engine for lease reads, the one feature that needs
// every missed tick counted (engine/doc.go, "Time").
func (r *Replica) run() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			r.failWaiters(ErrStopped, 0)
			return
		case <-t.C:
			r.eng.Tick()
		case m := <-r.inbox:
			if err := r.eng.Step(m); err != nil {
				r.log.Debug("step", "from", m.From, "type", m.Type, "err", err)
			}
		case p := <-r.props:
			r.propose(p)
			r.proposeQueued()
		case f := <-r.calls:
			f()
		}
		if err := r.handleReadies(); err != nil {
			r.err = err
			r.log.Error("replica stopped", "err", err)
			r.failWaiters(ErrStopped, 0)
			return
		}
		r.publish()
	}
}

// handleReadies follows the Ready contract (engine/doc.go), one Ready at a
// time and with every write synchronous, the simplest correct runtime. (The
// node runtime persists on a writer goroutine while the loop goes on, so
// that one sync covers many Readies; see node/doc.go.)
func (r *Replica) handleReadies() error {
	for r.eng.HasReady() {
		rd := r.eng.Ready()
		// 1. Messages may go out before anything is durable.
		r.send(rd.Messages)
		// 2. Apply: a snapshot from the leader first, then the chosen
		// entries in slot order.
		if rd.Snapshot != nil {
			if err := r.sm.RestoreBytes(rd.Snapshot.Data); err != nil {
				// A snapshot that does not parse would make this replica
				// diverge: stop rather than apply past it.
				return fmt.Errorf("replica: snapshot at slot %d from the leader: %w", rd.Snapshot.Slot, err)
			}
			if r.sm.Applied() != rd.Snapshot.Slot {
				return fmt.Errorf("replica: snapshot at slot %d holds the ledger of slot %d", rd.Snapshot.Slot, r.sm.Applied())
			}
			r.lastSnap = rd.Snapshot.Slot
			r.installs++
			r.log.Info("snapshot installed", "slot", rd.Snapshot.Slot, "bytes", len(rd.Snapshot.Data))
		}
		for i := range rd.Committed {
			r.apply(&rd.Committed[i])
		}
		if rd.Membership != nil {
			r.members = *rd.Membership
		}
		// 3. One atomic write, synced when the Ready says so.
		if err := r.st.Save(store.FromReady(group, &rd)); err != nil {
			return fmt.Errorf("replica: store: %w", err)
		}
		// 4. Promises and Accepteds report durable state: only now.
		r.send(rd.AfterSync)
		// 5. Advance, once per Ready, in order.
		r.eng.Advance(rd)
	}
	return r.maybeSnapshot()
}

func (r *Replica) send(msgs []engine.Message) {
	for i := range msgs {
		m := &msgs[i]
		buf := bytebufferpool.Get()
		buf.B = m.MarshalAppend(buf.B[:0])
		// A dropped frame (peer down, queue full) is a lost message,
		// which Paxos tolerates: the engine retransmits.
		r.peers.Send(uint64(m.To), framePaxos, buf)
	}
}

// apply runs one chosen entry and answers whoever waits for it here.
func (r *Replica) apply(en *engine.Entry) {
	if en.Type != engine.EntryBatch {
		r.sm.Skip(en.Slot) // a no-op, or a membership change: nothing to run
		return
	}
	res := r.sm.Apply(en.Slot, en.Data)
	client, seq, ok := ledger.SessionOf(en.Data)
	if !ok {
		return
	}
	k := sessionKey{client, seq}
	for _, w := range r.waiters[k] {
		w <- outcome{res: res}
	}
	delete(r.waiters, k)
}

// proposeQueued proposes the calls that queued meanwhile, up to a bound, so
// that their slots share the next Ready and its one synced write instead of
// costing a sync each.
func (r *Replica) proposeQueued() {
	for range maxProposalsPerReady - 1 {
		select {
		case p := <-r.props:
			r.propose(p)
		default:
			return
		}
	}
}

// maxProposalsPerReady bounds the calls one loop pass proposes; the engine
// refuses more than its MaxInflight anyway (ErrPipelineFull, answered 503).
const maxProposalsPerReady = 128

func (r *Replica) propose(p proposal) {
	if len(r.waiters) >= maxWaiters {
		p.res <- outcome{err: errBusy}
		return
	}
	if err := r.eng.Propose(p.cmd); err != nil {
		var nl *engine.NotLeaderError
		if errors.As(err, &nl) {
			p.res <- outcome{err: err, leader: nl.Leader}
		} else {
			p.res <- outcome{err: err}
		}
		return
	}
	r.waiters[p.key] = append(r.waiters[p.key], p.res)
}

// publish makes the leader visible to the HTTP handlers and, when this
// replica stops leading, sends its waiting clients elsewhere: their
// commands may still commit under the new leader, and their retry (same
// client and seq) then returns that result without running it twice.
func (r *Replica) publish() {
	st := r.eng.Status()
	r.leader.Store(uint32(st.Leader))
	lead := st.Role == engine.RoleLeader
	if lead {
		r.leader.Store(uint32(r.cfg.ID))
	}
	if r.leading && !lead {
		r.failWaiters(&engine.NotLeaderError{Leader: st.Leader}, st.Leader)
	}
	r.leading = lead
}

func (r *Replica) failWaiters(err error, leader engine.NodeID) {
	for k, ws := range r.waiters {
		for _, w := range ws {
			w <- outcome{err: err, leader: leader}
		}
		delete(r.waiters, k)
	}
}

// maybeSnapshot snapshots the ledger every SnapshotEvery applied slots and
// lets the engine forget the log below it. The store's SaveSnapshot writes
// the snapshot and deletes the entries at or below it in one durable batch;
// Compact comes only after that, since the engine then serves catch-up
// below the slot from the stored snapshot.
func (r *Replica) maybeSnapshot() error {
	slot := r.sm.Applied()
	if slot < r.lastSnap+engine.Slot(r.cfg.SnapshotEvery) {
		return nil
	}
	snap := engine.Snapshot{Slot: slot, Data: r.sm.AppendSnapshot(nil), Membership: r.members}
	r.lastSnap = slot
	if err := r.st.SaveSnapshot(group, snap); errors.Is(err, store.ErrSnapshotOlder) {
		return nil // a newer one from the leader is stored already
	} else if err != nil {
		return fmt.Errorf("replica: saving snapshot at slot %d: %w", slot, err)
	}
	r.taken++
	if err := r.eng.Compact(slot); err != nil {
		r.log.Warn("compact", "slot", slot, "err", err)
	}
	r.log.Debug("snapshot taken", "slot", slot, "bytes", len(snap.Data))
	return nil
}
