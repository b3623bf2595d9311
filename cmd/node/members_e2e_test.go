package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/node"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// startJoiner starts node id as a process that joins the cluster through
// the admin addresses of its nodes (-join), with no -peers.
func (c *cluster) startJoiner(nd *testNode) {
	c.t.Helper()
	var admins string
	for i, x := range c.nodes {
		if x != nd {
			if i > 0 {
				admins += ","
			}
			admins += x.adminAddr
		}
	}
	args := []string{
		"-id", strconv.Itoa(nd.id), "-join", admins, "-listen", nd.peerAddr,
		"-client-addr", nd.clientAddr, "-admin-addr", nd.adminAddr, "-data", nd.dataDir,
		"-tick", "5ms", "-heartbeat", "20ms", "-election-timeout", "150ms",
	}
	c.launch(nd, args)
}

// TestJoinPromoteRemove: three nodes under writes; a fourth joins with
// -join (no -peers), catches up, is promoted; node 1 is removed (handing
// its leadership off first if it leads). Writes keep succeeding, node 1
// reports itself removed, every acknowledged write reads back from the
// final members, and their state hashes agree.
func TestJoinPromoteRemove(t *testing.T) {
	c := startCluster(t, 3, "-snapshot-every", "100")
	c.waitLeader(c.nodes, 10*time.Second)
	ports := freePorts(t, 3)
	base := t.TempDir()
	j := &testNode{
		id:         4,
		peerAddr:   fmt.Sprintf("127.0.0.1:%d", ports[0]),
		clientAddr: fmt.Sprintf("127.0.0.1:%d", ports[1]),
		adminAddr:  fmt.Sprintf("127.0.0.1:%d", ports[2]),
		dataDir:    filepath.Join(base, "n4"),
		logPath:    filepath.Join(base, "n4.log"),
	}
	c.nodes = append(c.nodes, j) // killed and its log shown by startCluster's cleanup
	cl := dial(t, c.clientAddrs()...)
	a := &acked{kv: map[string]string{}}
	stop := make(chan struct{})
	wg := load(t, cl, 6, a, stop)
	commitOf := func(nd *testNode) uint64 {
		st, err := c.status(nd)
		if err != nil {
			return 0
		}
		return st.Commit
	}
	waitUntil(t, 20*time.Second, "some writes", func() bool { return commitOf(c.nodes[0]) > 200 })

	c.startJoiner(j)
	waitUntil(t, 20*time.Second, "node 4 a caught-up learner", func() bool {
		st, err := c.status(j)
		lead := c.waitLeader(c.nodes[:3], 10*time.Second)
		return err == nil && st.Applied > 0 && st.Applied+20 > commitOf(lead)
	})
	admins := []string{c.nodes[0].adminAddr, c.nodes[1].adminAddr, c.nodes[2].adminAddr, j.adminAddr}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, err := adminapi.ChangeMembers(ctx, http.DefaultClient, admins, c.token, adminapi.MemberChange{Op: adminapi.OpPromote, ID: 4})
		var ce *adminapi.ChangeError
		if err == nil {
			break
		}
		if !errors.As(err, &ce) || ce.Status != http.StatusConflict || ctx.Err() != nil {
			t.Fatalf("promote 4: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Restarted with the same flags, the joined node finds itself a
	// member (no second add) and comes back on its store.
	c.kill(j)
	c.startJoiner(j)
	waitUntil(t, 20*time.Second, "node 4 back and caught up", func() bool {
		st, err := c.status(j)
		lead := c.waitLeader(c.nodes[:3], 10*time.Second)
		return err == nil && st.Applied+20 > commitOf(lead)
	})
	if n := strings.Count(readLog(t, j.logPath), "asking the cluster to add this node"); n != 1 {
		t.Errorf("node 4 asked to be added %d times over two starts, want once", n)
	}
	st1, _ := c.status(c.nodes[0])
	t.Logf("removing node 1 (%s)", st1.Role)
	m, err := adminapi.ChangeMembers(ctx, http.DefaultClient, admins, c.token, adminapi.MemberChange{Op: adminapi.OpRemove, ID: 1})
	if err != nil {
		t.Fatalf("remove 1: %v", err)
	}
	if _, ok := m.Groups[0].Member(1); ok {
		t.Fatalf("node 1 still a member: %+v", m)
	}
	if st1.Role == "leader" && !strings.Contains(readLog(t, c.nodes[0].logPath), "handing leadership off before this node's removal") {
		t.Errorf("node 1 led and was removed without a hand-off")
	}
	waitUntil(t, 10*time.Second, "node 1 to report itself removed", func() bool {
		st, err := c.status(c.nodes[0])
		return err == nil && st.Removed && st.Role != "leader"
	})
	final := []*testNode{c.nodes[1], c.nodes[2], j}
	lead := c.waitLeader(final, 10*time.Second)
	before := commitOf(lead)
	waitUntil(t, 10*time.Second, "writes after the removal", func() bool { return commitOf(lead) > before+100 })
	close(stop)
	wg.Wait()

	var addrs []string
	for _, nd := range final {
		addrs = append(addrs, nd.clientAddr)
	}
	a.verify(t, dial(t, addrs...))
	var hashes []node.HashReport
	waitUntil(t, 10*time.Second, "equal hashes on nodes 2, 3 and 4", func() bool {
		hashes = hashes[:0]
		for _, nd := range final {
			var h node.HashReport
			getJSON(t, "http://"+nd.adminAddr+"/hash", &h)
			hashes = append(hashes, h)
		}
		for _, h := range hashes[1:] {
			if h.Applied != hashes[0].Applied || h.Hash != hashes[0].Hash {
				return false
			}
		}
		return true
	})
	if !strings.Contains(readLog(t, j.logPath), "snapshot installed") {
		t.Errorf("node 4 caught up without a snapshot; the test meant to exercise one")
	}
	// A client of node 1 alone is told it was removed.
	rcfg := client.DefaultConfig()
	rcfg.NoRedirect = true
	rc, err := client.Dial([]string{c.nodes[0].clientAddr}, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := rc.Session().Put(ctxFor(t, 10*time.Second), []byte("k"), []byte("v")); !errors.Is(err, client.ErrRemoved) {
		t.Errorf("a put on the removed node: %v, want client.ErrRemoved", err)
	}
	t.Logf("%d keys read back from nodes 2-4; hashes %+v", len(a.kv), hashes)
}

// waitUntil polls cond until it holds, failing the test after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
