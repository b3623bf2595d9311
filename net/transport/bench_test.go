package transport

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/valyala/bytebufferpool"
)

var benchSizes = []struct {
	name string
	size int
}{{"64B", 64}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

// BenchmarkConn streams frames from a Dial'd client to a Server over
// loopback. The sender keeps at most `window` frames unacknowledged by the
// receiving handler (counted, not answered), so frames queue up in the
// writer like a leader's Accepts do, without ever filling the send queue.
// Reported: frames/s, MB/s (from SetBytes), writev calls per frame and,
// with -benchmem, allocations per frame across both ends and all goroutines.
func BenchmarkConn(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) { benchConn(b, bs.size, DefaultConnConfig()) })
	}
}

func benchConn(b *testing.B, size int, cfg ConnConfig) {
	var received atomic.Uint64
	srvCfg := DefaultServerConfig()
	srvCfg.Listener = listenLoopback(b)
	srvCfg.Conn = cfg
	srv, err := Listen(srvCfg, func(c *Conn, typ byte, body []byte) { received.Add(1) })
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c, err := Dial(srv.Addr().String(), cfg, func(*Conn, byte, []byte) {})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	payload := make([]byte, size)
	// At most 512 frames or 8 MiB in flight, and never more than the queue.
	window := uint64(max(4, min(cfg.SendQueue, 512, (8<<20)/max(size, 1))))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	sent := uint64(0)
	base := c.Stats()
	for b.Loop() {
		for sent-received.Load() >= window {
			runtime.Gosched()
		}
		body := bytebufferpool.Get()
		body.B = append(body.B[:0], payload...)
		if !c.Send(1, body) {
			b.Fatal("Send dropped a frame with the window below the queue size")
		}
		sent++
	}
	for received.Load() < sent {
		runtime.Gosched()
	}
	st := c.Stats()
	frames := float64(st.FramesSent - base.FramesSent)
	b.ReportMetric(float64(st.Writes-base.Writes)/frames, "writev/frame")
	b.ReportMetric(frames/b.Elapsed().Seconds(), "frames/s")
}

func listenLoopback(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}
