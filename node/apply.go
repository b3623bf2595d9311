package node

import (
	"fmt"
	"time"

	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/kv"
)

// apply executes group g's committed entries in slot order and answers the
// clients whose commands they carry. The state machine runs without the inbox's lock (the
// client readers keep queueing meanwhile); the lock is taken once per call
// to match the results with the waiting clients.
func (n *Node) apply(g *group, entries []engine.Entry) {
	if len(entries) == 0 {
		return
	}
	results := n.ls.results[:0]
	for i := range entries {
		e := &entries[i]
		if e.Slot <= g.applied {
			continue // covered by a snapshot we installed
		}
		if e.Slot != g.applied+1 {
			panic(fmt.Sprintf("node: group %d: committed entries skip from slot %d to %d", g.id, g.applied, e.Slot))
		}
		g.applied = e.Slot
		g.snap.logBytes += uint64(len(e.Data))
		if e.Type != engine.EntryBatch || len(e.Data) == 0 {
			continue
		}
		start := time.Now()
		p, proposed := n.ls.proposedAt[&e.Data[0]]
		if proposed {
			delete(n.ls.proposedAt, &e.Data[0])
			n.stages.record(StageQuorumWait, start.Sub(p.at))
		}
		err := batch.ForEach(e.Data, func(raw []byte) error {
			// The session table decides whether the machine runs it
			// (sm.Sessions); a header that does not decode stops the batch.
			h, res, dup, err := g.sm.Apply(uint64(e.Slot), raw)
			if err != nil {
				return err
			}
			switch {
			case !dup:
				if g.appliedLog != nil {
					g.appliedLog.add(AppliedCommand{Slot: uint64(e.Slot), Client: h.ClientID, Seq: h.Seq})
				}
			case res.Status != kv.StatusNotOwner: // a refused forgery is no retry
				n.stats.dups.Add(1)
			}
			results = append(results, applied{client: sessionKey{h.ClientID, h.Token}, seq: h.Seq, res: res})
			return nil
		})
		if err != nil {
			// Every replica sees the same chosen bytes and skips the same
			// commands, so they stay identical; but it is never silent.
			n.stats.badEntries.Add(1)
			n.log.Error("committed batch is malformed; its remaining commands are not applied", "group", g.id, "slot", e.Slot, "err", err)
		}
		n.stages.since(StageApply, start)
		if proposed {
			n.stages.since(StageRequest, p.oldest)
		}
	}
	// Match results with waiting clients under the inbox's lock, answer
	// outside it.
	claimed := g.inbox.claim(results)
	n.stats.acked.Add(uint64(len(claimed)))
	for _, r := range claimed {
		n.reply(r.w.conn, r.w.reqID, r.res.Status, r.res.Value)
	}
	clear(results) // drop references to connections and values
	n.ls.results = results[:0]
}

// applied is one executed command's result, kept by apply until it is
// matched with its waiting client.
type applied struct {
	client sessionKey
	seq    uint64
	res    kv.Result
	w      waiter
}

// failPending answers every client waiting on group g (after losing leadership or on
// shutdown) so it retries elsewhere at once instead of timing out. Queued
// but unproposed commands are dropped; their clients retry with the same
// sequence numbers, so nothing runs twice.
func (n *Node) failPending(g *group, status kv.Status) {
	// Batches of a lost leadership may never come back.
	for b, p := range n.ls.proposedAt {
		if p.group == g.id {
			delete(n.ls.proposedAt, b)
		}
	}
	g.inbox.drop(func(w waiter) {
		if status == kv.StatusNotLeader {
			n.notLeader(g, w.conn, w.reqID)
			return
		}
		n.reply(w.conn, w.reqID, status, nil)
	})
}
