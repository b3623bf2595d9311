package node

import (
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/batch"
	"github.com/mpaxos/mpaxos/engine"
)

// testBatch encodes cmds one-byte commands as one batch.
func testBatch(t *testing.T, cmds int) []byte {
	t.Helper()
	b, err := batch.New(batch.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < cmds; i++ {
		if err := b.Add([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	out, ok := b.Next(time.Now(), true)
	if !ok {
		t.Fatalf("no batch of %d commands", cmds)
	}
	if c, err := batch.Count(out); err != nil || c != cmds {
		t.Fatalf("batch of %d commands counts %d, %v", cmds, c, err)
	}
	return out
}

// TestDecide covers every branch of decide: quiet or not (leader, follower,
// candidate; a commit index above the last slot), light or heavy entries
// and commits (batches, no-ops, a malformed batch), each reason to persist,
// and the writes still queued on the writer.
func TestDecide(t *testing.T) {
	one, two, three := testBatch(t, 1), testBatch(t, 2), testBatch(t, 3)
	batchEntry := func(slot engine.Slot, data []byte) engine.Entry {
		return engine.Entry{Slot: slot, Type: engine.EntryBatch, Data: data}
	}
	noop := engine.Entry{Slot: 1, Type: engine.EntryNoop}
	bad := batchEntry(1, []byte{0xff, 0xff, 0xff})
	status := func(role engine.Role, commit, last engine.Slot) engine.Status {
		return engine.Status{Role: role, Commit: commit, LastSlot: last}
	}
	leader, follower, candidate := engine.RoleLeader, engine.RoleFollower, engine.RoleCandidate
	entries := func(es ...engine.Entry) engine.Ready { return engine.Ready{Entries: es} }
	committed := func(es ...engine.Entry) engine.Ready { return engine.Ready{Committed: es} }

	for _, tc := range []struct {
		name     string
		st       engine.Status
		rd       engine.Ready
		inflight int
		want     readyPlan
	}{
		// Inline peer writes: quiet and light entries.
		{"leader quiet, one command", status(leader, 5, 5), entries(batchEntry(6, one)), 0,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true}},
		{"leader quiet, two commands in two entries", status(leader, 5, 5), entries(batchEntry(6, one), batchEntry(7, one)), 0,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true}},
		{"leader quiet, three commands", status(leader, 5, 5), entries(batchEntry(6, three)), 0,
			readyPlan{inlineReplies: true, persist: true}},
		{"leader quiet, 2+1 commands", status(leader, 5, 5), entries(batchEntry(6, two), batchEntry(7, one)), 0,
			readyPlan{inlineReplies: true, persist: true}},
		{"leader quiet, a no-op", status(leader, 5, 5), entries(noop), 0,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true}},
		{"leader quiet, malformed batch", status(leader, 5, 5), entries(bad), 0,
			readyPlan{inlineReplies: true, persist: true}},
		{"leader one slot in flight is busy", status(leader, 5, 6), entries(batchEntry(7, one)), 0,
			readyPlan{inlineReplies: true, persist: true}},
		{"leader two slots in flight", status(leader, 5, 7), entries(batchEntry(8, one)), 0,
			readyPlan{inlineReplies: true, persist: true}},
		{"follower one slot above commit is quiet", status(follower, 5, 6), entries(batchEntry(7, one)), 0,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true, onLoop: true}},
		{"follower two slots above commit", status(follower, 5, 7), entries(batchEntry(8, one)), 0,
			readyPlan{inlineReplies: true, persist: true, onLoop: true}},
		{"candidate one slot above commit is quiet", status(candidate, 5, 6), entries(batchEntry(7, one)), 0,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true, onLoop: true}},
		{"commit above last slot counts as none in flight", status(leader, 9, 5), entries(batchEntry(6, one)), 0,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true}},

		// Inline replies: light commits, even while busy (no inline peer
		// writes then).
		{"commits one command", status(leader, 5, 9), committed(batchEntry(6, one)), 0,
			readyPlan{inlineReplies: true, onLoop: true}},
		{"commits 1+1 commands", status(leader, 5, 9), committed(batchEntry(6, one), batchEntry(7, one)), 0,
			readyPlan{inlineReplies: true, onLoop: true}},
		{"commits three commands", status(leader, 5, 9), committed(batchEntry(6, three)), 0,
			readyPlan{onLoop: true}},
		{"commits 2+1 commands", status(follower, 5, 9), committed(batchEntry(6, two), batchEntry(7, one)), 0,
			readyPlan{onLoop: true}},
		{"commits a malformed batch", status(follower, 5, 9), committed(bad), 0,
			readyPlan{onLoop: true}},

		// Where to persist.
		{"leader, nothing to persist", status(leader, 5, 5), engine.Ready{}, 0,
			readyPlan{inlinePeers: true, inlineReplies: true, onLoop: true}},
		{"leader, nothing to persist, writes queued", status(leader, 5, 5), engine.Ready{}, 1,
			readyPlan{inlinePeers: true, inlineReplies: true}},
		{"leader, hard state", status(leader, 5, 5), engine.Ready{SaveHardState: true}, 0,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true}},
		{"leader, snapshot", status(leader, 5, 5), engine.Ready{Snapshot: &engine.Snapshot{Slot: 3}}, 0,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true}},
		{"follower, hard state", status(follower, 5, 5), engine.Ready{SaveHardState: true}, 0,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true, onLoop: true}},
		{"follower, snapshot", status(follower, 5, 5), engine.Ready{Snapshot: &engine.Snapshot{Slot: 3}}, 0,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true, onLoop: true}},
		{"follower, entries, writes queued", status(follower, 5, 5), entries(batchEntry(6, one)), 2,
			readyPlan{inlinePeers: true, inlineReplies: true, persist: true}},
		{"follower, nothing to persist, writes queued", status(follower, 5, 5), engine.Ready{}, 1,
			readyPlan{inlinePeers: true, inlineReplies: true}},

		// Inline replies count the reads a Ready answers with its commands.
		{"leader, two reads", status(leader, 5, 5), engine.Ready{Reads: make([]engine.ReadState, 2)}, 0,
			readyPlan{inlinePeers: true, inlineReplies: true, onLoop: true}},
		{"leader, three reads", status(leader, 5, 5), engine.Ready{Reads: make([]engine.ReadState, 3)}, 0,
			readyPlan{inlinePeers: true, onLoop: true}},
		{"leader, a read and two commands", status(leader, 5, 5),
			engine.Ready{Reads: make([]engine.ReadState, 1), Committed: []engine.Entry{batchEntry(5, two)}}, 0,
			readyPlan{inlinePeers: true, onLoop: true}},
		{"leader, a read and a command", status(leader, 5, 5),
			engine.Ready{Reads: make([]engine.ReadState, 1), Committed: []engine.Entry{batchEntry(5, one)}}, 0,
			readyPlan{inlinePeers: true, inlineReplies: true, onLoop: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decide(&tc.st, &tc.rd, tc.inflight); got != tc.want {
				t.Errorf("decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestLightReady: at most lightCommands commands, counted across entries;
// entries that are not batches count none; a malformed batch is never light.
func TestLightReady(t *testing.T) {
	for cmds := 0; cmds <= lightCommands+1; cmds++ {
		var es []engine.Entry
		if cmds > 0 {
			es = append(es, engine.Entry{Slot: 1, Type: engine.EntryBatch, Data: testBatch(t, cmds)})
		}
		es = append(es, engine.Entry{Slot: 2, Type: engine.EntryNoop})
		if got, want := lightReady(es), cmds <= lightCommands; got != want {
			t.Errorf("%d commands: lightReady = %v, want %v", cmds, got, want)
		}
	}
	if lightReady([]engine.Entry{{Slot: 1, Type: engine.EntryBatch, Data: []byte{0xff}}}) {
		t.Error("a malformed batch counts as light")
	}
}

func TestToWriter(t *testing.T) {
	for _, tc := range []struct {
		d     readyPlan
		leads bool
		want  bool
	}{
		{readyPlan{onLoop: true, persist: true}, false, false}, // a follower of every group writes on loop
		{readyPlan{onLoop: true, persist: true}, true, true},   // a node leading another group must not stall it
		{readyPlan{onLoop: true}, true, false},                 // nothing to persist: no hand-off
		{readyPlan{persist: true}, false, true},                // decide's own choice
		{readyPlan{}, true, true},
	} {
		if got := tc.d.toWriter(tc.leads); got != tc.want {
			t.Errorf("%+v leads=%v: toWriter = %v, want %v", tc.d, tc.leads, got, tc.want)
		}
	}
}
