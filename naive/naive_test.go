package naive

import (
	"errors"
	"slices"
	"testing"

	"github.com/mpaxos/mpaxos/engine"
)

// Two clients send their write of one key to both nodes, each starting
// with a different node: the nodes execute them in different orders.
func TestUnsyncDiverges(t *testing.T) {
	c := newCluster(t, Unsync, 2)
	c.propose(1, "x=a") // client A at node 1
	c.propose(2, "x=b") // client B at node 2
	c.propose(2, "x=a") // client A's fan-out reaches node 2
	c.propose(1, "x=b") // client B's reaches node 1
	c.deliver()
	if len(c.queue) != 0 || c.agree(1, 2) {
		t.Fatalf("unsync nodes should diverge without talking:\n%s", c.states())
	}
	if c.nodes[1].state["x"] != "b" || c.nodes[2].state["x"] != "a" {
		t.Fatalf("unexpected states:\n%s", c.states())
	}
}

// Writes accepted at two nodes at once reach the other node after its
// own: each executes its own first.
func TestMultiLeaderDiverges(t *testing.T) {
	c := newCluster(t, MultiLeader, 3)
	c.propose(1, "x=a")
	c.propose(2, "x=b")
	c.deliver()
	for _, id := range c.ids {
		if got := c.nodes[id].eng.Status().Commit; got != 2 {
			t.Fatalf("node %d executed %d slots, want both writes", id, got)
		}
	}
	if c.agree(1, 2) {
		t.Fatalf("multi-leader nodes 1 and 2 should diverge:\n%s", c.states())
	}
}

// Without concurrent writers multi-leader forwards keep replicas equal:
// the failure needs the concurrency.
func TestMultiLeaderAgreesWithOneWriter(t *testing.T) {
	c := newCluster(t, MultiLeader, 3)
	c.propose(2, "x=a")
	c.deliver()
	c.propose(3, "x=b")
	c.deliver()
	if !c.agree(1, 2) || !c.agree(2, 3) || c.nodes[1].state["x"] != "b" {
		t.Fatalf("states differ with one writer at a time:\n%s", c.states())
	}
}

// The primary executes and answers, then dies before its forward leaves:
// the backup it promotes never had the write.
func TestPrimaryBackupLosesAcknowledgedWrite(t *testing.T) {
	c := newCluster(t, PrimaryBackup, 3)
	if got := c.leading(); !slices.Equal(got, []engine.NodeID{1}) {
		t.Fatalf("leading nodes %v, want [1]", got)
	}
	c.propose(1, "x=a")
	if c.nodes[1].state["x"] != "a" {
		t.Fatal("the primary did not execute the write before forwarding it")
	}
	// The answer is out (the write executed); the forward is not.
	c.crash(1)
	c.tick(10)
	if got := c.leading(); !slices.Equal(got, []engine.NodeID{2}) {
		t.Fatalf("leading nodes %v after the primary died, want [2]", got)
	}
	if _, ok := c.nodes[2].state["x"]; ok {
		t.Fatalf("the new primary has the write: %s", c.states())
	}
}

// With the forward delivered, a backup holds what the primary answered.
func TestPrimaryBackupForwards(t *testing.T) {
	c := newCluster(t, PrimaryBackup, 3)
	c.propose(1, "x=a")
	c.deliver()
	if !c.agree(1, 2) || !c.agree(1, 3) {
		t.Fatalf("backups lack a forwarded write:\n%s", c.states())
	}
	if err := c.nodes[2].eng.Propose([]byte("y=b")); !errors.Is(err, engine.ErrNotLeader) {
		t.Fatalf("a backup took a write: %v", err)
	}
}

// The acknowledging primary commits only once every backup has the write,
// so a crash of the primary after the answer loses nothing.
func TestPrimaryBackupAckWaitsForBackups(t *testing.T) {
	c := newCluster(t, PrimaryBackupAck, 3)
	c.propose(1, "x=a")
	if _, ok := c.nodes[1].state["x"]; ok {
		t.Fatal("the primary executed before its backups acknowledged")
	}
	c.deliver()
	if c.nodes[1].state["x"] != "a" {
		t.Fatalf("the primary did not commit after every ack:\n%s", c.states())
	}
	c.crash(1)
	c.tick(10)
	if c.nodes[2].state["x"] != "a" || !slices.Equal(c.leading(), []engine.NodeID{2}) {
		t.Fatalf("the write did not survive the primary:\n%s", c.states())
	}
}

// Cut the primary off: its failure detector drops the backups, theirs
// drops it, and both sides act as primary and commit writes.
func TestPrimaryBackupAckSplitBrain(t *testing.T) {
	c := newCluster(t, PrimaryBackupAck, 3)
	c.isolate(1)
	c.tick(10)
	if got := c.leading(); !slices.Equal(got, []engine.NodeID{1, 2}) {
		t.Fatalf("leading nodes %v, want two primaries [1 2]", got)
	}
	c.propose(1, "x=a")
	c.propose(2, "y=b")
	c.deliver()
	if c.nodes[1].state["x"] != "a" || c.nodes[2].state["y"] != "b" || c.nodes[3].state["y"] != "b" {
		t.Fatalf("both primaries should have committed their write:\n%s", c.states())
	}
	// Healed, node 1 is primary again (lowest id) over diverged replicas.
	c.cut = map[engine.NodeID]map[engine.NodeID]bool{1: {}, 2: {}, 3: {}}
	c.tick(electionTicks) // resends come after two heartbeats without an ack
	if got := c.leading(); !slices.Equal(got, []engine.NodeID{1}) {
		t.Fatalf("leading nodes %v after healing, want [1]", got)
	}
	// Its stream brings x=a to the others; node 2's write never reaches it.
	if c.agree(1, 2) || c.nodes[2].state["x"] != "a" {
		t.Fatalf("want node 1 without y, the others with both:\n%s", c.states())
	}
}

// A backup that stops acknowledging is dropped by the failure detector,
// and the primary commits alone.
func TestPrimaryBackupAckDropsSilentBackup(t *testing.T) {
	c := newCluster(t, PrimaryBackupAck, 2)
	c.cut[2][1] = true // node 1's forwards arrive, node 2's acks do not
	c.propose(1, "x=a")
	c.deliver()
	if _, ok := c.nodes[1].state["x"]; ok {
		t.Fatal("committed without the backup's ack")
	}
	c.tick(5) // node 1 now drops node 2 as dead, and commits alone
	if c.nodes[1].state["x"] != "a" {
		t.Fatalf("primary with no live backup did not commit:\n%s", c.states())
	}
}

// A primary that gives way (a healed split) drops the writes it had not
// committed, and takes the new primary's forwards into those slots.
func TestPrimaryBackupAckStepDownDropsPending(t *testing.T) {
	c := newCluster(t, PrimaryBackupAck, 3)
	c.isolate(1)
	c.tick(electionTicks)
	c.cut[3][2] = true // node 2's forward arrives, node 3's ack does not
	c.propose(2, "x=b")
	c.deliver()
	if c.nodes[2].state["x"] != "" || c.nodes[3].state["x"] != "b" {
		t.Fatalf("want x=b on the backup only:\n%s", c.states())
	}
	for _, id := range []engine.NodeID{2, 3} {
		c.cut[1][id], c.cut[id][1] = false, false
	}
	c.tick(2)
	if got := c.leading(); !slices.Equal(got, []engine.NodeID{1}) {
		t.Fatalf("leading nodes %v after healing, want [1]", got)
	}
	c.propose(1, "y=c")
	c.deliver()
	if st := c.nodes[2].eng.Status(); st.Commit != 1 || st.LastSlot != 1 || c.nodes[2].state["y"] != "c" {
		t.Fatalf("node 2 status %+v, state %v: want y=c in slot 1", st, c.nodes[2].state)
	}
	// Node 3 executed x=b, which no one acknowledged, and y=c.
	if c.nodes[3].state["x"] != "b" || c.nodes[3].state["y"] != "c" {
		t.Fatalf("node 3: %v", c.nodes[3].state)
	}
}

// A primary that restarts follows the primary that replaced it, with the
// state it had: nothing is reconciled.
func TestPrimaryBackupRestartedPrimaryFollows(t *testing.T) {
	c := newCluster(t, PrimaryBackup, 3)
	c.propose(1, "x=a")
	c.crash(1) // the forward of x=a is lost
	c.tick(2 * electionTicks)
	c.propose(2, "y=b")
	c.deliver()
	c.nodes[1].down = false
	c.start(1, c.nodes[1].storage)
	c.ready(1)
	c.tick(electionTicks)
	if got := c.leading(); !slices.Equal(got, []engine.NodeID{2}) {
		t.Fatalf("leading nodes %v after the restart, want [2]", got)
	}
	c.propose(2, "z=c")
	c.deliver()
	// The new primary's stream catches node 1 up on what it forwarded
	// (y, z); x=a stays on node 1 alone.
	if c.nodes[1].state["x"] != "a" || c.nodes[1].state["y"] != "b" || c.nodes[1].state["z"] != "c" {
		t.Fatalf("node 1 should hold x=a, y=b and z=c:\n%s", c.states())
	}
	if c.nodes[2].state["x"] != "" {
		t.Fatalf("the acknowledged x=a reached the new primary:\n%s", c.states())
	}
}

// A forward dropped while a connection was down is resent, so without
// faults that last the backups catch up.
func TestForwardResentAfterDrop(t *testing.T) {
	for _, p := range []Protocol{PrimaryBackup, PrimaryBackupAck, MultiLeader} {
		t.Run(p.String(), func(t *testing.T) {
			c := newCluster(t, p, 3)
			c.cut[1][2] = true
			c.propose(1, "x=a")
			c.deliver()
			c.propose(1, "y=b")
			c.deliver()
			if _, ok := c.nodes[2].state["x"]; ok {
				t.Fatal("the cut link delivered")
			}
			c.cut[1][2] = false
			c.tick(3)
			if !c.agree(1, 2) || !c.agree(1, 3) || len(c.nodes[2].state) != 2 {
				t.Fatalf("not caught up after the link healed:\n%s", c.states())
			}
			if st := c.nodes[2].eng.Status(); st.Commit != 2 {
				t.Fatalf("node 2 executed %d slots, want 2 (no duplicates)", st.Commit)
			}
		})
	}
}

// A peer the failure detector takes for dead gets no resends: they would
// cost the whole buffer every heartbeat.
func TestNoResendToDeadPeer(t *testing.T) {
	c := newCluster(t, MultiLeader, 3)
	c.crash(3)
	c.tick(2 * electionTicks)
	c.propose(1, "x=a")
	c.tick(2 * electionTicks)
	if got := c.accepts[3]; got != 1 {
		t.Fatalf("%d forwards to the dead node, want the first one only", got)
	}
	if got := c.accepts[2]; got != 1 {
		t.Fatalf("%d forwards to the live node that acknowledged, want 1", got)
	}
}

// A peer that falls further behind than the stream's buffer loses what
// was dropped from it and takes the rest: the resend says where the
// sender's buffer starts, on the wire (the harness round-trips every
// message through the codec).
func TestForwardGapPastBufferSkipped(t *testing.T) {
	c := newClusterLimit(t, MultiLeader, 2, 3)
	c.cut[1][2] = true
	for _, cmd := range []string{"a=1", "b=2", "c=3", "d=4", "e=5"} {
		c.propose(1, cmd)
	}
	c.deliver()
	c.cut[1][2] = false
	c.tick(3)
	got := c.nodes[2].state
	if len(got) != 3 || got["c"] != "3" || got["d"] != "4" || got["e"] != "5" {
		t.Fatalf("node 2 has %v, want the last 3 writes only", got)
	}
	c.propose(1, "f=6")
	c.deliver()
	if c.nodes[2].state["f"] != "6" {
		t.Fatalf("the stream did not go on after the gap: %v", c.nodes[2].state)
	}
}

// A restarted node's stream starts again: a new incarnation's first
// forward is not taken for a duplicate of the old one's.
func TestRestartedSenderNewStream(t *testing.T) {
	c := newCluster(t, MultiLeader, 2)
	c.propose(1, "a=1")
	c.deliver()
	st := c.nodes[1].storage
	cfg := c.nodes[1].eng.cfg
	cfg.Incarnation = 2
	e, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[1].eng = e
	c.ready(1)
	c.propose(1, "b=2")
	c.deliver()
	if c.nodes[2].state["b"] != "2" {
		t.Fatalf("node 2 dropped the restarted node's first write: %v", c.nodes[2].state)
	}
}

func TestRestartReplaysCommitted(t *testing.T) {
	for _, p := range []Protocol{Unsync, PrimaryBackup, PrimaryBackupAck, MultiLeader} {
		t.Run(p.String(), func(t *testing.T) {
			c := newCluster(t, p, 2)
			c.propose(1, "x=a")
			c.deliver()
			c.propose(1, "y=b")
			c.deliver()
			want := c.nodes[1].state
			c.start(1, c.nodes[1].storage)
			c.ready(1)
			if got := c.nodes[1].state; len(got) != 2 || got["x"] != want["x"] || got["y"] != want["y"] {
				t.Fatalf("restarted node has %v, want %v", got, want)
			}
			if st := c.nodes[1].eng.Status(); st.Commit != 2 || st.LastSlot != 2 {
				t.Fatalf("restarted status %+v, want commit and last slot 2", st)
			}
		})
	}
}

func TestReadServedLocally(t *testing.T) {
	c := newCluster(t, PrimaryBackup, 2)
	c.propose(1, "x=a")
	c.deliver()
	e := c.nodes[1].eng
	if err := e.Read(7, engine.ReadIndex); err != nil {
		t.Fatal(err)
	}
	rd := e.Ready()
	if len(rd.Reads) != 1 || rd.Reads[0] != (engine.ReadState{Ctx: 7, Index: 1}) {
		t.Fatalf("reads %+v, want ctx 7 at index 1", rd.Reads)
	}
	var nl *engine.NotLeaderError
	if err := c.nodes[2].eng.Read(8, engine.ReadLease); !errors.As(err, &nl) || nl.Leader != 1 {
		t.Fatalf("a backup's read: %v, want not leader naming node 1", err)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ElectionTicks = 1
	err := cfg.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	// Every problem at once: protocol, id, election ticks.
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 3 {
		t.Fatalf("%d problems reported, want 3: %v", n, err)
	}
}

func TestParseProtocol(t *testing.T) {
	for _, p := range All() {
		got, err := ParseProtocol(p.String())
		if err != nil || got != p {
			t.Fatalf("%v: got %v, %v", p, got, err)
		}
		if p.About() == "" {
			t.Fatalf("%v has no description", p)
		}
	}
	if _, err := ParseProtocol("raft"); err == nil {
		t.Fatal("unknown protocol parsed")
	}
}
