package node

import (
	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/engine"
)

// groupReady is one group's Ready.
type groupReady struct {
	g  *group
	rd engine.Ready
}

// handleReadies takes the Readies of every group, a pass at a time: for
// each, it sends its messages, installs its snapshot, applies what it
// commits and serves its reads; then it persists the whole pass at once,
// on the loop or through the writer as decide says, so that the groups
// ready together share one store sync. A pass goes to the writer if any
// of its Readies must (a leader's write): the groups of one node lead and
// follow at once, and two sinks would mean two syncs.
func (n *Node) handleReadies() {
	// A follower's write may hold up the loop only when the node leads no
	// group: a leader of another group keeps proposing, counting votes
	// and answering its clients during that sync (see decide).
	leads := false
	for _, g := range n.groups {
		leads = leads || g.status.Role == engine.RoleLeader
	}
	for {
		pass := n.ls.pass[:0]
		toWriter, persist := false, false
		for _, g := range n.groups {
			if !g.eng.HasReady() {
				continue
			}
			rd := g.eng.Ready()
			// g.status is from the end of the last pass, as decide expects.
			d := decide(&g.status, &rd, n.ls.inflight)
			n.peers.SetInlineWrites(d.inlinePeers)
			n.send(rd.Messages)
			if rd.Snapshot != nil {
				n.installSnapshot(g, rd.Snapshot)
			}
			n.ls.replyInline = d.inlineReplies
			n.apply(g, rd.Committed)
			if rd.Membership != nil {
				n.onMembership(g, *rd.Membership) // in force now that Committed is applied
			}
			n.onReads(g, rd.Reads)
			n.ls.replyInline = false
			n.serveHeld() // decide did not count these
			pass = append(pass, groupReady{g: g, rd: rd})
			toWriter = toWriter || d.toWriter(leads)
			persist = persist || d.persist
		}
		n.ls.pass = pass
		if len(pass) == 0 {
			break
		}
		if !toWriter {
			if persist {
				if err := n.persistOnLoop(pass); err != nil {
					n.fatal(err)
					return
				}
			}
			for i := range pass {
				n.send(pass[i].rd.AfterSync)
				pass[i].g.eng.Advance(pass[i].rd)
			}
			clear(pass) // pin no entries
			continue
		}
		j := &persistJob{}
		j.readies = append(j.one[:0], pass...)
		clear(pass)
		n.ls.inflight++
		select {
		case n.jobs <- j:
		case <-n.stop:
			return
		}
	}
	n.maybeSnapshot()
}

// readyPlan is how handleReadies treats one Ready.
type readyPlan struct {
	// inlinePeers: peer frames go out on the sending goroutine
	// (transport.Peers.SetInlineWrites) instead of the peer writers'.
	inlinePeers bool
	// inlineReplies: client answers are written on the loop
	// (transport.Conn.SendInline) instead of the connections' writers.
	inlineReplies bool
	// persist: the Ready has state to make durable.
	persist bool
	// onLoop: the loop persists the Ready itself (if persist) and
	// advances; otherwise it goes to the writer.
	onLoop bool
}

// decide plans one Ready from the engine's status at the end of the last
// loop pass, the Ready, and how many writes queued on the writer are not
// back yet. It reads nothing else, so it is tested on its own.
//
// Inline peer writes: a lone client's command is all there is to do in a
// Ready whose new entries carry a command or two while nothing else is in
// flight: nothing to gather, and its latency is the hand-offs between
// goroutines, each a thread wake-up on an idle machine. Otherwise they stay
// off: the peer writers' yield gathers many frames per writev. (The
// leader's commit index reaches a follower with the next Accept, so one
// slot above it is a follower's quiet state.)
//
// Inline replies: answers to a command or two (a lone client's), reads
// the Ready answers included, go out on the loop too; under load many
// answers share each client connection's writev (written inline, every
// read answered by a busy leader would cost the loop a syscall).
//
// On the loop: a Ready with nothing to persist, and a follower's write. A
// follower persists on loop itself, saving two goroutine hand-offs (to the
// writer and back) per write. It has nothing to do meanwhile that cannot
// wait for the sync: messages that arrive queue in peerIn, and the next
// pass's drain puts them all into one Ready, so under load its writes group
// as the writer's would (one per sync). Only applying waits for the sync,
// and on two cores shared by a cluster there is no idle core to apply on
// meanwhile. A leader must not wait there: it keeps proposing and counting
// votes while its own sync runs. Either way, not while writes queued on the
// writer are unfinished (inflight, only just after a leader stepped down):
// Readies stay in order.
func decide(st *engine.Status, rd *engine.Ready, inflight int) readyPlan {
	lead := st.Role == engine.RoleLeader
	inFlight := st.LastSlot - min(st.Commit, st.LastSlot)
	quiet := inFlight == 0 || !lead && inFlight == 1
	persist := rd.SaveHardState || len(rd.Entries) > 0 || rd.Snapshot != nil
	return readyPlan{
		inlinePeers:   quiet && lightReady(rd.Entries),
		inlineReplies: len(rd.Reads) <= lightCommands && lightReadyWith(rd.Committed, len(rd.Reads)),
		persist:       persist,
		onLoop:        inflight == 0 && (!persist || !lead),
	}
}

// toWriter reports whether a pass holding this Ready goes to the writer
// rather than being persisted on the loop: when decide says so, and when
// the Ready has something to persist while the node leads some group
// (leads). A follower's write on the loop is its fastest way only if the
// loop has nothing else to do during the sync; a node leading another
// group does (5 nodes, 5 groups, 200 clients: 8-22% more ops/s and 3-10%
// less node CPU per op in three interleaved pairs).
func (d readyPlan) toWriter(leads bool) bool { return !d.onLoop || leads && d.persist }

// lightCommands is the most commands a Ready's new entries may carry for
// decide to treat it as light.
const lightCommands = 2

// lightReady reports whether entries carry at most lightCommands commands.
func lightReady(entries []engine.Entry) bool { return lightReadyWith(entries, 0) }

// lightReadyWith reports whether entries carry at most lightCommands -
// others commands.
func lightReadyWith(entries []engine.Entry, others int) bool {
	cmds := others
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

// onPersisted advances the engines past a durable pass of Readies; the
// writer already sent their AfterSync messages.
func (n *Node) onPersisted(j *persistJob) {
	n.ls.inflight--
	for i := range j.readies {
		j.readies[i].g.eng.Advance(j.readies[i].rd)
	}
}
