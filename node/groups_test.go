package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/route"
)

// fastGroups runs a node with groups groups and short timeouts, so leaders
// settle and hand-offs happen within a test's patience.
func fastGroups(groups int) func(*Config) {
	return func(c *Config) {
		c.Groups = groups
		c.Heartbeat = 20 * time.Millisecond
		c.ElectionTimeout = 100 * time.Millisecond
		c.RecordApplied = 1 << 14
	}
}

// groupLeaders returns, by group, the index of the running node that leads
// it, -1 where none or more than one does.
func (c *testCluster) groupLeaders(groups int) []int {
	out := make([]int, groups)
	for g := range out {
		out[g] = -1
		for i, n := range c.nodes {
			if n != nil && n.groups[g].isLeader.Load() {
				if out[g] != -1 {
					out[g] = -1
					break
				}
				out[g] = i
			}
		}
	}
	return out
}

// TestGroupsRouteExecuteAndAgree: with 4 groups, a client's commands go
// to their key's group (it learns the group count from a redirect), each
// group executes only its own keys, and every replica of a group ends in
// the same state.
func TestGroupsRouteExecuteAndAgree(t *testing.T) {
	const groups = 4
	c := newTestCluster(t, 3, fastGroups(groups))
	waitFor(t, "a leader for every group", func() bool {
		for _, l := range c.groupLeaders(groups) {
			if l < 0 {
				return false
			}
		}
		return true
	})
	cl := c.client()
	s := cl.Session()
	const keys = 200
	put(t, s, "k", keys)
	if got := cl.Groups(); got != groups {
		t.Fatalf("the client knows %d groups, want %d", got, groups)
	}
	want := make([]int, groups)
	for i := 0; i < keys; i++ {
		want[route.GroupOf([]byte(fmt.Sprintf("k-%d", i)), groups)]++
	}
	for g := 0; g < groups; g++ {
		lead := c.groupLeaders(groups)[g]
		cmds, applied, _ := c.groupAppliedOf(lead, g)
		if len(cmds) != want[g] {
			t.Errorf("group %d executed %d commands, want its %d keys", g, len(cmds), want[g])
		}
		waitFor(t, fmt.Sprintf("group %d's replicas to apply through %d", g, applied), func() bool {
			for i := range c.nodes {
				if _, a, _ := c.groupAppliedOf(i, g); a < applied {
					return false
				}
			}
			return true
		})
		_, _, h0 := c.groupAppliedOf(0, g)
		for i := 1; i < len(c.nodes); i++ {
			if _, _, h := c.groupAppliedOf(i, g); h != h0 {
				t.Errorf("group %d: node %d's state hash %x differs from node 1's %x", g, i+1, h, h0)
			}
		}
	}
	// Every key reads back through its own group.
	for i := 0; i < keys; i += 17 {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		v, ok, err := s.Get(ctx, []byte(fmt.Sprintf("k-%d", i)))
		cancel()
		if err != nil || !ok || string(v) != "v" {
			t.Fatalf("get k-%d: %q %v %v", i, v, ok, err)
		}
	}
}

// TestGroupsShareOneSync: with several groups busy at once, the Readies of
// the groups ready in one loop pass are persisted with one sync, so a node
// makes fewer syncs than store writes (a write per group per pass). Were
// each group's write synced on its own, the two counts would be equal.
func TestGroupsShareOneSync(t *testing.T) {
	const groups = 4
	c := newTestCluster(t, 3, fastGroups(groups))
	waitFor(t, "a leader for every group", func() bool {
		for _, l := range c.groupLeaders(groups) {
			if l < 0 {
				return false
			}
		}
		return true
	})
	cl := c.client()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := cl.Session()
			for i := 0; i < 100; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), waitBound)
				err := s.Put(ctx, []byte(fmt.Sprintf("w%d-%d", w, i)), []byte("v"))
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var syncs, writes uint64
	for _, n := range c.nodes {
		syncs += n.stats.syncs.Load()
		writes += n.stats.groupWrites.Load()
	}
	t.Logf("%d store writes of one group each, %d syncs", writes, syncs)
	if syncs == 0 || float64(writes) < 1.3*float64(syncs) {
		t.Fatalf("%d group writes took %d syncs: the groups ready together did not share them", writes, syncs)
	}
}

// TestGroupsPersistOneSyncPerSet: one persist of Readies from every group,
// each with entries to sync, costs one sync and stores every group's
// entries.
func TestGroupsPersistOneSyncPerSet(t *testing.T) {
	const groups = 4
	c := newTestCluster(t, 1, func(cfg *Config) { cfg.Groups = groups })
	n := c.nodes[0]
	var got [groups]engine.Slot
	var before, after uint64
	var err error
	if !n.onLoop(func() {
		// On the loop, with nothing in flight: the writer is idle, and
		// persistOnLoop is how the loop writes.
		var pass []groupReady
		for _, g := range n.groups {
			last, _ := n.st.Log(g.id).LastSlot()
			rd := engine.Ready{MustSync: true, Entries: []engine.Entry{{Slot: last + 1, Type: engine.EntryNoop}}}
			pass = append(pass, groupReady{g: g, rd: rd})
		}
		before = n.stats.syncs.Load()
		err = n.persistOnLoop(pass)
		after = n.stats.syncs.Load()
		for i, g := range n.groups {
			got[i], _ = n.st.Log(g.id).LastSlot()
		}
	}) {
		t.Fatal("node stopped")
	}
	if err != nil {
		t.Fatal(err)
	}
	if after-before != 1 {
		t.Fatalf("one set of %d groups' Readies took %d syncs, want 1", groups, after-before)
	}
	for g, last := range got {
		if last == 0 {
			t.Errorf("group %d's entry was not stored", g)
		}
	}
}

// TestGroupsLeadersSpread: group g's leadership goes to its preferred
// member (g mod N, by id order) once that member is caught up, by a
// hand-off from whoever won the election; so with as many groups as nodes
// every node leads one. After the preferred leader of a group is stopped
// and restarted, the group comes back to it.
func TestGroupsLeadersSpread(t *testing.T) {
	const size, groups = 3, 3
	c := newTestCluster(t, size, fastGroups(groups))
	spread := func() bool {
		for g, l := range c.groupLeaders(groups) {
			if l != g%size {
				return false
			}
		}
		return true
	}
	waitFor(t, "every group led by its preferred node", spread)
	for i, n := range c.nodes {
		st := n.Status()
		if len(st.GroupStatus) != groups || st.Groups != groups {
			t.Fatalf("node %d's /status: %d groups listed, %d in its settings", i+1, len(st.GroupStatus), st.Groups)
		}
		for g, gs := range st.GroupStatus {
			if gs.Group != g || (gs.Role == "leader") != (g%size == i) {
				t.Errorf("node %d's /status of group %d: %+v", i+1, g, gs)
			}
		}
	}
	c.stop(1) // group 1's preferred leader
	waitFor(t, "group 1 led by another node", func() bool { return c.groupLeaders(groups)[1] >= 0 })
	c.start(1)
	waitFor(t, "group 1 handed back to node 2", spread)
	var handoffs uint64
	for _, n := range c.nodes {
		handoffs += n.stats.handoffs.Load()
	}
	if handoffs == 0 {
		t.Fatal("the groups came back without a hand-off")
	}
}

// TestGroupsHandshakeRefusesOtherCount: a node that runs another number of
// groups than its peer is refused at the handshake, with a log line that
// says why.
func TestGroupsHandshakeRefusesOtherCount(t *testing.T) {
	var mu sync.Mutex
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	newTestCluster(t, 2, func(cfg *Config) {
		cfg.Logger = logger
		if cfg.ID == 2 {
			cfg.Groups = 2
		}
	})
	want := "node 1 runs 1 groups, this node runs 2: every member must run the same number"
	waitFor(t, "the refusal in the log", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(logs.String(), want)
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestGroupsRefuseCrossGroupMulti: with several groups, a multi-key
// command whose keys belong to two groups is refused as a bad request
// rather than executed by one group for keys another group orders; one
// whose keys share a group runs in that group (kv.Check).
func TestGroupsRefuseCrossGroupMulti(t *testing.T) {
	c := newTestCluster(t, 1, fastGroups(2))
	waitFor(t, "a leader for every group", func() bool { return c.groupLeaders(2)[1] == 0 && c.groupLeaders(2)[0] == 0 })
	s := c.client().Session()
	other := ""
	for i := 0; other == ""; i++ {
		if k := fmt.Sprint("b", i); route.GroupOf([]byte(k), 2) != route.GroupOf([]byte("a"), 2) {
			other = k
		}
	}
	multi := func(keys ...string) kv.Command {
		var m kv.Multi
		for _, k := range keys {
			if err := m.Add(&kv.Command{Op: kv.OpPut, Key: []byte(k), Value: []byte("1")}); err != nil {
				t.Fatal(err)
			}
		}
		return m.Command()
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	r, err := s.Do(ctx, multi("a", other))
	if err == nil || r.Status != kv.StatusBadRequest {
		t.Fatalf("multi over 2 groups: %+v %v, want a bad request", r, err)
	}
	if r, err := s.Do(ctx, multi("{x}a", "{x}b")); err != nil || r.Status != kv.StatusOK {
		t.Fatalf("multi within one group: %+v %v", r, err)
	}
	if v, ok, err := s.Get(ctx, []byte("{x}b")); err != nil || !ok || string(v) != "1" {
		t.Fatalf("{x}b after the multi: %q %v %v", v, ok, err)
	}
}

// TestGroupsSnapshotOneAtATime: every group snapshots and truncates its
// own log, and a node never has two groups' snapshots in flight at once
// (they are staggered, not taken together).
func TestGroupsSnapshotOneAtATime(t *testing.T) {
	const groups = 4
	var inFlight, most atomic.Int32
	c := newTestCluster(t, 1, func(cfg *Config) {
		fastGroups(groups)(cfg)
		cfg.SnapshotEvery = 10
		cfg.SnapshotBytes = 0
		cfg.hooks = &testHooks{beforeSnapshotSave: func(engine.Slot) {
			k := inFlight.Add(1)
			for m := most.Load(); k > m && !most.CompareAndSwap(m, k); m = most.Load() {
			}
			time.Sleep(30 * time.Millisecond) // long enough for other groups to come due meanwhile
			inFlight.Add(-1)
		}}
	})
	waitFor(t, "a leader for every group", func() bool {
		for _, l := range c.groupLeaders(groups) {
			if l < 0 {
				return false
			}
		}
		return true
	})
	s := c.client().Session()
	n := c.nodes[0]
	waitFor(t, "every group to truncate its log", func() bool {
		put(t, s, "k", 8)
		for _, g := range n.groups {
			if first, _ := n.st.Log(g.id).FirstSlot(); first <= 1 {
				return false
			}
		}
		return true
	})
	if m := most.Load(); m != 1 {
		t.Fatalf("%d snapshots were in flight at once on one node", m)
	}
}

// TestOneGroupStaysPut: with one group the leader is where the election
// put it; it is not handed to node 1 (the preferred node of group 0).
func TestOneGroupStaysPut(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		fastGroups(1)(cfg)
		if cfg.ID == 1 {
			cfg.ElectionTimeout = time.Second // let another node win the first election
		}
	})
	l := c.leader()
	if l == 0 {
		t.Skip("node 1 won the election despite its longer timeout")
	}
	put(t, c.client().Session(), "k", 50) // several hand-off periods of 3 election timeouts of 100ms
	time.Sleep(500 * time.Millisecond)
	if got := c.leader(); got != l || c.nodes[l].stats.handoffs.Load() != 0 {
		t.Fatalf("the leader moved from node %d to node %d (%d hand-offs)", l+1, got+1, c.nodes[l].stats.handoffs.Load())
	}
}

// TestGroupsNoHandOffToDownNode: the preferred node of a group is down; the
// group's new leader does not hand the group to it (a hand-off to a node
// that cannot campaign only stalls the group's writes).
func TestGroupsNoHandOffToDownNode(t *testing.T) {
	const size, groups = 3, 3
	c := newTestCluster(t, size, fastGroups(groups))
	waitFor(t, "every group led by its preferred node", func() bool {
		for g, l := range c.groupLeaders(groups) {
			if l != g%size {
				return false
			}
		}
		return true
	})
	c.stop(1)
	waitFor(t, "group 1 led by another node", func() bool { return c.groupLeaders(groups)[1] >= 0 })
	l := c.groupLeaders(groups)[1]
	before := c.nodes[l].stats.handoffs.Load()
	time.Sleep(5 * handOffTicks * 100 * time.Millisecond) // 5 hand-off periods of the test's timeouts
	if got := c.nodes[l].stats.handoffs.Load(); got != before {
		t.Fatalf("node %d handed group 1 to the stopped node %d times", l+1, got-before)
	}
}

// TestGroupsNoHandOffToCutOffNode: the preferred node of a group is cut
// off by a partition that leaves its connections up; the group's new
// leader, not hearing from it, does not hand the group to it.
func TestGroupsNoHandOffToCutOffNode(t *testing.T) {
	const size, groups = 3, 3
	c := newTestCluster(t, size, fastGroups(groups))
	waitFor(t, "every group led by its preferred node", func() bool {
		for g, l := range c.groupLeaders(groups) {
			if l != g%size {
				return false
			}
		}
		return true
	})
	for i, n := range c.nodes {
		spec := FaultSpec{Isolate: []uint16{2}}
		if i == 1 {
			spec = FaultSpec{Isolate: []uint16{1, 3}}
		}
		if err := n.SetFaults(spec); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "group 1 led by another node", func() bool {
		for i, n := range c.nodes {
			if i != 1 && n.groups[1].isLeader.Load() {
				return true
			}
		}
		return false
	})
	var before uint64
	for i, n := range c.nodes {
		if i != 1 {
			before += n.stats.handoffs.Load()
		}
	}
	time.Sleep(5 * handOffTicks * 100 * time.Millisecond) // 5 hand-off periods of the test's timeouts
	var after uint64
	for i, n := range c.nodes {
		if i != 1 {
			after += n.stats.handoffs.Load()
		}
	}
	if after != before {
		t.Fatalf("%d hand-offs to the cut-off node 2", after-before)
	}
}
