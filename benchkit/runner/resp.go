package runner

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
)

// DialRESP is the DialFunc of bench -resp: the clients speak the Redis
// protocol to the nodes' RESP ports (addrs), the way redis-benchmark or a
// Redis client library would, through the node's RESP front end (package
// resp). Each of conns connections per node is shared by the sessions
// given to it: their commands are pipelined on it, and the front end sends
// what one connection pipelined as one command of its session (one
// kv.OpMulti). A session starts at the first address and follows -MOVED
// to the leader; a command refused with -MOVED did not execute, so it is
// sent again there. An error reply or a broken connection is an error
// (the command may or may not have executed, as for any Redis client).
func DialRESP(ctx context.Context, addrs []string, conns int, tlsCfg *tls.Config) (benchkit.Target, error) {
	if tlsCfg != nil {
		return nil, errors.New("runner: the RESP front end serves plain TCP only")
	}
	if len(addrs) == 0 {
		return nil, errors.New("runner: no RESP addresses")
	}
	t := &respTarget{addrs: addrs, conns: max(conns, 1), pools: map[string][]*respConn{}}
	// Dial the first address now, so a cluster without RESP fails here.
	if _, err := t.conn(ctx, addrs[0], 0); err != nil {
		return nil, err
	}
	return t, nil
}

// respTarget hands out sessions over shared RESP connections.
type respTarget struct {
	addrs []string
	conns int

	mu     sync.Mutex
	pools  map[string][]*respConn // by address, conns each, dialled lazily
	next   int
	closed bool
}

func (t *respTarget) Session() benchkit.Session {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	return &respSession{t: t, addr: t.addrs[0], slot: t.next % t.conns}
}

func (t *respTarget) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, pool := range t.pools {
		for _, c := range pool {
			if c != nil {
				c.close(errClosedTarget)
			}
		}
	}
	return nil
}

var errClosedTarget = errors.New("runner: RESP target closed")

// conn returns connection slot of addr's pool, dialling it if it is not
// open.
func (t *respTarget) conn(ctx context.Context, addr string, slot int) (*respConn, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, errClosedTarget
	}
	pool := t.pools[addr]
	if pool == nil {
		pool = make([]*respConn, t.conns)
		t.pools[addr] = pool
	}
	if c := pool[slot]; c != nil && c.alive() {
		t.mu.Unlock()
		return c, nil
	}
	t.mu.Unlock()
	d := net.Dialer{Timeout: 2 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("runner: RESP %s: %w", addr, err)
	}
	c := newRESPConn(nc)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.close(errClosedTarget)
		return nil, errClosedTarget
	}
	if old := pool[slot]; old != nil && old.alive() {
		c.close(nil) // another session dialled it meanwhile
		return old, nil
	}
	pool[slot] = c
	return c, nil
}

// respSession is one benchmark client: one command at a time, on its slot's
// connection to the node it last found leading.
type respSession struct {
	t    *respTarget
	addr string
	slot int
	args [3][]byte
	val  []byte
	w    chan respResult // the one outstanding command's reply
}

var (
	cmdGet = []byte("GET")
	cmdSet = []byte("SET")
)

func (s *respSession) Do(ctx context.Context, op benchkit.Op) (benchkit.Result, error) {
	var args [][]byte
	switch op.Kind {
	case benchkit.OpGet:
		s.args[0], s.args[1] = cmdGet, op.Key
		args = s.args[:2]
	case benchkit.OpPut:
		s.args[0], s.args[1], s.args[2] = cmdSet, op.Key, op.Value
		args = s.args[:3]
	default:
		return benchkit.Result{}, fmt.Errorf("runner: %v is not a RESP command here", op.Kind)
	}
	if s.w == nil {
		s.w = make(chan respResult, 1)
	}
	// The command is retried while it is known not to have executed (no
	// connection, -MOVED) until ctx, the operation's timeout, ends.
	for tries := 0; ; tries++ {
		c, err := s.t.conn(ctx, s.addr, s.slot)
		if err != nil {
			if errors.Is(err, errClosedTarget) || ctx.Err() != nil {
				return benchkit.Result{}, err
			}
			// Nothing was sent: try the next node after a pause, as a
			// cluster client refreshes its slot map when a node is gone.
			s.next()
			if !sleepCtx(ctx, respBackoff) {
				return benchkit.Result{}, err
			}
			continue
		}
		r, err := c.do(ctx, args, s.w)
		if err != nil {
			// Sent, or perhaps sent: the outcome is unknown. The next
			// command starts at the next node.
			s.next()
			return benchkit.Result{}, err
		}
		if r.kind == '-' {
			if to, ok := movedTo(r.data); ok {
				// Refused before it entered the log: send it again to
				// the leader the node named. Past one round of the
				// nodes they name each other during an election:
				// pause between tries.
				s.addr = to
				if tries >= len(s.t.addrs) && !sleepCtx(ctx, respBackoff) {
					return benchkit.Result{}, fmt.Errorf("runner: RESP: still redirected (to %s) when the operation timed out: %w", to, ctx.Err())
				}
				continue
			}
			return benchkit.Result{}, fmt.Errorf("runner: RESP %s: %s", s.addr, r.data)
		}
		switch {
		case op.Kind == benchkit.OpPut && r.kind == '+':
			return benchkit.Result{}, nil
		case op.Kind == benchkit.OpGet && r.kind == '$' && r.null:
			return benchkit.Result{}, nil
		case op.Kind == benchkit.OpGet && r.kind == '$':
			s.val = append(s.val[:0], r.data...)
			return benchkit.Result{Value: s.val, Found: true}, nil
		}
		return benchkit.Result{}, fmt.Errorf("runner: RESP %s: unexpected reply %q to %s", s.addr, r.kind, args[0])
	}
}

// respBackoff is the pause before a session tries the next node after it
// could not connect.
const respBackoff = 20 * time.Millisecond

// next moves the session to the node after its current one.
func (s *respSession) next() {
	i := slices.Index(s.t.addrs, s.addr)
	s.addr = s.t.addrs[(i+1)%len(s.t.addrs)]
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// movedTo reads "MOVED <slot> <host:port>".
func movedTo(msg []byte) (string, bool) {
	f := strings.Fields(string(msg))
	if len(f) != 3 || f[0] != "MOVED" {
		return "", false
	}
	return f[2], true
}

// respReply is one reply: its type byte, the line or bulk it carries, and
// whether a bulk is null.
type respReply struct {
	kind byte
	data []byte
	null bool
}

// respConn is one connection with pipelined commands: a command is
// written under wmu and its waiter queued in the same order, and the
// reader goroutine hands each reply to the oldest waiter.
type respConn struct {
	nc  net.Conn
	wmu sync.Mutex
	out []byte

	mu      sync.Mutex
	waiters []chan respResult
	err     error // set once the connection broke
	done    chan struct{}
}

type respResult struct {
	r   respReply
	err error
}

func newRESPConn(nc net.Conn) *respConn {
	c := &respConn{nc: nc, done: make(chan struct{})}
	go c.readLoop()
	return c
}

func (c *respConn) alive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err == nil
}

// close breaks the connection, failing every waiting command with err.
func (c *respConn) close(err error) {
	c.mu.Lock()
	if c.err == nil {
		if err == nil {
			err = errClosedTarget
		}
		c.err = err
	}
	ws := c.waiters
	c.waiters = nil
	c.mu.Unlock()
	c.nc.Close()
	for _, w := range ws {
		w <- respResult{err: c.err}
	}
}

// do sends args and waits for their reply on w (buffered, empty). A
// context that ends first breaks the connection (later replies could not
// be matched to their commands otherwise); the command's outcome is then
// unknown. Once queued, w receives exactly one result, from the reader or
// from close, so do drains it before returning and w can be used again.
func (c *respConn) do(ctx context.Context, args [][]byte, w chan respResult) (respReply, error) {
	c.wmu.Lock()
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		c.wmu.Unlock()
		return respReply{}, c.err
	}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	c.out = appendCommand(c.out[:0], args)
	_, err := c.nc.Write(c.out)
	c.wmu.Unlock()
	if err != nil {
		c.close(fmt.Errorf("runner: RESP write: %w", err))
	}
	select {
	case res := <-w:
		return res.r, res.err
	case <-ctx.Done():
		c.close(fmt.Errorf("runner: RESP: %w", ctx.Err()))
		<-w
		return respReply{}, ctx.Err()
	}
}

func appendCommand(b []byte, args [][]byte) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// maxRESPReply bounds a bulk reply the reader accepts: a node that
// claims a larger one is not the RESP front end.
const maxRESPReply = 64 << 20

func (c *respConn) readLoop() {
	rd := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		r, err := readRESPReply(rd)
		if err != nil {
			c.close(fmt.Errorf("runner: RESP read: %w", err))
			return
		}
		c.mu.Lock()
		if len(c.waiters) == 0 {
			c.mu.Unlock()
			c.close(errors.New("runner: RESP: a reply to no command"))
			return
		}
		w := c.waiters[0]
		c.waiters = c.waiters[1:]
		c.mu.Unlock()
		w <- respResult{r: r}
	}
}

// readRESPReply reads one simple string, error, integer or bulk reply (all
// that GET and SET answer). The data is a fresh copy.
func readRESPReply(rd *bufio.Reader) (respReply, error) {
	line, err := rd.ReadSlice('\n')
	if err != nil {
		return respReply{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return respReply{}, fmt.Errorf("malformed reply line %q", line)
	}
	r := respReply{kind: line[0]}
	body := line[1 : len(line)-2]
	switch r.kind {
	case '+', '-', ':':
		r.data = append([]byte(nil), body...)
		return r, nil
	case '$', '_':
		if r.kind == '_' {
			r.kind, r.null = '$', true
			return r, nil
		}
		n, err := strconv.Atoi(string(body))
		if err != nil || n > maxRESPReply {
			return respReply{}, fmt.Errorf("malformed bulk length %q", body)
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		r.data = make([]byte, n+2)
		if _, err := readFull(rd, r.data); err != nil {
			return respReply{}, err
		}
		r.data = r.data[:n]
		return r, nil
	}
	return respReply{}, fmt.Errorf("unexpected reply type %q", r.kind)
}

func readFull(rd *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := rd.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
