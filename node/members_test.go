package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

const memberToken = "members-test-token-0123456789"

// memberTune gives a harness node an admin port (on a free port) with a
// token, short timeouts, and snapshots often enough that a new member
// catches up through one.
func memberTune(groups int) func(*Config) {
	return func(c *Config) {
		c.AdminAddr = "127.0.0.1:0"
		c.AdminToken = memberToken
		c.Groups = groups
		c.Heartbeat = 30 * time.Millisecond
		c.ElectionTimeout = 300 * time.Millisecond
		c.SnapshotEvery = 40
	}
}

// admins is every running node's admin address.
func (c *testCluster) admins() []string {
	var out []string
	for _, n := range c.nodes {
		if n != nil {
			out = append(out, n.adminAddr())
		}
	}
	return out
}

// change posts ch to the cluster (following redirects), failing the test
// unless it succeeds.
func (c *testCluster) change(ch adminapi.MemberChange) adminapi.Members {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	m, err := adminapi.ChangeMembers(ctx, http.DefaultClient, c.admins(), memberToken, ch)
	if err != nil {
		c.t.Fatalf("%s %d: %v", ch.Op, ch.ID, err)
	}
	return m
}

// join starts a fresh node id as the joiner of cmd/node does: it asks the
// cluster to add it as a learner, then starts in the configuration it was
// added to, knowing every member's address from it.
// clientAddr is the node's client address (reserved before, so the
// writers' client knows it from the start).
func (c *testCluster) join(id engine.NodeID, clientAddr string) int {
	c.t.Helper()
	ports := freePorts(c.t, 1)
	cfg := c.cfgs[0]
	cfg.ID = id
	cfg.ClientAddr = clientAddr
	cfg.DataDir = fmt.Sprintf("%s/n%d", c.t.TempDir(), id)
	cfg.Seed = int64(id)
	self := fmt.Sprintf("127.0.0.1:%d", ports[0])
	m := c.change(adminapi.MemberChange{Op: adminapi.OpAdd, ID: uint16(id), Addr: self})
	cfg.Peers, cfg.InitialMembers = map[engine.NodeID]string{id: self}, nil
	for _, gm := range m.Groups {
		var voters, learners []engine.NodeID
		for _, mb := range gm.Members {
			if mb.Addr == "" {
				c.t.Fatalf("group %d: no address for member %d: %+v", gm.Group, mb.ID, gm)
			}
			cfg.Peers[engine.NodeID(mb.ID)] = mb.Addr
			if mb.Role == adminapi.RoleVoter {
				voters = append(voters, engine.NodeID(mb.ID))
			} else {
				learners = append(learners, engine.NodeID(mb.ID))
			}
		}
		cfg.InitialMembers = append(cfg.InitialMembers, engine.Membership{Voters: voters, Learners: learners})
	}
	if cfg.Peers[id] != self {
		c.t.Fatalf("the configuration records node %d at %s, not %s", id, cfg.Peers[id], self)
	}
	c.cfgs = append(c.cfgs, cfg)
	c.nodes = append(c.nodes, nil)
	c.start(len(c.nodes) - 1)
	return len(c.nodes) - 1
}

// promote promotes id in every group, each once it caught up there (the
// engine refuses before, with 409 naming ErrLearnerBehind).
func (c *testCluster) promote(id engine.NodeID, groups int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	for g := range groups {
		for {
			_, err := adminapi.ChangeMembers(ctx, http.DefaultClient, c.admins(), memberToken,
				adminapi.MemberChange{Op: adminapi.OpPromote, ID: uint16(id), Groups: []int{g}})
			var ce *adminapi.ChangeError
			if err == nil {
				break
			}
			if !errors.As(err, &ce) || ce.Status != http.StatusConflict || ctx.Err() != nil {
				c.t.Fatalf("promote %d in group %d: %v", id, g, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// ackedWrites runs writers until stop closes, recording each key's last
// acknowledged value.
type ackedWrites struct {
	mu sync.Mutex
	kv map[string]string
	wg sync.WaitGroup
}

func writeUntil(cl *client.Client, writers int, stop <-chan struct{}) *ackedWrites {
	a := &ackedWrites{kv: map[string]string{}}
	for w := range writers {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			s := cl.Session()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, v := fmt.Sprintf("w%d-%d", w, i%40), fmt.Sprintf("v%d", i)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				if err := s.Put(ctx, []byte(k), []byte(v)); err == nil {
					a.mu.Lock()
					a.kv[k] = v
					a.mu.Unlock()
				}
				cancel()
			}
		}()
	}
	return a
}

// TestMembersAddPromoteRemove: under writes, a fresh node joins as a
// learner (its address learnt from the configuration, the members'
// from GET /members), catches up by snapshot and log, is promoted, and
// the leader is removed (it hands its leadership off first). The removed
// node says so and refuses clients; every acknowledged write reads back
// from the final configuration, whose members hold equal state.
func TestMembersAddPromoteRemove(t *testing.T) {
	for _, groups := range []int{1, 2} {
		t.Run(fmt.Sprintf("groups=%d", groups), func(t *testing.T) { testAddPromoteRemove(t, groups) })
	}
}

func testAddPromoteRemove(t *testing.T, groups int) {
	c := newTestCluster(t, 3, memberTune(groups))
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range c.nodes {
				if n != nil {
					m, _ := n.Members()
					t.Logf("node %d: %+v\n  members %+v", c.cfgs[i].ID, n.Status().GroupStatus, m)
				}
			}
		}
	})
	c.leader()
	// The writers' client knows the node to come: the leader may be handed
	// to it.
	joinerClient := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	cl, err := client.Dial(append(c.clientAddrs(), joinerClient), client.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	stop := make(chan struct{})
	a := writeUntil(cl, 4, stop)
	waitFor(t, "some writes", func() bool { return c.nodes[0].Status().Commit > 100 })

	j := c.join(4, joinerClient)
	// The fault hook of a member started without it may name the joiner.
	waitFor(t, "node 1 linked to node 4", func() bool { return slices.Contains(c.nodes[0].peerIDs(), 4) })
	if err := c.nodes[0].SetFaults(FaultSpec{DropTo: []uint16{4}}); err != nil {
		t.Fatalf("a fault naming the joiner: %v", err)
	}
	if err := c.nodes[0].SetFaults(FaultSpec{}); err != nil {
		t.Fatal(err)
	}
	// Its frames are counted for the hand-off's health check.
	waitFor(t, "node 1 to count frames from node 4", func() bool {
		h := (*c.nodes[0].heard.Load())[4]
		return h != nil && h.Load() > 0
	})
	if st := c.nodes[j].Status(); st.Removed {
		t.Fatalf("the joiner starts removed: %+v", st)
	}
	waitFor(t, "the learner to catch up", func() bool {
		return c.nodes[j].Status().Applied+10 > c.nodes[c.leader()].Status().Commit
	})
	var installed bool
	c.nodes[j].onLoop(func() { installed = c.nodes[j].groups[0].snap.last > 0 })
	if !installed {
		t.Errorf("the learner caught up without a snapshot; the test meant to exercise one")
	}
	// The snapshot it was caught up with may predate its addition, and
	// so not name it: that made it take itself for removed (CI, -race).
	if r := c.nodes[j].stats.removals.Load(); r != 0 {
		t.Errorf("the joiner took itself for removed %d times while it caught up", r)
	}
	c.promote(4, groups)
	var m adminapi.Members
	waitFor(t, "node 4 a voter everywhere", func() bool {
		for _, n := range c.nodes {
			var ok bool
			if m, ok = n.Members(); !ok {
				return false
			}
			for _, gm := range m.Groups {
				if mb, ok := gm.Member(4); !ok || mb.Role != adminapi.RoleVoter {
					return false
				}
			}
		}
		return true
	})

	old := c.leader()
	oldID := c.cfgs[old].ID
	// Asked to remove itself, the leader hands its leadership off and
	// points to the new leader, still a member.
	body := fmt.Sprintf(`{"op":"remove","id":%d,"groups":[0]}`, oldID)
	if status, me := postMembers(t, c.nodes[old].adminAddr(), memberToken, body, waitBound); status != http.StatusMisdirectedRequest ||
		me.Leader == 0 || me.Leader == uint16(oldID) || !strings.Contains(me.Error, "handed its leadership") {
		t.Fatalf("removing the leader on itself: HTTP %d %+v, want 421 naming the node it handed off to", status, me)
	}
	if mm, _ := c.nodes[old].Members(); len(mm.Groups[0].Members) != 4 {
		t.Fatalf("the hand-off removed someone: %+v", mm.Groups[0])
	}
	m = c.change(adminapi.MemberChange{Op: adminapi.OpRemove, ID: uint16(oldID)})
	for _, gm := range m.Groups {
		if _, ok := gm.Member(uint16(oldID)); ok {
			t.Fatalf("node %d still a member of group %d: %+v", oldID, gm.Group, m)
		}
	}
	waitFor(t, "the removed node to know it", func() bool { return c.nodes[old].Status().Removed })
	st := c.nodes[old].Status()
	for _, gs := range st.GroupStatus {
		if !gs.Removed || gs.Role == "leader" {
			t.Fatalf("removed node's status: %+v", st)
		}
	}
	// Writes went on meanwhile, and go on.
	before := c.nodes[c.leader()].Status().Commit
	waitFor(t, "writes after the removal", func() bool { return c.nodes[c.leader()].Status().Commit > before+50 })
	// A member restarts with the Peers it was first started with (the
	// removed node in, the joiner out): it takes the members and their
	// addresses from its store's configuration, and catches up.
	var again int
	for i := range c.nodes {
		if i != old && i != j {
			again = i
			break
		}
	}
	c.stop(again)
	c.start(again)
	waitFor(t, "the restarted member linked to the joiner, not to the removed node", func() bool {
		var joined, gone bool
		c.nodes[again].onLoop(func() {
			_, joined = c.nodes[again].ls.members.linked[4]
			_, stale := c.nodes[again].ls.members.linked[oldID]
			gone = !stale
		})
		return joined && gone
	})
	before = c.nodes[c.leader()].Status().Commit
	waitFor(t, "the restarted member to catch up", func() bool {
		return c.nodes[again].Status().Applied > before+20
	})
	close(stop)
	a.wg.Wait()

	// A client of the removed node alone is told so.
	ccfg := client.DefaultConfig()
	ccfg.NoRedirect = true
	rc, err := client.Dial([]string{c.cfgs[old].ClientAddr}, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := rc.Session().Put(ctx, []byte("k"), []byte("v")); !errors.Is(err, client.ErrRemoved) {
		t.Fatalf("put on the removed node: %v, want ErrRemoved", err)
	}

	// Every acknowledged write reads back from the final members, whose
	// state machines agree.
	var final []int
	var addrs []string
	for i, n := range c.nodes {
		if i != old && n != nil {
			final = append(final, i)
			addrs = append(addrs, c.cfgs[i].ClientAddr)
		}
	}
	fc, err := client.Dial(addrs, client.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	s := fc.Session()
	a.mu.Lock()
	for k, v := range a.kv {
		got, ok, err := s.Get(ctx, []byte(k))
		if err != nil || !ok || string(got) != v {
			t.Fatalf("acknowledged %s=%s read back as %q (found %v, %v)", k, v, got, ok, err)
		}
	}
	n := len(a.kv)
	a.mu.Unlock()
	var hashes []HashReport
	waitFor(t, "equal hashes on the final members", func() bool {
		hashes = hashes[:0]
		for gi := range groups {
			var first HashReport
			for k, i := range final {
				var h HashReport
				g := c.nodes[i].groups[gi]
				c.nodes[i].onLoop(func() {
					h = HashReport{Node: uint16(c.cfgs[i].ID), Group: gi, Applied: uint64(g.applied), Hash: g.sm.Hash()}
				})
				hashes = append(hashes, h)
				if k == 0 {
					first = h
				} else if h.Applied != first.Applied || h.Hash != first.Hash {
					return false
				}
			}
		}
		return true
	})
	t.Logf("%d keys read back; final members' hashes %+v", n, hashes)
}

// postMembers posts a raw body to one node's POST /members.
func postMembers(t *testing.T, admin, token, body string, timeout time.Duration) (int, adminapi.MemberError) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+admin+"/members", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := http.Client{Timeout: timeout}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, adminapi.MemberError{Error: err.Error()}
	}
	defer resp.Body.Close()
	var me adminapi.MemberError
	json.NewDecoder(resp.Body).Decode(&me)
	return resp.StatusCode, me
}

// TestMembersBadOperations: every refused change gets a clear status and
// message and leaves the configuration as it was.
func TestMembersBadOperations(t *testing.T) {
	c := newTestCluster(t, 3, func(c *Config) {
		memberTune(1)(c)
		// The in-flight window below lasts an election timeout.
		c.ElectionTimeout = time.Second
		c.Heartbeat = 100 * time.Millisecond
	})
	lead := c.leader()
	admin := c.nodes[lead].adminAddr()
	follower := (lead + 1) % 3
	before, _ := c.nodes[lead].Members()
	for _, tc := range []struct {
		name, admin, token, body string
		status                   int
		msg                      string
	}{
		{"no token", admin, "", `{"op":"remove","id":2}`, http.StatusUnauthorized, ""},
		{"unknown op", admin, memberToken, `{"op":"replace","id":2}`, http.StatusBadRequest, "want add"},
		{"unknown field", admin, memberToken, `{"op":"add","id":7,"adr":"x:1"}`, http.StatusBadRequest, "unknown field"},
		{"add without address", admin, memberToken, `{"op":"add","id":7}`, http.StatusBadRequest, "addr"},
		{"node 0", admin, memberToken, `{"op":"remove","id":0}`, http.StatusBadRequest, "node 0"},
		{"no such group", admin, memberToken, `{"op":"remove","id":2,"groups":[3]}`, http.StatusBadRequest, "groups"},
		{"add a member", admin, memberToken, `{"op":"add","id":2,"addr":"127.0.0.1:1"}`, http.StatusConflict, "already a member"},
		{"remove a stranger", admin, memberToken, `{"op":"remove","id":9}`, http.StatusConflict, "not a member"},
		{"promote a voter", admin, memberToken, `{"op":"promote","id":2}`, http.StatusConflict, "not a learner"},
		{"on a follower", c.nodes[follower].adminAddr(), memberToken, `{"op":"remove","id":2}`, http.StatusMisdirectedRequest, "does not lead"},
	} {
		status, me := postMembers(t, tc.admin, tc.token, tc.body, waitBound)
		if status != tc.status || tc.msg != "" && !strings.Contains(me.Error, tc.msg) {
			t.Errorf("%s: HTTP %d %q, want %d with %q", tc.name, status, me.Error, tc.status, tc.msg)
		}
		if tc.status == http.StatusMisdirectedRequest && me.Leader != uint16(lead+1) {
			t.Errorf("%s: names leader %d, want %d", tc.name, me.Leader, lead+1)
		}
	}
	after, _ := c.nodes[lead].Members()
	roles := func(m adminapi.Members) string {
		var b strings.Builder
		for _, mb := range m.Groups[0].Members {
			fmt.Fprintf(&b, "%d %s %s; ", mb.ID, mb.Role, mb.Addr)
		}
		return b.String()
	}
	if roles(before) != roles(after) || after.Groups[0].Slot != before.Groups[0].Slot {
		t.Errorf("refusals changed the configuration: %+v, then %+v", before.Groups[0].Members, after.Groups[0].Members)
	}

	// Removing a voter while the leader hears only one other would leave
	// no live majority. The leader counts a voter out once it has been
	// silent for an election timeout: wait until it has for three.
	down := (lead + 2) % 3
	cut := func(n *Node, ids ...int) {
		spec := FaultSpec{}
		for _, i := range ids {
			spec.Isolate = append(spec.Isolate, uint16(i+1))
		}
		if err := n.SetFaults(spec); err != nil {
			t.Fatal(err)
		}
	}
	cut(c.nodes[lead], down)
	cut(c.nodes[down], lead)
	silent := (*c.nodes[lead].heard.Load())[engine.NodeID(down+1)]
	last, since := silent.Load(), time.Now()
	waitFor(t, "the leader to miss the cut-off voter", func() bool {
		if h := silent.Load(); h != last {
			last, since = h, time.Now()
		}
		return time.Since(since) > 3*c.cfgs[lead].ElectionTimeout
	})
	if status, me := postMembers(t, admin, memberToken, fmt.Sprintf(`{"op":"remove","id":%d}`, follower+1), waitBound); status != http.StatusConflict || !strings.Contains(me.Error, "no live majority") {
		t.Errorf("remove with a voter cut off: HTTP %d %q, want 409 naming the lost majority", status, me.Error)
	}

	// A change that cannot be chosen (the leader cut off from everyone)
	// is in flight until the leader steps down an election timeout later;
	// a second one is refused meanwhile.
	cut(c.nodes[lead], down, follower)
	if status, _ := postMembers(t, admin, memberToken, `{"op":"add","id":7,"addr":"127.0.0.1:1"}`, 50*time.Millisecond); status == http.StatusOK {
		t.Fatalf("an add with the leader cut off succeeded")
	}
	if status, me := postMembers(t, admin, memberToken, `{"op":"add","id":8,"addr":"127.0.0.1:2"}`, waitBound); status != http.StatusConflict || !strings.Contains(me.Error, "already in progress") {
		t.Errorf("a second change in flight: HTTP %d %q, want 409 in progress", status, me.Error)
	}
	if m, _ := c.nodes[lead].Members(); len(m.Groups[0].Pending) == 0 {
		t.Errorf("GET /members shows no change in flight: %+v", m.Groups[0])
	}
}

// A single voter cannot remove itself: it is the last one.
func TestMembersRemoveLastVoter(t *testing.T) {
	c := newTestCluster(t, 1, memberTune(1))
	c.leader()
	status, me := postMembers(t, c.nodes[0].adminAddr(), memberToken, `{"op":"remove","id":1}`, waitBound)
	if status != http.StatusConflict || !strings.Contains(me.Error, "only voter") {
		t.Fatalf("removing the last voter: HTTP %d %q, want 409", status, me.Error)
	}
}

func TestMemberAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want memberAddr
	}{
		{"h:1", memberAddr{"h:1", ""}},
		{"h:1 a:2", memberAddr{"h:1", "a:2"}},
		{"h:1 a:2 later-field", memberAddr{"h:1", "a:2"}},
		{"", memberAddr{}},
	} {
		if got := parseMemberAddr(tc.in); got != tc.want {
			t.Errorf("parseMemberAddr(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if tc.in != "" && !strings.Contains(tc.in, "later") && tc.want.String() != tc.in {
			t.Errorf("%+v.String() = %q, want %q", tc.want, tc.want.String(), tc.in)
		}
	}
}

// TestJoinerFromOlderSnapshotNotRemoved: a joiner caught up with a
// snapshot taken before the change that added it (so its configuration
// does not name the joiner) is joining, not removed: it must not take
// itself for removed while the log brings the change. (CI under -race
// saw "the joiner starts removed".)
func TestJoinerFromOlderSnapshotNotRemoved(t *testing.T) {
	c := newTestCluster(t, 3, memberTune(1))
	l := c.leader()
	put(t, c.client().Session(), "k", 100) // snapshots every 40 slots
	snapAt := func(i int) (v engine.Slot) {
		c.nodes[i].onLoop(func() { v = c.nodes[i].groups[0].snap.last })
		return v
	}
	waitFor(t, "the leader's snapshot", func() bool { return snapAt(l) > 0 })
	j := c.join(4, fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0]))
	waitFor(t, "the joiner to catch up", func() bool {
		return c.nodes[j].Status().Applied >= c.nodes[l].Status().Commit
	})
	if snapAt(j) == 0 {
		t.Fatal("the joiner caught up without a snapshot; the test meant to exercise one")
	}
	if r := c.nodes[j].stats.removals.Load(); r != 0 || c.nodes[j].Status().Removed {
		t.Fatalf("the joiner took itself for removed %d times (removed now: %v)", r, c.nodes[j].Status().Removed)
	}
}
