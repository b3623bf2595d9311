package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/transport"
)

// Errors a caller can act on.
var (
	// ErrTimeout: the command's context ended before any server answered
	// it. The command may or may not have executed; retrying the same
	// Session call is safe only through the library's own retries.
	ErrTimeout = errors.New("client: timed out")
	// ErrNoQuorum: servers answered, but none could commit (no leader was
	// found while the context lasted): a majority is down or cut off.
	ErrNoQuorum = errors.New("client: no quorum reachable")
	// ErrCASFailed: a compare-and-swap found another value.
	ErrCASFailed = errors.New("client: compare-and-swap failed")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("client: closed")
)

// Config tunes a Client.
type Config struct {
	// Attempt is how long one try at one server may take before the
	// command is retried (same seq) at the next. The default is 1s.
	Attempt time.Duration
	// Backoff is the pause before retrying after a redirect with no known
	// leader (an election is under way). The default is 20ms.
	Backoff time.Duration
	// DialTimeout bounds connecting to one server. The default is 1s.
	DialTimeout time.Duration
	// MaxFrame is the largest response accepted, in bytes. The default is
	// 16 MiB.
	MaxFrame int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Attempt: time.Second, Backoff: 20 * time.Millisecond, DialTimeout: time.Second, MaxFrame: 16 << 20}
}

// Client holds one connection per server and routes responses to sessions.
type Client struct {
	cfg   Config
	addrs []string

	mu struct {
		sync.Mutex
		conns  []*transport.Conn // by address index; nil until dialled
		nodes  []uint16          // node id answering at each address; 0 unknown
		waits  map[uint64]*Session
		closed bool
	}
	leader atomic.Int32 // index into addrs of the believed leader
	reqID  atomic.Uint64
}

// Dial prepares a client for the cluster at addrs (client addresses of all
// members). It connects lazily but checks that at least one server answers.
func Dial(addrs []string, cfg Config) (*Client, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("client: no server addresses")
	}
	d := DefaultConfig()
	if cfg.Attempt <= 0 {
		cfg.Attempt = d.Attempt
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = d.Backoff
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = d.DialTimeout
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = d.MaxFrame
	}
	c := &Client{cfg: cfg, addrs: append([]string(nil), addrs...)}
	c.mu.conns = make([]*transport.Conn, len(addrs))
	c.mu.nodes = make([]uint16, len(addrs))
	c.mu.waits = make(map[uint64]*Session)
	c.leader.Store(int32(rand.IntN(len(addrs))))
	var errs []error
	for i := range addrs {
		if _, err := c.conn(i); err == nil {
			c.leader.Store(int32(i))
			return c, nil
		} else {
			errs = append(errs, err)
		}
	}
	return nil, fmt.Errorf("client: no server reachable: %w", errors.Join(errs...))
}

// Close closes every connection; waiting calls return ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.mu.closed = true
	conns := c.mu.conns
	waits := c.mu.waits
	c.mu.waits = map[uint64]*Session{}
	c.mu.Unlock()
	for _, cn := range conns {
		if cn != nil {
			cn.Close()
		}
	}
	for _, s := range waits {
		s.deliver(response{err: ErrClosed})
	}
	return nil
}

// conn returns the connection to address i, dialling it if needed.
func (c *Client) conn(i int) (*transport.Conn, error) {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if cn := c.mu.conns[i]; cn != nil {
		c.mu.Unlock()
		return cn, nil
	}
	c.mu.Unlock()
	ccfg := transport.DefaultConnConfig()
	ccfg.DialTimeout = c.cfg.DialTimeout
	ccfg.MaxFrameSize = c.cfg.MaxFrame
	cn, err := transport.Dial(c.addrs[i], ccfg, func(_ *transport.Conn, typ byte, body []byte) {
		c.onFrame(i, typ, body)
	})
	if err != nil {
		return nil, err
	}
	go func() { <-cn.Done(); c.onClosed(i, cn) }()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		cn.Close()
		return nil, ErrClosed
	}
	if old := c.mu.conns[i]; old != nil {
		cn.Close() // lost a race with another dialler
		return old, nil
	}
	c.mu.conns[i] = cn
	return cn, nil
}

func (c *Client) onClosed(i int, cn *transport.Conn) {
	c.mu.Lock()
	if c.mu.conns[i] == cn {
		c.mu.conns[i] = nil
	}
	c.mu.Unlock()
}

// onFrame runs on a connection's reader goroutine; body is valid only
// during the call, so the value is copied for the session.
func (c *Client) onFrame(i int, typ byte, body []byte) {
	if typ != kv.FrameResponse {
		return
	}
	r, err := kv.DecodeResponse(body)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.mu.nodes[i] = r.Node
	s := c.mu.waits[r.ReqID]
	delete(c.mu.waits, r.ReqID)
	c.mu.Unlock()
	if s == nil {
		return // a late answer to an attempt we gave up on
	}
	var val []byte
	if len(r.Value) > 0 {
		val = append([]byte(nil), r.Value...)
	}
	s.deliver(response{reqID: r.ReqID, status: r.Status, leader: r.Leader, value: val})
}

// addrOf returns the address index of node id, if known.
func (c *Client) addrOf(id uint16) (int, bool) {
	if id == 0 {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, n := range c.mu.nodes {
		if n == id {
			return i, true
		}
	}
	return 0, false
}

// Session returns a new logical client with a random 64-bit id. A Session
// runs one command at a time; use many Sessions for concurrency.
func (c *Client) Session() *Session {
	id := rand.Uint64()
	for id == 0 {
		id = rand.Uint64()
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Session{c: c, id: id, done: make(chan response, 1), timer: t}
}

// Session is one logical client: an id and the next sequence number.
type Session struct {
	c    *Client
	id   uint64
	seq  uint64
	done chan response
	// timer bounds one attempt; reused (one outstanding command at a
	// time) so an attempt costs no timer allocation.
	timer *time.Timer

	// Retries counts attempts beyond the first, over the session's life.
	Retries atomic.Uint64
}

type response struct {
	reqID  uint64
	status kv.Status
	leader uint16
	value  []byte
	err    error
}

// deliver hands r to the session, replacing a stale answer still in the
// buffer (the newest answer is the only one a waiting attempt can want).
func (s *Session) deliver(r response) {
	for {
		select {
		case s.done <- r:
			return
		default:
			select {
			case <-s.done:
			default:
			}
		}
	}
}

// ID returns the session's client id.
func (s *Session) ID() uint64 { return s.id }

// Put sets key to value.
func (s *Session) Put(ctx context.Context, key, value []byte) error {
	_, err := s.Do(ctx, kv.Command{Op: kv.OpPut, Key: key, Value: value})
	return err
}

// Get reads key linearizably (through the leader's log).
func (s *Session) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	r, err := s.Do(ctx, kv.Command{Op: kv.OpGet, Key: key})
	if err != nil {
		return nil, false, err
	}
	return r.Value, r.Status == kv.StatusOK, nil
}

// Delete removes key.
func (s *Session) Delete(ctx context.Context, key []byte) error {
	_, err := s.Do(ctx, kv.Command{Op: kv.OpDelete, Key: key})
	return err
}

// CAS sets key to value if it currently holds expect; ErrCASFailed if not.
func (s *Session) CAS(ctx context.Context, key, expect, value []byte) error {
	r, err := s.Do(ctx, kv.Command{Op: kv.OpCAS, Key: key, Expect: expect, Value: value})
	if err == nil && r.Status == kv.StatusCASFailed {
		return ErrCASFailed
	}
	return err
}

// Result is a command's outcome.
type Result struct {
	Status kv.Status
	Value  []byte
}

// Do runs one command (its ClientID and Seq are filled in) until a server
// executes it or ctx ends. Every retry carries the same seq, so the command
// executes at most once however often it is sent.
func (s *Session) Do(ctx context.Context, cmd kv.Command) (Result, error) {
	s.seq++
	cmd.ClientID, cmd.Seq = s.id, s.seq
	c := s.c
	sawServer := false
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.Retries.Add(1)
		}
		if err := ctx.Err(); err != nil {
			return Result{}, s.giveUp(sawServer)
		}
		i := int(c.leader.Load())
		cn, err := c.conn(i)
		if errors.Is(err, ErrClosed) {
			return Result{}, err
		}
		if err != nil {
			c.leader.CompareAndSwap(int32(i), int32((i+1)%len(c.addrs)))
			if !s.pause(ctx, c.cfg.Backoff) {
				return Result{}, s.giveUp(sawServer)
			}
			continue
		}
		reqID := c.reqID.Add(1)
		req := kv.Request{ReqID: reqID, Cmd: cmd}
		out := bytebufferpool.Get()
		out.B = kv.AppendRequest(out.B[:0], &req)
		c.mu.Lock()
		c.mu.waits[reqID] = s
		c.mu.Unlock()
		if !cn.Send(kv.FrameRequest, out) {
			c.forget(reqID)
			c.leader.CompareAndSwap(int32(i), int32((i+1)%len(c.addrs)))
			continue
		}
		r, ok := s.wait(ctx, reqID, c.cfg.Attempt)
		if !ok {
			c.forget(reqID)
			// No answer in time: this server may be dead or cut off.
			c.leader.CompareAndSwap(int32(i), int32((i+1)%len(c.addrs)))
			continue
		}
		if r.err != nil {
			return Result{}, r.err
		}
		sawServer = true
		switch r.status {
		case kv.StatusNotLeader, kv.StatusRetry:
			if j, ok := c.addrOf(r.leader); ok && j != i {
				c.leader.CompareAndSwap(int32(i), int32(j))
				continue
			}
			c.leader.CompareAndSwap(int32(i), int32((i+1)%len(c.addrs)))
			if !s.pause(ctx, c.cfg.Backoff) {
				return Result{}, s.giveUp(sawServer)
			}
		case kv.StatusBadRequest:
			return Result{Status: r.status}, fmt.Errorf("client: server rejected the request as malformed")
		default:
			return Result{Status: r.status, Value: r.value}, nil
		}
	}
}

func (c *Client) forget(reqID uint64) {
	c.mu.Lock()
	delete(c.mu.waits, reqID)
	c.mu.Unlock()
}

// wait waits for this attempt's response. An answer to an earlier attempt
// that raced our giving up on it may still sit in done; it is recognised by
// its request id and dropped.
func (s *Session) wait(ctx context.Context, reqID uint64, d time.Duration) (response, bool) {
	t := s.timer
	t.Reset(d) // Go 1.23+ timers: Reset drops a stale expiry, no drain needed
	defer t.Stop()
	for {
		select {
		case r := <-s.done:
			if r.err != nil || r.reqID == reqID {
				return r, true
			}
		case <-t.C:
			return response{}, false
		case <-ctx.Done():
			return response{}, false
		}
	}
}

func (s *Session) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Session) giveUp(sawServer bool) error {
	if sawServer {
		return ErrNoQuorum
	}
	return ErrTimeout
}
