package main

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/kv"
)

// TestForgedSessionCannotHijack attacks a real cluster: a raw connection
// sends a put with another client's session id and seq 2^40. The leader
// must refuse it, and the victim's next puts must execute and be readable;
// a leader that took the forgery answered it ok, and the victim's next
// three puts then returned nil without executing.
func TestForgedSessionCannotHijack(t *testing.T) {
	c := startCluster(t, 3)
	l := c.waitLeader(c.nodes, 10*time.Second)
	victim := dial(t, c.clientAddrs()...).Session()
	if err := victim.Put(ctxFor(t, 5*time.Second), []byte("k0"), []byte("v0")); err != nil {
		t.Fatal(err)
	}
	forger := dialRaw(t, l.clientAddr)
	forged := kv.Request{ReqID: 1, Cmd: kv.Command{ClientID: victim.ID(), Seq: 1 << 40, Op: kv.OpPut, Key: []byte("forged"), Value: []byte("x")}}
	if resp := forger.do(t, forged); resp.Status == kv.StatusOK {
		t.Errorf("the leader accepted a put in another client's session: %v", resp.Status)
	}
	for i := 1; i <= 3; i++ {
		k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		if err := victim.Put(ctxFor(t, 5*time.Second), []byte(k), []byte(v)); err != nil {
			t.Fatalf("victim's put %s after the forgery: %v", k, err) // loud is allowed; silent is not
		}
		got, found, err := victim.Get(ctxFor(t, 5*time.Second), []byte(k))
		if err != nil || !found || string(got) != v {
			t.Fatalf("victim's put %s returned nil, yet %s = %q found=%v (%v)", k, k, got, found, err)
		}
	}
	reader := dial(t, c.clientAddrs()...).Session()
	if _, found, err := reader.Get(ctxFor(t, 5*time.Second), []byte("forged")); err != nil || found {
		t.Fatalf("the forged put executed: found=%v err=%v", found, err)
	}
}

// TestSessionOwnershipSurvivesFailoverAndRestart: the token that makes a
// session its owner's lives in the replicated state and its snapshots, so
// after the leader is killed, and again after every node restarted from
// its snapshot, the owner's session goes on where it was (the same
// client.Session, reconnecting) and a forger is still refused by whichever
// node leads.
func TestSessionOwnershipSurvivesFailoverAndRestart(t *testing.T) {
	c := startCluster(t, 3, "-snapshot-every", "4")
	l := c.waitLeader(c.nodes, 10*time.Second)
	victim := dial(t, c.clientAddrs()...).Session()
	seq := 0
	putAndForge := func(leader *testNode, when string) {
		t.Helper()
		for range 5 {
			seq++
			k, v := fmt.Sprintf("k%d", seq), fmt.Sprintf("v%d", seq)
			if err := victim.Put(ctxFor(t, 10*time.Second), []byte(k), []byte(v)); err != nil {
				t.Fatalf("%s: victim's put %s: %v", when, k, err)
			}
		}
		forged := kv.Request{ReqID: uint64(seq), Cmd: kv.Command{ClientID: victim.ID(), Seq: uint64(seq) + 1, Op: kv.OpPut, Key: []byte("k1"), Value: []byte("forged")}}
		if resp := dialRaw(t, leader.clientAddr).do(t, forged); resp.Status != kv.StatusNotOwner {
			t.Fatalf("%s: leader %d answered the forgery %v, want not-owner", when, leader.id, resp.Status)
		}
	}
	putAndForge(l, "first leader")

	c.kill(l)
	l = c.waitLeader(c.others(l), 10*time.Second)
	putAndForge(l, "after failover")

	for _, nd := range c.nodes {
		c.kill(nd)
	}
	for _, nd := range c.nodes {
		c.start(nd)
	}
	l = c.waitLeader(c.nodes, 10*time.Second)
	putAndForge(l, "after restarting every node")
	for i := 1; i <= seq; i++ {
		k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		got, _, err := victim.Get(ctxFor(t, 10*time.Second), []byte(k))
		if err != nil || string(got) != v {
			t.Fatalf("%s = %q (%v), want %q", k, got, err, v)
		}
	}
	// Every node restored its state from a snapshot, tokens included, at
	// its last start: the test means to exercise that path.
	recovered := regexp.MustCompile(`msg=recovered node=\d+ snapshot=(\d+)`)
	for _, nd := range c.nodes {
		m := recovered.FindAllStringSubmatch(readLog(t, nd.logPath), -1)
		if len(m) == 0 || m[len(m)-1][1] == "0" {
			t.Errorf("node %d did not restart from a snapshot: %v", nd.id, m)
		}
	}
}
