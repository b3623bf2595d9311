package naive

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/mpaxos/mpaxos/engine"
)

// cluster wires engines by a message queue the test delivers, drops or
// holds; every node applies "key=value" commands to a map.
type cluster struct {
	t     *testing.T
	p     Protocol
	ids   []engine.NodeID
	nodes map[engine.NodeID]*testNode
	queue []engine.Message
	// cut[a][b]: messages from a to b are dropped.
	cut map[engine.NodeID]map[engine.NodeID]bool
	// accepts counts the MsgAccepts (forwards) sent to each node.
	accepts map[engine.NodeID]int
	// streamLimit, when set before the nodes start, is their StreamLimit.
	streamLimit int
}

type testNode struct {
	eng     *Engine
	storage *engine.MemoryStorage
	state   map[string]string
	down    bool
}

func newCluster(t *testing.T, p Protocol, n int) *cluster {
	return newClusterLimit(t, p, n, 0)
}

// newClusterLimit is newCluster with every node's StreamLimit set (0: the
// default).
func newClusterLimit(t *testing.T, p Protocol, n, limit int) *cluster {
	t.Helper()
	c := &cluster{t: t, p: p, nodes: map[engine.NodeID]*testNode{}, cut: map[engine.NodeID]map[engine.NodeID]bool{},
		accepts: map[engine.NodeID]int{}, streamLimit: limit}
	for i := 1; i <= n; i++ {
		c.ids = append(c.ids, engine.NodeID(i))
	}
	for _, id := range c.ids {
		c.cut[id] = map[engine.NodeID]bool{}
		c.start(id, engine.NewMemoryStorage())
	}
	if p == PrimaryBackup || p == PrimaryBackupAck {
		c.tick(electionTicks) // the failure detector picks the first primary
	}
	return c
}

const electionTicks = 5

func (c *cluster) start(id engine.NodeID, st *engine.MemoryStorage) {
	c.t.Helper()
	cfg := DefaultConfig()
	cfg.Protocol, cfg.ID, cfg.Peers = c.p, id, c.ids
	cfg.ElectionTicks = electionTicks
	if c.streamLimit > 0 {
		cfg.StreamLimit = c.streamLimit
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := New(cfg, st)
	if err != nil {
		c.t.Fatal(err)
	}
	c.nodes[id] = &testNode{eng: e, storage: st, state: map[string]string{}}
}

// propose submits cmd at id and runs its Ready; it fails the test if id
// does not take it.
func (c *cluster) propose(id engine.NodeID, cmd string) {
	c.t.Helper()
	if err := c.nodes[id].eng.Propose([]byte(cmd)); err != nil {
		c.t.Fatalf("node %d: propose %q: %v", id, cmd, err)
	}
	c.ready(id)
}

// ready handles every Ready of id: persist, queue messages, apply, advance.
func (c *cluster) ready(id engine.NodeID) {
	n := c.nodes[id]
	for n.eng.HasReady() {
		rd := n.eng.Ready()
		if err := n.storage.Save(&rd); err != nil {
			c.t.Fatal(err)
		}
		for _, m := range rd.Messages {
			if m.Type == engine.MsgAccept {
				c.accepts[m.To]++
			}
		}
		c.queue = append(c.queue, rd.Messages...)
		c.queue = append(c.queue, rd.AfterSync...)
		for _, en := range rd.Committed {
			k, v, _ := strings.Cut(string(en.Data), "=")
			n.state[k] = v
		}
		n.eng.Advance(rd)
	}
}

// deliver hands every queued message to its recipient until the queue is
// empty, dropping those of down nodes and cut links.
func (c *cluster) deliver() {
	for len(c.queue) > 0 {
		m := c.queue[0]
		c.queue = c.queue[1:]
		if c.nodes[m.From].down || c.nodes[m.To].down || c.cut[m.From][m.To] {
			continue
		}
		// Through the wire format, as a node sends it.
		var got engine.Message
		if err := got.Unmarshal(m.MarshalAppend(nil)); err != nil {
			c.t.Fatalf("message %+v does not round-trip: %v", m, err)
		}
		if err := c.nodes[m.To].eng.Step(got); err != nil {
			c.t.Fatalf("node %d: step %v: %v", m.To, m.Type, err)
		}
		c.ready(m.To)
	}
}

// tick ticks every live node n times, delivering after each.
func (c *cluster) tick(n int) {
	for range n {
		for _, id := range c.ids {
			if !c.nodes[id].down {
				c.nodes[id].eng.Tick()
				c.ready(id)
			}
		}
		c.deliver()
	}
}

// crash stops id and drops what it had queued.
func (c *cluster) crash(id engine.NodeID) {
	c.nodes[id].down = true
	q := c.queue[:0]
	for _, m := range c.queue {
		if m.From != id {
			q = append(q, m)
		}
	}
	c.queue = q
}

// isolate cuts id from every other node, both ways.
func (c *cluster) isolate(id engine.NodeID) {
	for _, o := range c.ids {
		if o != id {
			c.cut[id][o], c.cut[o][id] = true, true
		}
	}
}

func (c *cluster) leading() []engine.NodeID {
	var out []engine.NodeID
	for _, id := range c.ids {
		if !c.nodes[id].down && c.nodes[id].eng.Status().Role == engine.RoleLeader {
			out = append(out, id)
		}
	}
	return out
}

func (c *cluster) states() string {
	var b strings.Builder
	for _, id := range c.ids {
		fmt.Fprintf(&b, "node %d: %v\n", id, c.nodes[id].state)
	}
	return b.String()
}

func (c *cluster) agree(a, b engine.NodeID) bool {
	return maps.Equal(c.nodes[a].state, c.nodes[b].state)
}
