package batch

import (
	"fmt"
	"testing"
)

// BenchmarkBatcher measures one command through the batcher: Add (the copy
// into the batch buffer) plus its share of Next (sealing and the index). One
// op is one command; allocs/op should be 0 (one arena allocation per
// ArenaBytes of commands).
func BenchmarkBatcher(b *testing.B) {
	for _, size := range []int{16, 128, 1024} {
		for _, burst := range []int{1, 64} {
			b.Run(fmt.Sprintf("cmd=%dB/burst=%d", size, burst), func(b *testing.B) {
				bt := mustNew(b, DefaultConfig())
				cmd := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					if err := bt.Add(cmd); err != nil {
						b.Fatal(err)
					}
					if n++; n == burst {
						n = 0
						for _, ok := bt.Next(t0, true); ok; _, ok = bt.Next(t0, true) {
						}
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmds/s")
			})
		}
	}
}

// BenchmarkForEach measures decoding: one op is one command read back from a
// batch of 1024 commands of 128 bytes.
func BenchmarkForEach(b *testing.B) {
	cmds := make([][]byte, 1024)
	for i := range cmds {
		cmds[i] = make([]byte, 128)
	}
	batch := build(cmds...)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		if err := ForEach(batch, func([]byte) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "cmds/s")
}
