package client

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/kv"
)

// With NoRedirect, a follower's refusal naming the leader ends the command
// with ErrNotLeader and that leader's id, sent nowhere else; a refusal
// naming no leader is retried until one is named.
func TestNoRedirectReportsLeader(t *testing.T) {
	var asked atomic.Int32
	follower := newFake(t, 1, func(kv.Request) (kv.Status, uint16, bool) {
		if asked.Add(1) < 3 {
			return kv.StatusNotLeader, 0, true // election under way
		}
		return kv.StatusNotLeader, 3, true
	})
	cfg := testConfig()
	cfg.NoRedirect = true
	c, err := Dial([]string{follower.srv.Addr().String()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = c.Session().Put(ctx, []byte("k"), []byte("v"))
	if !errors.Is(err, ErrNotLeader) || LeaderOf(err) != 3 {
		t.Fatalf("got %v, leader %d; want ErrNotLeader naming node 3", err, LeaderOf(err))
	}
	if LeaderOf(ErrTimeout) != 0 {
		t.Fatal("LeaderOf names a leader for another error")
	}
	if n := asked.Load(); n != 3 {
		t.Fatalf("the follower was asked %d times, want 3 (two refusals without a leader retried)", n)
	}
}
