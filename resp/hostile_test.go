package resp

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// Each kind of bad input gets a protocol error and closes that connection
// alone: a connection opened before it and one opened after it are
// served.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	s := startServer(t, newFakeCluster(t), nil)
	before := dialRaw(t, s)
	before.send(cmd("SET", "k", "v"))
	before.reply()
	for _, tt := range []struct {
		name string
		in   []byte
		err  string
	}{
		{"malformed array", []byte("*1\r\n*2\r\n"), "expected '$'"},
		{"array count not a number", []byte("*two\r\n$3\r\nGET\r\n"), "bad '*' header"},
		{"bulk length 2^40", []byte("*2\r\n$3\r\nGET\r\n$1099511627776\r\n"), "above"},
		{"unterminated line", append([]byte("*1"), bytes.Repeat([]byte("1"), 100)...), "longer than"},
		{"binary garbage", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff"), "expected '*'"},
	} {
		bad := dialRaw(t, s)
		bad.send(tt.in)
		got := bad.reply()
		if !strings.HasPrefix(got, "-ERR Protocol error: ") || !strings.Contains(got, tt.err) {
			t.Errorf("%s: reply %q, want a protocol error with %q", tt.name, got, tt.err)
		}
		if !bad.closed() {
			t.Errorf("%s: connection left open", tt.name)
		}
		for _, c := range []*rawConn{before, dialRaw(t, s)} {
			c.send(cmd("GET", "k"))
			if got := c.reply(); got != "$1\r\nv\r\n" {
				t.Fatalf("%s: another connection got %q", tt.name, got)
			}
		}
	}
}

// Under attack the server's memory is bounded by what the attackers sent,
// never by what they claimed. 64 connections each claim a 2^40-byte
// argument and go on sending 256 KiB of it: each is refused at the
// header, and the read buffers and heap stay as they were. Then 64
// connections each send a command one byte short of MaxRequest and stall:
// the read buffers hold at most 64 x (MaxRequest + 4 KiB), and the heap
// grows by no more than half again as much.
func TestBadInputMemoryBounded(t *testing.T) {
	const maxRequest = 64 << 10
	const n = 64
	s := startServer(t, newFakeCluster(t), func(c *Config) { c.MaxRequest = maxRequest; c.MaxConns = 2 * n })
	heap := func() int64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapInuse)
	}
	base := heap()

	claim := append([]byte("*2\r\n$3\r\nSET\r\n$1099511627776\r\n"), bytes.Repeat([]byte("x"), 256<<10)...)
	for i := 0; i < n; i++ {
		c := dialRaw(t, s)
		go c.nc.Write(claim) // the server stops reading after the header, so this write may never finish
		if got := c.reply(); !strings.Contains(got, "above") {
			t.Fatalf("claim %d: %q", i, got)
		}
		if !c.closed() {
			t.Fatalf("claim %d: connection left open", i)
		}
		c.nc.Close()
	}
	if grown := heap() - base; grown > n*minBuffer*4 {
		t.Fatalf("heap grew by %d KiB after %d refused claims of 2^40 bytes", grown>>10, n)
	}

	almost := cmd("SET", "k", string(bytes.Repeat([]byte("v"), maxRequest-64)))
	last := len(almost) - 1
	stalled := make([]*rawConn, n)
	for i := range stalled {
		stalled[i] = dialRaw(t, s)
		stalled[i].send(almost[:last])
	}
	// Await the server's having read them: its read buffers grow as
	// the bytes arrive. Bounded: the test's deadline.
	limit := int64(n) * (maxRequest + minBuffer)
	for s.ReadBufferBytes() < int64(n)*maxRequest {
		if t.Context().Err() != nil {
			t.Fatalf("read buffers hold %d bytes", s.ReadBufferBytes())
		}
		runtime.Gosched()
	}
	held, grown := s.ReadBufferBytes(), heap()-base
	t.Logf("%d stalled commands of %d KiB: read buffers %d KiB (bound %d KiB), heap grew %d KiB", n, maxRequest>>10, held>>10, limit>>10, grown>>10)
	if held > limit || grown > limit*3/2 {
		t.Fatalf("read buffers %d bytes, heap grew %d bytes; bound %d", held, grown, limit)
	}
	for _, c := range stalled {
		c.send(almost[last:])
		if got := c.reply(); got != "+OK\r\n" {
			t.Fatalf("completed command: %q", got)
		}
	}
}
