package resp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/route"
	"github.com/mpaxos/mpaxos/sm"
)

// fakeCluster stands in for the node: one kv.Machine behind its session
// table applying every command at the next slot, as a one-node cluster's
// log would.
type fakeCluster struct {
	mu       sync.Mutex
	m        *sm.Applier
	slot     uint64
	sessions atomic.Uint64
	// dos counts the commands sessions sent (an OpMulti is one).
	dos atomic.Int64
	// hold, when set, makes commands wait until it is closed or their
	// context ends (a cluster that lost its quorum).
	hold chan struct{}
	// leaders, when set, is each group's leader: a command of a group
	// node 1 does not lead is refused naming that group's leader, as the
	// node refuses it; one whose keys span groups is a bad request.
	leaders []uint16
}

func newFakeCluster(t testing.TB) *fakeCluster {
	m, err := sm.NewApplier(kv.NewMachine(), sm.DefaultSessionTTL)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeCluster{m: m}
}

type fakeSession struct {
	fc  *fakeCluster
	id  uint64
	seq uint64
}

func (fc *fakeCluster) session() Session {
	return &fakeSession{fc: fc, id: fc.sessions.Add(1)}
}

func (s *fakeSession) Do(ctx context.Context, cmd kv.Command) (client.Result, error) {
	fc := s.fc
	fc.mu.Lock()
	hold := fc.hold
	fc.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return client.Result{}, client.ErrTimeout
		}
	}
	fc.dos.Add(1)
	if groups := len(fc.leaders); groups > 1 {
		info, err := kv.Check(kv.AppendCommand(nil, &cmd), groups)
		if err != nil || info.CrossGroup {
			return client.Result{Status: kv.StatusBadRequest}, fmt.Errorf("bad request")
		}
		if l := fc.leaders[route.GroupOf(info.Header.Key, groups)]; l != 1 {
			return client.Result{Status: kv.StatusNotLeader}, client.NotLeaderError(l)
		}
	}
	s.seq++
	cmd.ClientID, cmd.Token, cmd.Seq = s.id, 1, s.seq
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.slot++
	_, r, _, _ := fc.m.Apply(fc.slot, kv.AppendCommand(nil, &cmd))
	return client.Result{Status: r.Status, Value: bytes.Clone(r.Value)}, nil
}

func (s *fakeSession) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	r, err := s.Do(ctx, kv.Command{Op: kv.OpGet, Key: key})
	if err != nil {
		return nil, false, err
	}
	return r.Value, r.Status == kv.StatusOK, nil
}

func (fc *fakeCluster) status() Status {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return Status{ID: 1, Role: "leader", Leader: 1, Commit: fc.slot, Applied: fc.slot, Leaders: fc.leaders}
}

// startServer serves a fake cluster on loopback with cfg's limits.
func startServer(t testing.TB, fc *fakeCluster, tune func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.ID = 1
	cfg.NewSession = fc.session
	cfg.Status = fc.status
	if tune != nil {
		tune(&cfg)
	}
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawConn is a test client speaking RESP by hand.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	rd *bufio.Reader
}

func dialRaw(t testing.TB, s *Server) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	// Bounds every read of a test: a missing reply fails, never hangs.
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, nc: nc, rd: bufio.NewReader(nc)}
}

func (c *rawConn) send(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// cmd encodes args as a RESP array.
func cmd(args ...string) []byte {
	b := appendArray(nil, len(args))
	for _, a := range args {
		b = appendBulkString(b, a)
	}
	return b
}

// reply reads one whole reply, nested aggregates included, as raw bytes.
func (c *rawConn) reply() string {
	c.t.Helper()
	var out bytes.Buffer
	if err := readReply(c.rd, &out); err != nil {
		c.t.Fatalf("reading reply: %v (so far %q)", err, out.String())
	}
	return out.String()
}

func readReply(rd *bufio.Reader, out *bytes.Buffer) error {
	line, err := rd.ReadString('\n')
	out.WriteString(line)
	if err != nil {
		return err
	}
	n, _ := parseInt([]byte(line[1 : len(line)-2]))
	switch line[0] {
	case '$', '=':
		if n < 0 {
			return nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(rd, b); err != nil {
			return err
		}
		out.Write(b)
	case '*', '%':
		if line[0] == '%' {
			n *= 2
		}
		for i := int64(0); i < n; i++ {
			if err := readReply(rd, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// closed reports whether the server closed the connection: a read gets
// EOF (or a reset) once everything it sent was read.
func (c *rawConn) closed() bool {
	c.t.Helper()
	_, err := io.Copy(io.Discard, c.rd)
	return err == nil || !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
