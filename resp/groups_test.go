package resp

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/mpaxos/mpaxos/route"
)

// keyOf returns a key of group g of groups.
func keyOf(g, groups int) string {
	for i := 0; ; i++ {
		if k := fmt.Sprint("key", i); route.GroupOf([]byte(k), groups) == g {
			return k
		}
	}
}

// With two groups, node 1 leading group 0 and node 2 group 1: a key of
// group 1 gets -MOVED to node 2's RESP address; a pipeline is sent as one
// command per run of one group's commands, its replies in order; a
// multi-key command over both groups gets -CROSSSLOT; CLUSTER SLOTS lists
// each group's range with its leader first.
func TestGroupsMovedAndSlots(t *testing.T) {
	fc := newFakeCluster(t)
	fc.leaders = []uint16{1, 2}
	const other = "127.0.0.1:7999"
	s := startServer(t, fc, func(c *Config) {
		c.Groups = 2
		c.Addrs = map[uint16]string{2: other}
	})
	c := dialRaw(t, s)
	a, b := keyOf(0, 2), keyOf(1, 2)
	moved := "-MOVED " + strconv.Itoa(route.KeySlot([]byte(b))) + " " + other + "\r\n"
	var req []byte
	req = append(req, cmd("SET", a, "1")...)
	req = append(req, cmd("INCR", "{"+a+"}n")...) // a's group, by its hash tag
	req = append(req, cmd("SET", b, "2")...)
	req = append(req, cmd("GET", a)...)
	req = append(req, cmd("MSET", a, "x", b, "y")...)
	req = append(req, cmd("GET", b)...)
	c.send(req)
	for i, w := range []string{"+OK\r\n", ":1\r\n", moved, "$1\r\n1\r\n",
		"-CROSSSLOT Keys in request don't hash to the same slot\r\n", moved} {
		if got := c.reply(); got != w {
			t.Fatalf("reply %d: %q, want %q", i, got, w)
		}
	}
	// Runs of one group: [SET a, INCR] [SET b] [GET a] (sent by the
	// MSET's error) [GET b].
	if got := fc.dos.Load(); got != 4 {
		t.Errorf("%d commands to the cluster, want 4", got)
	}

	c.send(cmd("CLUSTER", "SLOTS"))
	port := portOf(s.Addr().String())
	node := func(id uint16, host, port string) string {
		return "*3\r\n$" + strconv.Itoa(len(host)) + "\r\n" + host + "\r\n:" + port + "\r\n$40\r\n" + nodeName(id) + "\r\n"
	}
	wantSlots := "*2\r\n" +
		"*4\r\n:0\r\n:8191\r\n" + node(1, "127.0.0.1", port) + node(2, "127.0.0.1", "7999") +
		"*4\r\n:8192\r\n:16383\r\n" + node(2, "127.0.0.1", "7999") + node(1, "127.0.0.1", port)
	if got := c.reply(); got != wantSlots {
		t.Fatalf("CLUSTER SLOTS:\n got %q\nwant %q", got, wantSlots)
	}
	c.send(cmd("CLUSTER", "SHARDS"))
	if got := c.reply(); got[:4] != "*2\r\n" {
		t.Fatalf("CLUSTER SHARDS: %q", got)
	}
	c.send(cmd("CLUSTER", "INFO"))
	if got := c.reply(); !contains(got, "cluster_size:2\r\n") || !contains(got, "cluster_state:ok\r\n") {
		t.Fatalf("CLUSTER INFO: %q", got)
	}

	// Group 1 without a leader: the slots list only group 0's range (a
	// client's key of group 1 meets -CLUSTERDOWN until it has one).
	fc.mu.Lock()
	fc.leaders = []uint16{1, 0}
	fc.mu.Unlock()
	c.send(cmd("CLUSTER", "SLOTS"))
	if got, want := c.reply(), "*1\r\n*4\r\n:0\r\n:8191\r\n"+node(1, "127.0.0.1", port)+node(2, "127.0.0.1", "7999"); got != want {
		t.Fatalf("CLUSTER SLOTS without group 1's leader:\n got %q\nwant %q", got, want)
	}
	c.send(cmd("CLUSTER", "NODES"))
	if got := c.reply(); !contains(got, "myself,master - 0 0 1 connected 0-8191\n") || !contains(got, "slave "+nodeName(1)) {
		t.Fatalf("CLUSTER NODES: %q", got)
	}
	c.send(cmd("CLUSTER", "INFO"))
	if got := c.reply(); !contains(got, "cluster_state:fail\r\n") || !contains(got, "cluster_slots_ok:8192\r\n") {
		t.Fatalf("CLUSTER INFO without group 1's leader: %q", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
