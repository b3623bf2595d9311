package client

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/transport"
)

// fakeServer answers client requests on loopback with a scripted behaviour
// and records what it received.
type fakeServer struct {
	id     uint16
	srv    *transport.Server
	answer func(req kv.Request) (kv.Status, uint16, bool) // status, leader hint, reply at all
	// value, if set, gives the response's value.
	value func(req kv.Request, status kv.Status) []byte

	mu   sync.Mutex
	seen []kv.Command
}

func newFake(t *testing.T, id uint16, answer func(kv.Request) (kv.Status, uint16, bool)) *fakeServer {
	t.Helper()
	return newFakeValue(t, id, answer, nil)
}

// newFakeValue is newFake whose responses carry value's value.
func newFakeValue(t *testing.T, id uint16, answer func(kv.Request) (kv.Status, uint16, bool), value func(kv.Request, kv.Status) []byte) *fakeServer {
	t.Helper()
	f := &fakeServer{id: id, answer: answer, value: value}
	cfg := transport.DefaultServerConfig()
	cfg.Addr = "127.0.0.1:0"
	srv, err := transport.Listen(cfg, func(c *transport.Conn, typ byte, body []byte) {
		req, err := kv.DecodeRequest(body)
		if err != nil {
			t.Errorf("fake %d: %v", id, err)
			return
		}
		f.mu.Lock()
		cmd := req.Cmd
		cmd.Key = append([]byte(nil), cmd.Key...)
		f.seen = append(f.seen, cmd)
		f.mu.Unlock()
		status, leader, ok := f.answer(req)
		if !ok {
			return
		}
		resp := kv.Response{ReqID: req.ReqID, Status: status, Node: id, Leader: leader}
		if f.value != nil {
			resp.Value = f.value(req, status)
		}
		buf := bytebufferpool.Get()
		buf.B = kv.AppendResponse(buf.B[:0], &resp)
		c.Send(kv.FrameResponse, buf)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f.srv = srv
	return f
}

func (f *fakeServer) commands() []kv.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]kv.Command(nil), f.seen...)
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Attempt = 100 * time.Millisecond
	cfg.Backoff = time.Millisecond
	return cfg
}

// A follower redirects to the leader; the client follows with the same
// session id and seq.
func TestRedirectKeepsSeq(t *testing.T) {
	leader := newFake(t, 2, func(kv.Request) (kv.Status, uint16, bool) { return kv.StatusOK, 2, true })
	follower := newFake(t, 1, func(kv.Request) (kv.Status, uint16, bool) { return kv.StatusNotLeader, 2, true })
	c, err := Dial([]string{follower.srv.Addr().String(), leader.srv.Addr().String()}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.setLeaders(0) // start at the follower
	// The client learns node 2's address only once node 2 answered, so the
	// first redirect rotates; either way the put must land at the leader.
	s := c.Session()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, []byte("k"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	got := leader.commands()
	if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 || got[0].ClientID != s.ID() {
		t.Fatalf("leader saw %+v", got)
	}
	for _, cmd := range follower.commands() {
		if cmd.Seq != 1 || cmd.ClientID != s.ID() {
			t.Fatalf("follower saw a command with a new seq or id: %+v", cmd)
		}
	}
}

// A server that never answers makes the client retry elsewhere with the
// same seq; a context that ends first gives ErrTimeout.
func TestTimeoutRetriesSameSeq(t *testing.T) {
	silent := newFake(t, 1, func(kv.Request) (kv.Status, uint16, bool) { return 0, 0, false })
	ok := newFake(t, 2, func(kv.Request) (kv.Status, uint16, bool) { return kv.StatusOK, 2, true })
	c, err := Dial([]string{silent.srv.Addr().String(), ok.srv.Addr().String()}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.setLeaders(0)
	s := c.Session()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if a, b := silent.commands(), ok.commands(); len(a) != 1 || len(b) != 1 || a[0].Seq != b[0].Seq {
		t.Fatalf("silent saw %+v, ok saw %+v", a, b)
	}
	if s.Retries.Load() == 0 {
		t.Fatal("no retry counted")
	}

	c2, err := Dial([]string{silent.srv.Addr().String()}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if err := c2.Session().Put(ctx2, []byte("k"), []byte("v")); !errors.Is(err, ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
}

// Servers that answer but know no leader give ErrNoQuorum; a CAS mismatch
// is ErrCASFailed; Close ends waiting calls with ErrClosed.
func TestTypedErrors(t *testing.T) {
	noLeader := newFake(t, 1, func(kv.Request) (kv.Status, uint16, bool) { return kv.StatusNotLeader, 0, true })
	c, err := Dial([]string{noLeader.srv.Addr().String()}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.Session().Put(ctx, []byte("k"), nil); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("want ErrNoQuorum, got %v", err)
	}
	c.Close()

	casFail := newFake(t, 1, func(kv.Request) (kv.Status, uint16, bool) { return kv.StatusCASFailed, 1, true })
	c2, err := Dial([]string{casFail.srv.Addr().String()}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Session().CAS(context.Background(), []byte("k"), []byte("a"), []byte("b")); !errors.Is(err, ErrCASFailed) {
		t.Fatalf("want ErrCASFailed, got %v", err)
	}

	arrived := make(chan struct{}, 1)
	silent := newFake(t, 3, func(kv.Request) (kv.Status, uint16, bool) {
		arrived <- struct{}{}
		return 0, 0, false
	})
	c3, err := Dial([]string{silent.srv.Addr().String()}, Config{Attempt: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- c3.Session().Put(context.Background(), []byte("k"), nil) }()
	<-arrived
	c3.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
}

func TestDialNothingReachable(t *testing.T) {
	if _, err := Dial([]string{"127.0.0.1:1"}, testConfig()); err == nil {
		t.Fatal("dial of a closed port succeeded")
	}
	if _, err := Dial(nil, testConfig()); err == nil {
		t.Fatal("dial of no address succeeded")
	}
}

// Cancelling the context ends a wait at once, long before the attempt
// would expire, whether the context is new to the session (the wait
// selects on it) or was used by the previous command too (the wait is
// woken by the session's context.AfterFunc); the session then works with
// a new context.
func TestCancelEndsWait(t *testing.T) {
	for _, reused := range []bool{false, true} {
		var mu sync.Mutex
		answer := reused
		arrived := make(chan struct{}, 1)
		srv := newFake(t, 1, func(kv.Request) (kv.Status, uint16, bool) {
			mu.Lock()
			defer mu.Unlock()
			if !answer {
				arrived <- struct{}{}
			}
			return kv.StatusOK, 1, answer
		})
		c, err := Dial([]string{srv.srv.Addr().String()}, Config{Attempt: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		s := c.Session()
		ctx, cancel := context.WithCancel(context.Background())
		if reused {
			if err := s.Put(ctx, []byte("k"), nil); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			answer = false
			mu.Unlock()
		}
		done := make(chan error)
		go func() { done <- s.Put(ctx, []byte("k"), nil) }()
		<-arrived
		cancel()
		if err := <-done; !errors.Is(err, ErrTimeout) {
			t.Fatalf("reused %v: want ErrTimeout, got %v", reused, err)
		}
		if watched := s.sl.watched != nil; watched != reused {
			t.Fatalf("reused %v: context watched by AfterFunc: %v", reused, watched)
		}
		mu.Lock()
		answer = true
		mu.Unlock()
		if err := s.Put(context.Background(), []byte("k"), nil); err != nil {
			t.Fatalf("reused %v: %v", reused, err)
		}
		c.Close()
	}
}

// An answer that arrives after its attempt expired is dropped, not taken
// for the retry's: the server here answers attempt 1 only once attempt 2
// has arrived, then answers attempt 2 with another status. Both attempts
// must share one connection, or the late answer would go to a connection
// the client closed and the test would check nothing: an attempt that
// expires with nothing heard closes its connection, so the server sends a
// frame the client ignores as soon as attempt 1 arrives.
func TestLateAnswerDropped(t *testing.T) {
	// keepalive is a frame type the client does not read, only counts as
	// a sign of life.
	const keepalive = kv.FrameResponse + 1
	type held struct {
		c   *transport.Conn
		req kv.Request
	}
	first := make(chan held, 1)
	cfg := transport.DefaultServerConfig()
	cfg.Addr = "127.0.0.1:0"
	var n atomic.Int32
	srv, err := transport.Listen(cfg, func(c *transport.Conn, _ byte, body []byte) {
		req, err := kv.DecodeRequest(body)
		if err != nil {
			t.Error(err)
			return
		}
		reply := func(c *transport.Conn, id uint64, st kv.Status) {
			buf := bytebufferpool.Get()
			buf.B = kv.AppendResponse(buf.B[:0], &kv.Response{ReqID: id, Status: st, Node: 1, Leader: 1, Value: []byte("v")})
			c.Send(kv.FrameResponse, buf)
		}
		switch n.Add(1) {
		case 1:
			buf := bytebufferpool.Get()
			buf.B = append(buf.B[:0], 0)
			c.Send(keepalive, buf)
			first <- held{c, req}
		case 2:
			h := <-first
			if c != h.c {
				t.Error("the retry came on a new connection: the late answer would never be read")
			}
			reply(h.c, h.req.ReqID, kv.StatusCASFailed)
			reply(c, req.ReqID, kv.StatusOK)
		default:
			reply(c, req.ReqID, kv.StatusOK)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := Dial([]string{srv.Addr().String()}, Config{Attempt: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s := cl.Session()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A CAS: the stale answer says CASFailed, the retry's says OK.
	if err := s.CAS(ctx, []byte("k"), nil, []byte("v")); err != nil {
		t.Fatalf("took the late answer: %v", err)
	}
	if s.Retries.Load() != 1 {
		t.Fatalf("%d retries, want 1", s.Retries.Load())
	}
	if err := s.Put(ctx, []byte("k"), nil); err != nil {
		t.Fatal(err)
	}
}

// A slot given back by a collected session is reused, and its request
// ids keep growing, so an answer meant for the old session cannot be taken
// for the new one's.
func TestSlotReuseKeepsIDsUnique(t *testing.T) {
	c := &Client{}
	c.slots.Store(new([]*slot))
	a, b := c.takeSlot(), c.takeSlot()
	if a == b || a.idx == b.idx {
		t.Fatal("two sessions share a slot")
	}
	idA := a.nextReqID()
	if c.slotOf(idA) != a || c.slotOf(b.nextReqID()) != b {
		t.Fatal("request id does not name its slot")
	}
	c.releaseSlot(a)
	a2 := c.takeSlot()
	if a2 != a {
		t.Fatal("released slot not reused")
	}
	if id := a2.nextReqID(); id == idA || c.slotOf(id) != a2 {
		t.Fatalf("reused slot's id %#x (old %#x)", id, idA)
	}
	if c.slotOf(uint64(maxSlots-1)<<counterBits) != nil {
		t.Fatal("id of a slot never made names one")
	}
	z := &slot{idx: 0, counter: counterMask}
	if id := z.nextReqID(); id == 0 {
		t.Fatal("request id 0 (means none)")
	}
}
