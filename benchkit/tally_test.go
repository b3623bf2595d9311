package benchkit

import (
	"errors"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/hist"
)

func TestTallyTakeSeparatesIntervals(t *testing.T) {
	tl := newTally()
	tl.record(time.Millisecond, -1, 1, nil, true)
	tl.record(time.Millisecond, -1, 2, errors.New("boom"), true)
	tl.record(time.Millisecond, -1, 3, nil, false)
	iv := tl.take()
	if len(iv.lat) != 1 || iv.lat[0] != int64(time.Millisecond) || iv.errs != 1 || iv.warm != 1 || iv.kinds["boom"] != 1 || iv.lastDone != 2 {
		t.Fatalf("first interval %+v", iv)
	}
	tl.record(2*time.Millisecond, -1, 4, nil, true)
	iv = tl.take()
	if len(iv.lat) != 1 || iv.lat[0] != int64(2*time.Millisecond) || iv.errs != 0 || iv.warm != 0 || len(iv.kinds) != 0 {
		t.Fatalf("second interval %+v", iv)
	}
	if iv = tl.take(); len(iv.lat) != 0 || iv.lastDone != 0 {
		t.Fatalf("empty interval %+v", iv)
	}
}

// The warm-up's operations size the latency buffers, so recording while
// measuring does not allocate.
func TestTallyPresizesFromLastInterval(t *testing.T) {
	tl := newTally()
	for i := range 1000 {
		tl.record(0, -1, int64(i), nil, false) // warm-up
	}
	tl.take() // sizes the spare for the next take
	tl.take()
	if c := cap(tl.active.Load().lat); c < 2000 {
		t.Fatalf("active interval has room for %d latencies, want 2000 after 1000 warm-up ops", c)
	}
	allocs := testing.AllocsPerRun(10, func() {
		for i := range 1500 {
			tl.record(time.Microsecond, -1, int64(i), nil, true)
		}
		tl.active.Load().lat = tl.active.Load().lat[:0]
	})
	if allocs != 0 {
		t.Fatalf("%v allocations recording into a presized interval", allocs)
	}
}

func TestErrorKindsBounded(t *testing.T) {
	tl := newTally()
	for i := 0; i < maxErrorKinds+10; i++ {
		tl.record(0, -1, 1, errors.New(string(rune('A'+i))), true)
	}
	iv := tl.take()
	if len(iv.kinds) > maxErrorKinds+1 || iv.kinds["other"] != 10 {
		t.Fatalf("%d kinds, other %d", len(iv.kinds), iv.kinds["other"])
	}
}

// BenchmarkTallyRecord is the per-operation cost of measuring on the hot
// path: no lock, no allocation once the interval's buffer has grown (the
// reporter takes it every 1000 operations here, about every second at
// 200 clients and 200k ops/s).
func BenchmarkTallyRecord(b *testing.B) {
	tl := newTally()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tl.record(time.Duration(20000+i%100000), -1, int64(i), nil, true)
		if i%1000 == 999 {
			tl.take()
		}
	}
}

// BenchmarkTallyRecord200Clients records round-robin into 200 clients'
// tallies, as 200 client goroutines on a few cores do: what one operation's
// recording costs when the other clients' state has pushed this one's out
// of the cache.
func BenchmarkTallyRecord200Clients(b *testing.B) {
	tls := make([]*tally, 200)
	for i := range tls {
		tls[i] = newTally()
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tls[i%200].record(time.Duration(20000+(i*7919)%10000000), -1, int64(i), nil, true)
		if i%200_000 == 199_999 {
			for _, tl := range tls {
				tl.take()
			}
		}
	}
}

// BenchmarkCollect200Clients is the reporter's cost per second with 200
// clients that each recorded 500 operations in the second.
func BenchmarkCollect200Clients(b *testing.B) {
	r := &runner{out: &Outcome{Hist: hist.New(), ErrorKinds: map[string]int64{}}}
	for range 200 {
		r.tallies = append(r.tallies, newTally())
	}
	tickH := hist.New()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for _, tl := range r.tallies {
			for i := range 500 {
				tl.record(time.Duration(100000+i*1000), -1, 1, nil, true)
			}
		}
		b.StartTimer()
		r.collect(tickH, now.Add(-time.Second), now, true)
	}
}
