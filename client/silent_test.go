package client

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/kv"
)

// blackhole is a loopback TCP proxy that can stop forwarding, the way a
// path that drops every packet does. A connection that lived through a
// black hole stays dead after the heal (its bytes are swallowed, it is
// never closed), as a real one does while TCP backs off its
// retransmissions for longer than the test lasts; connections made after
// the heal forward normally.
type blackhole struct {
	ln       net.Listener
	upstream string

	mu struct {
		sync.Mutex
		down  bool
		pairs []*proxied
		conns []net.Conn
	}
	swallowed chan struct{} // gets a token whenever bytes are dropped
}

type proxied struct {
	mu   sync.Mutex
	dead bool
}

func newBlackhole(t *testing.T, upstream string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, upstream: upstream, swallowed: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.mu.conns {
			c.Close()
		}
		b.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			p := &proxied{}
			b.mu.Lock()
			p.dead = b.mu.down
			b.mu.pairs = append(b.mu.pairs, p)
			b.mu.conns = append(b.mu.conns, down, up)
			b.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); b.pump(p, up, down) }()
			go func() { defer wg.Done(); b.pump(p, down, up) }()
		}
	}()
	return b
}

func (b *blackhole) addr() string { return b.ln.Addr().String() }

func (b *blackhole) pump(p *proxied, dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		dead := p.dead
		p.mu.Unlock()
		if dead {
			select {
			case b.swallowed <- struct{}{}:
			default:
			}
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// cut kills every connection now open and every one opened until heal.
func (b *blackhole) cut() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.down = true
	for _, p := range b.mu.pairs {
		p.mu.Lock()
		p.dead = true
		p.mu.Unlock()
	}
}

func (b *blackhole) heal() {
	b.mu.Lock()
	b.mu.down = false
	b.mu.Unlock()
}

// TestSilentConnectionRedialed: the leader is cut off from its clients
// (not from its peers, so leadership stays), and after the heal the client
// must be served within 2 attempts, not after TCP's retransmission
// back-off on the connection that lived through the cut. A client that
// keeps sending on that connection never recovers: a follower redirects it
// back to the leader, over the same dead connection, until the context
// ends.
func TestSilentConnectionRedialed(t *testing.T) {
	leader := newFake(t, 2, func(kv.Request) (kv.Status, uint16, bool) { return kv.StatusOK, 2, true })
	follower := newFake(t, 1, func(kv.Request) (kv.Status, uint16, bool) { return kv.StatusNotLeader, 2, true })
	hole := newBlackhole(t, leader.srv.Addr().String())
	cfg := testConfig()
	// Generous, so the bound below is about the protocol (one attempt
	// to notice the silence, then a redial), not a loaded machine's
	// scheduling.
	cfg.Attempt = time.Second
	c, err := Dial([]string{follower.srv.Addr().String(), hole.addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Session()
	ctx, cancel := context.WithTimeout(context.Background(), 20*cfg.Attempt)
	defer cancel()
	if err := s.Put(ctx, []byte("k"), []byte("warm")); err != nil {
		t.Fatal(err)
	}
	if c.leaders[0].Load() != 1 {
		t.Fatalf("the client settled on address %d, not the leader's", c.leaders[0].Load())
	}

	hole.cut()
	done := make(chan error, 1)
	go func() { done <- s.Put(ctx, []byte("k"), []byte("after")) }()
	<-hole.swallowed // the put went into the black hole
	hole.heal()
	healed := time.Now()
	bound := 2 * cfg.Attempt
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("put after the heal: %v", err)
		}
		t.Logf("served %v after the heal (bound %v)", time.Since(healed).Round(time.Millisecond), bound)
	case <-time.After(bound):
		t.Fatalf("not served within %v of the heal: the client is still on the dead connection", bound)
	}
}
