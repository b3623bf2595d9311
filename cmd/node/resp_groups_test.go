package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RESP with -groups 3 on three nodes: go-redis's cluster client learns a
// slot range per group from CLUSTER SLOTS, sends each key to its group's
// leader (following -MOVED while leaders move), and reads back every key
// it wrote; multi-key commands work within a hash tag and get -CROSSSLOT
// across groups.
func TestRESPGroupsGoRedis(t *testing.T) {
	ports := freePorts(t, 3)
	parts := make([]string, 3)
	addrs := make([]string, 3)
	for i := range parts {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", ports[i])
		parts[i] = fmt.Sprintf("%d=%s", i+1, addrs[i])
	}
	c := startCluster(t, 3, "-resp-addr", strings.Join(parts, ","), "-groups", "3")
	c.waitLeader(c.nodes, 10*time.Second)
	// Every group has a leader that node 1 knows, so CLUSTER SLOTS covers
	// every slot.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := c.status(c.nodes[0])
		ok := err == nil && len(st.Leaders()) == 3
		for _, l := range st.Leaders() {
			ok = ok && l != 0
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every group has a leader: %+v %v", st.Leaders(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx := ctxFor(t, 60*time.Second)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16})
	defer cc.Close()
	for i := 0; i < 60; i++ {
		if err := cc.Set(ctx, fmt.Sprint("gk", i), fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatalf("SET gk%d: %v", i, err)
		}
	}
	for i := 0; i < 60; i++ {
		if v, err := cc.Get(ctx, fmt.Sprint("gk", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("GET gk%d: %q %v", i, v, err)
		}
	}
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil || len(slots) != 3 || slots[0].Start != 0 || slots[2].End != 16383 {
		t.Fatalf("CLUSTER SLOTS: %+v %v", slots, err)
	}
	if err := cc.MSet(ctx, "{t}a", "1", "{t}b", "2").Err(); err != nil {
		t.Fatalf("MSET within a tag: %v", err)
	}
	if vs, err := cc.MGet(ctx, "{t}a", "{t}b").Result(); err != nil || fmt.Sprint(vs) != "[1 2]" {
		t.Fatalf("MGET within a tag: %v %v", vs, err)
	}
	// A plain client sending MSET over keys of two groups: -CROSSSLOT (a
	// cluster client refuses it itself, before sending).
	rc := redis.NewClient(&redis.Options{Addr: addrs[0], MaxRetries: -1})
	defer rc.Close()
	if err := rc.MSet(ctx, "gk1", "x", "gk2", "y", "gk3", "z", "gk4", "w").Err(); err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") && !strings.HasPrefix(err.Error(), "MOVED") {
		t.Fatalf("MSET over groups: %v, want CROSSSLOT (or MOVED: this node leads none of them)", err)
	}
	// A cluster pipeline over every group: go-redis splits it by node.
	cmds, err := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < 60; i++ {
			p.Incr(ctx, fmt.Sprint("pn", i))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("pipeline over groups: %v", err)
	}
	for i, cmd := range cmds {
		if n, err := cmd.(*redis.IntCmd).Result(); err != nil || n != 1 {
			t.Fatalf("pipelined INCR %d: %d %v", i, n, err)
		}
	}
}
