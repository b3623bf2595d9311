package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/kv"
)

// TestReadModeOnTheWire: a get carries the mode of the call (GetMode), else
// the session's (SetReadMode), else the Client's Config.ReadMode; other
// commands carry none.
func TestReadModeOnTheWire(t *testing.T) {
	var mu sync.Mutex
	var modes []kv.ReadMode
	srv := newFake(t, 1, func(r kv.Request) (kv.Status, uint16, bool) {
		mu.Lock()
		modes = append(modes, r.Read)
		mu.Unlock()
		return kv.StatusOK, 1, true
	})
	cfg := testConfig()
	cfg.ReadMode = kv.ReadIndex
	c, err := Dial([]string{srv.srv.Addr().String()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := c.Session()
	k := []byte("k")
	steps := []func() error{
		func() error { _, _, err := s.Get(ctx, k); return err },
		func() error { _, _, err := s.GetMode(ctx, k, kv.ReadLease); return err },
		func() error { s.SetReadMode(kv.ReadStale); _, _, err := s.Get(ctx, k); return err },
		func() error { _, _, err := s.GetMode(ctx, k, kv.ReadLog); return err },
		func() error { return s.Put(ctx, k, []byte("v")) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []kv.ReadMode{kv.ReadIndex, kv.ReadLease, kv.ReadStale, kv.ReadLog, kv.ReadDefault}
	mu.Lock()
	defer mu.Unlock()
	if len(modes) != len(want) {
		t.Fatalf("server saw %v, want %v", modes, want)
	}
	for i := range want {
		if modes[i] != want[i] {
			t.Fatalf("server saw %v, want %v", modes, want)
		}
	}
}
