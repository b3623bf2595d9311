package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

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
	// A pool of its own per run, as a runtime would keep for one traffic
	// class (see ConnConfig.BodyPool): the default pool, calibrated by the
	// previous sub-benchmark's small frames, would discard 64 KiB bodies.
	cfg.BodyPool = new(bytebufferpool.Pool)
	// At most 512 frames or 8 MiB in flight, and never more than the queue.
	fl := newFlow(uint64(min(cfg.SendQueue, 512, (8<<20)/max(size, 1))))
	srvCfg := DefaultServerConfig()
	srvCfg.Listener = listenLoopback(b)
	srvCfg.Conn = cfg
	srv, err := Listen(srvCfg, func(c *Conn, typ byte, body []byte) { fl.got() })
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
	b.SetBytes(int64(size))
	b.ReportAllocs()
	sent := uint64(0)
	base := c.Stats()
	for b.Loop() {
		fl.wait(sent)
		body := cfg.BodyPool.Get()
		body.B = append(body.B[:0], payload...)
		if !c.Send(1, body) {
			b.Fatal("Send dropped a frame with the window below the queue size")
		}
		sent++
	}
	fl.drain(sent)
	st := c.Stats()
	frames := float64(st.FramesSent - base.FramesSent)
	b.ReportMetric(float64(st.Writes-base.Writes)/frames, "writev/frame")
	b.ReportMetric(frames/b.Elapsed().Seconds(), "frames/s")
}

// flow keeps a sender at most window frames ahead of the receiving handler
// without spinning: the handler posts a credit every window/4 frames and the
// sender sleeps on it when the window is full. (Spinning with Gosched steals
// the two cores from the writer and reader being measured.)
type flow struct {
	window   uint64
	received atomic.Uint64
	credit   chan struct{}
}

func newFlow(window uint64) *flow {
	return &flow{window: max(window, 4), credit: make(chan struct{}, 1)}
}

// got is called by the receiving handler for each frame.
func (f *flow) got() {
	if n := f.received.Add(1); n%(f.window/4) == 0 {
		select {
		case f.credit <- struct{}{}:
		default:
		}
	}
}

// wait blocks while sent frames are a full window ahead.
func (f *flow) wait(sent uint64) {
	for sent-f.received.Load() >= f.window {
		<-f.credit
	}
}

// drain waits until every sent frame has been received.
func (f *flow) drain(sent uint64) {
	for f.received.Load() < sent {
		select {
		case <-f.credit:
		case <-time.After(time.Millisecond):
		}
	}
}

func listenLoopback(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

// BenchmarkConnSocketBuffer repeats BenchmarkConn with fixed SO_SNDBUF and
// SO_RCVBUF sizes, to compare with the kernel's auto-tuning (the default).
func BenchmarkConnSocketBuffer(b *testing.B) {
	for _, buf := range []int{256 << 10, 4 << 20} {
		for _, bs := range benchSizes {
			b.Run(fmt.Sprintf("%s/sockbuf=%dKiB", bs.name, buf>>10), func(b *testing.B) {
				cfg := DefaultConnConfig()
				cfg.SocketBufferSize = buf
				benchConn(b, bs.size, cfg)
			})
		}
	}
}

// BenchmarkConnPingPong sends one frame and waits for its echo: no frames
// queue up, so this is the latency path (one writev per frame each way).
func BenchmarkConnPingPong(b *testing.B) {
	for _, bs := range benchSizes[:2] {
		b.Run(bs.name, func(b *testing.B) {
			sc := DefaultServerConfig()
			sc.Listener = listenLoopback(b)
			srv, err := Listen(sc, func(c *Conn, typ byte, body []byte) {
				out := bytebufferpool.Get()
				out.B = append(out.B[:0], body...)
				c.Send(typ, out)
			})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			pong := make(chan struct{}, 1)
			c, err := Dial(srv.Addr().String(), DefaultConnConfig(), func(*Conn, byte, []byte) { pong <- struct{}{} })
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			payload := make([]byte, bs.size)
			b.SetBytes(int64(bs.size))
			b.ReportAllocs()
			base := c.Stats()
			for b.Loop() {
				body := bytebufferpool.Get()
				body.B = append(body.B[:0], payload...)
				c.Send(1, body)
				<-pong
			}
			st := c.Stats()
			b.ReportMetric(float64(st.Writes-base.Writes)/float64(st.FramesSent-base.FramesSent), "writev/frame")
		})
	}
}

// BenchmarkPeers streams frames from node 1 to node 2 through Peers.Send,
// the leader-to-follower path, with the same window as BenchmarkConn.
func BenchmarkPeers(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			fl := newFlow(uint64(min(512, (8<<20)/bs.size)))
			pool := new(bytebufferpool.Pool)
			lns := []net.Listener{listenLoopback(b), listenLoopback(b)}
			var ps []*Peers
			for i := range 2 {
				cfg := DefaultPeersConfig()
				cfg.ClusterID, cfg.ID, cfg.Listener = 1, uint64(i+1), lns[i]
				cfg.Peers = map[uint64]string{uint64(2 - i): lns[1-i].Addr().String()}
				cfg.Logger = slog.New(slog.DiscardHandler)
				cfg.BodyPool = pool
				p, err := NewPeers(cfg, func(uint64, byte, []byte) { fl.got() })
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				p.Start()
				ps = append(ps, p)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := ps[0].WaitConnected(ctx, 2, 1); err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, bs.size)
			b.SetBytes(int64(bs.size))
			b.ReportAllocs()
			base, _ := ps[0].Stats(2)
			sent := uint64(0)
			for b.Loop() {
				fl.wait(sent)
				body := pool.Get()
				body.B = append(body.B[:0], payload...)
				if !ps[0].Send(2, 1, body) {
					b.Fatal("Send dropped a frame")
				}
				sent++
			}
			fl.drain(sent)
			st, _ := ps[0].Stats(2)
			frames := float64(st.FramesSent - base.FramesSent)
			b.ReportMetric(float64(st.Writes-base.Writes)/frames, "writev/frame")
			b.ReportMetric(frames/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
