package client

import (
	"context"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/transport"
)

// echoServer answers every request StatusOK at once, allocating nothing, so
// a benchmark against it measures the client's per-operation path (plus the
// loopback and this server's small share).
func echoServer(b *testing.B) string {
	b.Helper()
	cfg := transport.DefaultServerConfig()
	cfg.Addr = "127.0.0.1:0"
	srv, err := transport.Listen(cfg, func(c *transport.Conn, typ byte, body []byte) {
		req, err := kv.DecodeRequest(body)
		if err != nil {
			b.Errorf("echo: %v", err)
			return
		}
		buf := bytebufferpool.Get()
		buf.B = kv.AppendResponse(buf.B[:0], &kv.Response{ReqID: req.ReqID, Status: kv.StatusOK, Node: 1, Leader: 1})
		c.Send(kv.FrameResponse, buf)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv.Addr().String()
}

// BenchmarkSessionPut is many sessions over one connection, each with one
// put outstanding, as the benchmark's clients run: ns/op is the CPU of one
// operation (client and echo server) while both cores are busy.
func BenchmarkSessionPut(b *testing.B) {
	c, err := Dial([]string{echoServer(b)}, DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	key, val := []byte("k00000000000001"), make([]byte, 128)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.SetParallelism(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := c.Session()
		for pb.Next() {
			if err := s.Put(ctx, key, val); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSessionPutTimeoutPerOp is the usual library use: a fresh
// context.WithTimeout per command, cancelled when it returns.
func BenchmarkSessionPutTimeoutPerOp(b *testing.B) {
	c, err := Dial([]string{echoServer(b)}, DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	key, val := []byte("k00000000000001"), make([]byte, 128)
	b.SetParallelism(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := c.Session()
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := s.Put(ctx, key, val)
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
