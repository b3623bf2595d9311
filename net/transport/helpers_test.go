package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"
)

// testTimeout bounds every wait in these tests; it is a hang guard, never a
// performance threshold.
const testTimeout = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// pattern is the body of a test frame: determined by its type and length,
// so the receiver can check every byte.
func pattern(typ byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = typ ^ byte(i) ^ byte(i>>8) ^ byte(n)
	}
	return b
}

func pooled(b []byte) *bytebufferpool.ByteBuffer {
	bb := bytebufferpool.Get()
	bb.B = append(bb.B[:0], b...)
	return bb
}

// logRecorder is a slog handler that keeps every message so tests can await
// a logged reason.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
	more chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{more: make(chan struct{})} }

func (r *logRecorder) logger() *slog.Logger { return slog.New(r) }

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.msgs = append(r.msgs, b.String())
	close(r.more)
	r.more = make(chan struct{})
	r.mu.Unlock()
	return nil
}

// wait returns the first logged line containing every one of subs.
func (r *logRecorder) wait(t *testing.T, subs ...string) string {
	t.Helper()
	ctx := testCtx(t)
	for {
		r.mu.Lock()
		for _, m := range r.msgs {
			ok := true
			for _, s := range subs {
				ok = ok && strings.Contains(m, s)
			}
			if ok {
				r.mu.Unlock()
				return m
			}
		}
		ch := r.more
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("no log line containing %q; got:\n%s", subs, strings.Join(r.msgs, "\n"))
		}
	}
}

// echoServer answers every frame with the same frame.
func echoServer(t *testing.T, cfg ServerConfig) *Server {
	t.Helper()
	cfg.Listener = listenLoopback(t)
	s, err := Listen(cfg, func(c *Conn, typ byte, body []byte) {
		c.Send(typ, pooled(body))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// echoClient dials s and returns a function doing one round trip.
func echoClient(t *testing.T, s *Server) func(msg string) {
	t.Helper()
	got := make(chan string, 16)
	c, err := Dial(s.Addr().String(), DefaultConnConfig(), func(_ *Conn, _ byte, body []byte) {
		got <- string(body)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return func(msg string) {
		t.Helper()
		if !c.Send(7, pooled([]byte(msg))) {
			t.Fatalf("send %q dropped: %v", msg, c.Err())
		}
		select {
		case m := <-got:
			if m != msg {
				t.Fatalf("echo = %q, want %q", m, msg)
			}
		case <-time.After(testTimeout):
			t.Fatalf("no echo of %q", msg)
		}
	}
}

// awaitClosed reads from nc until the other side closes it.
func awaitClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(testTimeout))
	_, err := io.Copy(io.Discard, nc)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server did not close the connection")
	}
}

func mustEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d (first difference somewhere)", what, len(got), len(want))
	}
}

// dialServer starts a server with default settings that hands every frame
// to h, and dials it. Both close when the test ends.
func dialServer(t *testing.T, h Handler) *Conn {
	t.Helper()
	sc := DefaultServerConfig()
	sc.Listener = listenLoopback(t)
	srv, err := Listen(sc, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := Dial(srv.Addr().String(), DefaultConnConfig(), func(*Conn, byte, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
