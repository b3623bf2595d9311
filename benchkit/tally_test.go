package benchkit

import (
	"errors"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/hist"
)

func TestTallyTakeSeparatesIntervals(t *testing.T) {
	tl := newTally()
	tl.record(time.Millisecond, 1, nil, true)
	tl.record(time.Millisecond, 2, errors.New("boom"), true)
	tl.record(time.Millisecond, 3, nil, false)
	iv := tl.take()
	if iv.ops != 1 || iv.errs != 1 || iv.warm != 1 || iv.kinds["boom"] != 1 || iv.h.TotalCount() != 1 {
		t.Fatalf("first interval %+v", iv)
	}
	tl.record(2*time.Millisecond, 4, nil, true)
	iv = tl.take()
	if iv.ops != 1 || iv.errs != 0 || iv.warm != 0 || len(iv.kinds) != 0 || iv.h.TotalCount() != 1 {
		t.Fatalf("second interval %+v", iv)
	}
	if iv = tl.take(); iv.ops != 0 || iv.h.TotalCount() != 0 {
		t.Fatalf("empty interval %+v", iv)
	}
}

func TestErrorKindsBounded(t *testing.T) {
	tl := newTally()
	for i := 0; i < maxErrorKinds+10; i++ {
		tl.record(0, 1, errors.New(string(rune('A'+i))), true)
	}
	iv := tl.take()
	if len(iv.kinds) > maxErrorKinds+1 || iv.kinds["other"] != 10 {
		t.Fatalf("%d kinds, other %d", len(iv.kinds), iv.kinds["other"])
	}
}

// BenchmarkTallyRecord is the per-operation cost of measuring on the hot
// path: no lock, no allocation.
func BenchmarkTallyRecord(b *testing.B) {
	tl := newTally()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tl.record(time.Duration(20000+i%100000), int64(i), nil, true)
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
				tl.record(time.Duration(100000+i*1000), 1, nil, true)
			}
		}
		b.StartTimer()
		r.collect(tickH, now.Add(-time.Second), now, true)
	}
}
