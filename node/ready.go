package node

import (
	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/engine"
)

func (n *Node) handleReadies() {
	// A lone client's command is all there is to do in a Ready whose new
	// entries carry a command or two while nothing else is in flight
	// (n.ls.status is from the end of the last pass): nothing to gather, and
	// its latency is the hand-offs between goroutines, each a thread
	// wake-up on an idle machine. Then peer frames go out on the sending
	// goroutine (transport.Peers.SetInlineWrites). Otherwise that stays
	// off: the peer writers' yield gathers many frames per writev. (The
	// leader's commit index reaches a follower with the next Accept, so
	// one slot above it is a follower's quiet state.)
	lead := n.ls.status.Role == engine.RoleLeader
	inFlight := n.ls.status.LastSlot - min(n.ls.status.Commit, n.ls.status.LastSlot)
	quiet := inFlight == 0 || !lead && inFlight == 1
	for n.eng.HasReady() {
		rd := n.eng.Ready()
		light := quiet && lightReady(rd.Entries)
		n.peers.SetInlineWrites(light)
		n.send(rd.Messages)
		if rd.Snapshot != nil {
			n.installSnapshot(rd.Snapshot)
		}
		// Answers to a command or two (a lone client's) go out inline
		// too; under load many answers share each client connection's
		// writev.
		n.ls.replyInline = lightReady(rd.Committed)
		n.apply(rd.Committed)
		n.ls.replyInline = false
		persist := rd.SaveHardState || len(rd.Entries) > 0 || rd.Snapshot != nil
		// Done on loop: a Ready with nothing to persist, and a follower's
		// write. A follower persists on loop itself, saving two goroutine
		// hand-offs (to the writer and back) per write. It has nothing to
		// do meanwhile that cannot wait for the sync: messages that arrive
		// queue in peerIn, and the next pass's drain puts them all into
		// one Ready, so under load its writes group as the writer's would
		// (one per sync). Only applying waits for the sync, and on two
		// cores shared by a cluster there is no idle core to apply on
		// meanwhile. A leader must not wait here: it keeps proposing and
		// counting votes while its own sync runs. Either way, not while
		// writes queued on the writer are unfinished (n.ls.inflight, only
		// just after a leader stepped down): Readies stay in order.
		if n.ls.inflight == 0 && (!persist || !lead) {
			if persist {
				if err := n.persistOnLoop(rd); err != nil {
					n.fatal(err)
					return
				}
			}
			n.send(rd.AfterSync)
			n.eng.Advance(rd)
			continue
		}
		n.ls.inflight++
		select {
		case n.jobs <- &persistJob{ready: rd}:
		case <-n.stop:
			return
		}
	}
	n.maybeSnapshot()
}

// lightCommands is the most commands a Ready's new entries may carry for
// handleReadies to treat it as light.
const lightCommands = 2

// lightReady reports whether entries carry at most lightCommands commands.
func lightReady(entries []engine.Entry) bool {
	cmds := 0
	for i := range entries {
		if entries[i].Type != engine.EntryBatch {
			continue
		}
		c, err := batch.Count(entries[i].Data)
		if err != nil {
			return false
		}
		if cmds += c; cmds > lightCommands {
			return false
		}
	}
	return true
}

// onPersisted advances the engine past a durable Ready; the writer already
// sent its AfterSync messages.
func (n *Node) onPersisted(j *persistJob) {
	n.ls.inflight--
	n.eng.Advance(j.ready)
}
