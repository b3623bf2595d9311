package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/kv"
)

// TestForgedSessionCannotHijack is issue 16's attack on a real cluster: a
// raw connection sends a put with another client's session id and seq
// 2^40. The leader must refuse it, and the victim's next puts must execute
// and be readable; before the fix the forgery was answered ok and the
// victim's next three puts returned nil without executing.
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
