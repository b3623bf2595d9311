package resp

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/tidwall/redcon"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/kv"
)

// pipeline16 is what redis-benchmark -t set -P 16 sends in one write.
var pipeline16 = func() []byte {
	var b []byte
	for i := 0; i < 16; i++ {
		b = append(b, cmd("SET", "key:000000001234", "xxx")...)
	}
	return b
}()

// The parser this package uses against tidwall/redcon's on the same
// pipelined stream (results/README.md has the figures): redcon copies
// each command (Raw) and allocates its argument slice, and bounds neither
// a claimed length nor a line.
func BenchmarkParse(b *testing.B) {
	b.Run("own", func(b *testing.B) {
		src := bytes.NewReader(pipeline16)
		r := newReader(src, new(atomic.Int64), 1<<16, 1<<20)
		b.SetBytes(int64(len(pipeline16)))
		b.ReportAllocs()
		for b.Loop() {
			src.Reset(pipeline16)
			r.start, r.end = 0, 0
			if err := r.fill(); err != nil {
				b.Fatal(err)
			}
			for n := 0; n < 16; n++ {
				if args, err := r.next(); err != nil || len(args) != 3 {
					b.Fatal(args, err)
				}
			}
		}
	})
	b.Run("redcon", func(b *testing.B) {
		src := bytes.NewReader(pipeline16)
		b.SetBytes(int64(len(pipeline16)))
		b.ReportAllocs()
		rd := redcon.NewReader(src)
		for b.Loop() {
			src.Reset(pipeline16)
			for n := 0; n < 16; {
				cmds, err := rd.ReadCommands()
				if err != nil {
					b.Fatal(err)
				}
				n += len(cmds)
			}
		}
	})
}

// nullSession answers every command at once, so the benchmark below
// measures the server alone: a multi as if it held 16 commands that all
// succeeded, as pipeline16's does.
type nullSession struct{}

var sixteenOKs = bytes.Repeat([]byte{byte(kv.StatusOK), 0}, 16)

func (nullSession) Do(_ context.Context, c kv.Command) (client.Result, error) {
	if c.Op == kv.OpMulti {
		return client.Result{Status: kv.StatusOK, Value: sixteenOKs}, nil
	}
	return client.Result{Status: kv.StatusOK}, nil
}

func (nullSession) Get(context.Context, []byte) ([]byte, bool, error) {
	return []byte("xxx"), true, nil
}

// BenchmarkServerPipeline: one connection, bursts of 16 SETs over loopback
// (parse, dispatch, reply, one write per burst); the allocations per burst
// are the server's (the session here allocates nothing).
func BenchmarkServerPipeline(b *testing.B) {
	s := startServer(b, newFakeCluster(b), func(c *Config) { c.NewSession = func() Session { return nullSession{} } })
	c := dialRaw(b, s)
	want := bytes.Repeat([]byte("+OK\r\n"), 16)
	got := make([]byte, len(want))
	b.ReportAllocs()
	for b.Loop() {
		c.send(pipeline16)
		for n := 0; n < len(got); {
			k, err := c.rd.Read(got[n:])
			if err != nil {
				b.Fatal(err)
			}
			n += k
		}
	}
	if !bytes.Equal(got, want) {
		b.Fatalf("replies %q", got)
	}
}
