package node

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/frame"
)

// TestClientServerConfig: the client port's frame limit is the largest
// request the batcher can take, not the peer limit (256 MiB, once the
// length a header alone could make the node allocate), and it follows
// Batch.MaxBytes; idle timeout and connection limits are wired through.
func TestClientServerConfig(t *testing.T) {
	c := validConfig()
	s := c.clientServer()
	if want := kv.RequestHeaderSize + c.Batch.MaxCommand(); s.Conn.MaxFrameSize != want {
		t.Fatalf("default client frame limit %d, want %d (a request with the largest command)", s.Conn.MaxFrameSize, want)
	}
	if s.Conn.MaxFrameSize > 1<<20 {
		t.Fatalf("default client frame limit %d is above 1 MiB", s.Conn.MaxFrameSize)
	}
	if s.Conn.IdleTimeout != c.ClientIdleTimeout || s.Conn.IdleTimeout <= 0 {
		t.Fatalf("client idle timeout %v, want %v (positive)", s.Conn.IdleTimeout, c.ClientIdleTimeout)
	}
	if s.MaxConns != c.MaxClientConns || s.MaxConnsPerIP != c.MaxClientConnsPerIP {
		t.Fatalf("client connection limits %d/%d per IP, want %d/%d", s.MaxConns, s.MaxConnsPerIP, c.MaxClientConns, c.MaxClientConnsPerIP)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Batch.MaxBytes = 4 << 20
	c.Batch.MaxQueueBytes = max(c.Batch.MaxQueueBytes, c.Batch.MaxBytes)
	if got, want := c.clientServer().Conn.MaxFrameSize, kv.RequestHeaderSize+c.Batch.MaxCommand(); got != want {
		t.Fatalf("with 4 MiB batches the client frame limit is %d, want %d", got, want)
	}
	c.ClientMaxFrame = 1 << 17
	if got := c.clientServer().Conn.MaxFrameSize; got != 1<<17 {
		t.Fatalf("explicit client frame limit %d, got %d", 1<<17, got)
	}
}

// lineLog keeps every log line so a test can await one.
type lineLog struct {
	mu    sync.Mutex
	lines strings.Builder
	more  chan struct{}
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines.Write(p)
	close(l.more)
	l.more = make(chan struct{})
	return len(p), nil
}

func (l *lineLog) wait(ctx context.Context, sub string) bool {
	for {
		l.mu.Lock()
		ok, ch := strings.Contains(l.lines.String(), sub), l.more
		l.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// TestClientPortFrameLimit: on a running node, a request with the largest
// command the batcher takes is answered, and a header claiming one byte
// more is refused as too large at once, before any body arrives.
func TestClientPortFrameLimit(t *testing.T) {
	log := &lineLog{more: make(chan struct{})}
	c := validConfig()
	c.Null = true
	c.DataDir = ""
	c.ClientAddr = "127.0.0.1:0"
	c.Logger = slog.New(slog.NewTextHandler(log, nil))
	n, err := Start(c)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	addr := n.clients.Addr().String()
	limit := kv.RequestHeaderSize + c.Batch.MaxCommand()

	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	req := kv.Request{ReqID: 1, Cmd: kv.Command{ClientID: 1, Seq: 1, Op: kv.OpPut, Key: []byte("k")}}
	req.Cmd.Value = make([]byte, c.Batch.MaxCommand()-kv.CommandSize(&req.Cmd))
	for kv.CommandSize(&req.Cmd) > c.Batch.MaxCommand() {
		req.Cmd.Value = req.Cmd.Value[:len(req.Cmd.Value)-1]
	}
	body := kv.AppendRequest(nil, &req)
	if _, err := nc.Write(append(frame.AppendHeader(nil, kv.FrameRequest, len(body)), body...)); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, frame.HeaderSize)
	if _, err := io.ReadFull(nc, hdr); err != nil {
		t.Fatalf("no answer to a %d-byte request (limit %d): %v", len(body), limit, err)
	}

	big, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	if _, err := big.Write(binary.BigEndian.AppendUint32(nil, uint32(limit+1))); err != nil {
		t.Fatal(err)
	}
	if _, err := big.Write([]byte{kv.FrameRequest}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !log.wait(ctx, "frame too large") {
		t.Fatalf("a header claiming %d bytes (limit %d) was not refused as too large", limit+1, limit)
	}
}
