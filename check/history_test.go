package check

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecorder(t *testing.T) {
	h, err := NewHistory(HistoryConfig{OpsPerClient: 2, Sample: func(k string) bool { return strings.HasPrefix(k, "s") }})
	if err != nil {
		t.Fatal(err)
	}
	const clients, per = 8, 100
	var wg sync.WaitGroup
	for c := range clients {
		rec := h.NewRecorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				call := h.Now()
				v := []byte(fmt.Sprintf("c%d-%d", c, i))
				switch i % 5 {
				case 0:
					rec.Put("s1", v, call, h.Now(), OK)
				case 1:
					rec.Get("s1", v, true, call, h.Now(), OK)
				case 2:
					rec.Put("other", v, call, h.Now(), Unknown)
				case 3:
					rec.Get("other", nil, false, call, h.Now(), OK)
				case 4:
					rec.Delete("s2", call, h.Now(), Failed)
				}
			}
		}()
	}
	wg.Wait()
	ops, writes := h.Ops(), h.Writes()
	// Sampled: puts and gets on s1 (the failed deletes are dropped).
	if len(ops) != clients*per*2/5 {
		t.Fatalf("%d sampled ops, want %d", len(ops), clients*per*2/5)
	}
	// Writes: puts on s1 and on other.
	if len(writes) != clients*per*2/5 {
		t.Fatalf("%d writes, want %d", len(writes), clients*per*2/5)
	}
	seen := map[int]bool{}
	for _, op := range ops {
		seen[op.Client] = true
		if op.Key != "s1" || op.Call > op.Return {
			t.Fatalf("bad op %+v", op)
		}
	}
	if len(seen) != clients {
		t.Fatalf("clients %v", seen)
	}
}

func TestRecordRejectsZeroOutcome(t *testing.T) {
	h, _ := NewHistory(DefaultHistoryConfig())
	defer func() {
		if recover() == nil {
			t.Fatal("an op without an outcome was recorded")
		}
	}()
	h.NewRecorder().Record(Op{Kind: Put, Key: "k"})
}

func TestHistoryConfigValidate(t *testing.T) {
	if _, err := NewHistory(HistoryConfig{OpsPerClient: -1}); err == nil {
		t.Fatal("negative OpsPerClient accepted")
	}
	if err := DefaultHistoryConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValue(t *testing.T) {
	// Distinct values of every length up to a few words, and values that
	// differ in one bit at any position, get distinct fingerprints.
	seen := map[Value]string{}
	add := func(b []byte) {
		v := V(b)
		if prev, dup := seen[v]; dup && prev != string(b) {
			t.Fatalf("fingerprint collision: %q and %q", prev, b)
		}
		seen[v] = string(b)
	}
	for n := range 40 {
		b := make([]byte, n)
		add(b)
		for i := range n {
			for bit := range 8 {
				c := append([]byte(nil), b...)
				c[i] ^= 1 << bit
				add(c)
			}
		}
	}
	for i := range 100000 {
		add([]byte(fmt.Sprintf("client-%d-seq-%d-padding-padding-padding", i%97, i)))
	}
	if got := VS("hello").String(); got != `"hello"` {
		t.Fatalf("String %s", got)
	}
	if got := VS("0123456789abcdefXYZ").String(); got != `"0123456789ab"…(19B)` {
		t.Fatalf("String %s", got)
	}
	if V(nil) != (Value{sum: fingerprint(nil)}) || V(nil) != VS("") {
		t.Fatal("empty values differ")
	}
}

// benchCap is the recorder size in the benchmarks: a recorder is allocated
// (and its memory zeroed) once per client when the run starts, so that cost
// is kept out of the per-op figure.
const benchCap = 1 << 16

func BenchmarkRecord(b *testing.B) {
	v := make([]byte, 128)
	var h *History
	var rec *Recorder
	b.ReportAllocs()
	for i := range b.N {
		if i%benchCap == 0 {
			b.StopTimer()
			h, _ = NewHistory(HistoryConfig{OpsPerClient: benchCap})
			rec = h.NewRecorder()
			b.StartTimer()
		}
		call := h.Now()
		rec.Put("key-000042", v, call, h.Now(), OK)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	h, _ := NewHistory(HistoryConfig{OpsPerClient: benchCap})
	v := make([]byte, 128)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rec := h.NewRecorder()
		n := 0
		for pb.Next() {
			if n++; n == benchCap {
				// Keep the footprint bounded: start a fresh slice
				// as a long run's recorder would have been sized.
				rec.mu.Lock()
				rec.mu.ops = rec.mu.ops[:0]
				rec.mu.Unlock()
				n = 0
			}
			call := h.Now()
			rec.Get("key-000042", v, true, call, h.Now(), OK)
		}
	})
}

func TestSampleFraction(t *testing.T) {
	for _, f := range []float64{0, 0.1, 0.5, 1} {
		keep := SampleFraction(f)
		n := 0
		const keys = 20000
		for i := range keys {
			k := fmt.Sprintf("key-%06d", i)
			if keep(k) {
				n++
			}
			if keep(k) != SampleFraction(f)(k) {
				t.Fatal("sampling is not deterministic")
			}
		}
		got := float64(n) / keys
		if got < f-0.02 || got > f+0.02 {
			t.Errorf("fraction %v kept %v", f, got)
		}
	}
}

// A key's state read before the run is where its history starts: a read
// of it is fine, a read of anything else a violation even when earlier
// values are allowed (PriorState); it is not one of Writes.
func TestHistorySetInitial(t *testing.T) {
	for _, tc := range []struct {
		name      string
		key, read string // read "" is a read of an absent key
		prior     bool
		want      Verdict
	}{
		{"read of the value found before", "k", "old", false, Linearizable},
		{"the same with prior state", "k", "old", true, Linearizable},
		{"read of another earlier value", "k", "older", true, NotLinearizable},
		{"read absent of a key found before", "k", "", true, NotLinearizable},
		{"read absent of a key absent before", "gone", "", true, Linearizable},
		{"a value in a key absent before", "gone", "old", true, NotLinearizable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHistory(DefaultHistoryConfig())
			if err != nil {
				t.Fatal(err)
			}
			h.SetInitial("k", []byte("old"), true)
			h.SetInitial("gone", nil, false)
			r := h.NewRecorder()
			r.Get(tc.key, []byte(tc.read), tc.read != "", 1, 2, OK)
			if n := len(h.Writes()); n != 0 {
				t.Fatalf("%d initial states among the writes", n)
			}
			res, err := CheckLinearizable(h.Ops(), LinConfig{Timeout: 10 * time.Second, PriorState: tc.prior})
			if err != nil || res.Verdict != tc.want {
				t.Fatalf("%v: %v, want %v", err, res, tc.want)
			}
		})
	}
}
