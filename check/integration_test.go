package check

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// memStore is a key-value map behind a mutex: linearizable by construction.
// With stale set, reads are served from a copy refreshed only every
// staleEvery writes, like a follower that lags.
type memStore struct {
	mu         sync.Mutex
	m, old     map[string]string
	stale      bool
	staleEvery int
	writes     int
}

func newMemStore() *memStore { return &memStore{m: map[string]string{}, old: map[string]string{}} }

func (s *memStore) put(k, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	s.writes++
	if s.staleEvery == 0 || s.writes%s.staleEvery == 0 {
		s.old = make(map[string]string, len(s.m))
		for k, v := range s.m {
			s.old[k] = v
		}
	}
}

func (s *memStore) get(k string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale {
		v, ok := s.old[k]
		return v, ok
	}
	v, ok := s.m[k]
	return v, ok
}

func (s *memStore) cas(k, expect, v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.m[k]; !ok || cur != expect {
		return false
	}
	s.m[k] = v
	return true
}

// drive runs clients goroutines doing ops random operations each on keys,
// recording them in h: half reads, a quarter puts, a quarter CAS (none
// without withCAS, puts instead). Every 10th write "times out": it is
// applied (or not, at random) and recorded as Unknown.
func drive(h *History, s *memStore, clients, ops int, keys []string, withCAS bool) {
	var wg sync.WaitGroup
	for c := range clients {
		rec := h.NewRecorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for i := range ops {
				k := keys[rng.IntN(len(keys))]
				v := fmt.Sprintf("c%d-s%d", c, i)
				call := h.Now()
				choice := rng.IntN(4)
				if choice == 3 && !withCAS {
					choice = 2
				}
				switch choice {
				case 0, 1:
					v2, found := s.get(k)
					rec.Get(k, []byte(v2), found, call, h.Now(), OK)
				case 2:
					out := OK
					if i%10 == 9 {
						out = Unknown
						if rng.IntN(2) == 0 {
							rec.Put(k, []byte(v), call, h.Now(), out)
							continue
						}
					}
					s.put(k, v)
					rec.Put(k, []byte(v), call, h.Now(), out)
				case 3:
					cur, _ := s.get(k)
					ok := s.cas(k, cur, v)
					rec.CAS(k, []byte(cur), []byte(v), ok, call, h.Now(), OK)
				}
			}
		}()
	}
	wg.Wait()
}

func TestRecordedLinearizableHistory(t *testing.T) {
	h, err := NewHistory(DefaultHistoryConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := newMemStore()
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	drive(h, s, 16, 200, keys, true)
	res, err := CheckLinearizable(h.Ops(), LinConfig{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Linearizable || res.Ops == 0 || res.UnknownWrites == 0 {
		t.Fatalf("%v", res)
	}
	t.Log(res)

	read := func(_ context.Context, k string) ([]byte, bool, error) {
		v, ok := s.get(k)
		return []byte(v), ok, nil
	}
	lost, err := LostWrites(context.Background(), h.Writes(), read, DefaultLostConfig())
	if err != nil {
		t.Fatal(err)
	}
	if !lost.OK() || lost.Keys != len(keys) {
		t.Fatalf("%v %v", lost, lost.Examples)
	}
	t.Log(lost)
}

func TestRecordedStaleReads(t *testing.T) {
	h, err := NewHistory(DefaultHistoryConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := newMemStore()
	s.stale, s.staleEvery = true, 3
	rec := h.NewRecorder()
	// One client writes then reads its own write: a lagging read is a
	// violation for sure.
	for i := range 10 {
		v := fmt.Sprintf("v%d", i)
		call := h.Now()
		s.put("k", v)
		rec.Put("k", []byte(v), call, h.Now(), OK)
		call = h.Now()
		got, found := s.get("k")
		rec.Get("k", []byte(got), found, call, h.Now(), OK)
	}
	res, err := CheckLinearizable(h.Ops(), LinConfig{Timeout: time.Minute, VisualizePath: t.TempDir() + "/stale.html"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != NotLinearizable || res.Visualization == "" {
		t.Fatalf("%v", res)
	}
	// The store also "loses" the writes since its last refresh when read
	// back through the stale copy.
	read := func(_ context.Context, k string) ([]byte, bool, error) {
		v, ok := s.get(k)
		return []byte(v), ok, nil
	}
	lost, err := LostWrites(context.Background(), h.Writes(), read, DefaultLostConfig())
	if err != nil {
		t.Fatal(err)
	}
	if lost.Lost != 1 || lost.OK() {
		t.Fatalf("%v %v", lost, lost.Examples)
	}
}

// BenchmarkCheckLinearizable checks a recorded history of 200 clients doing
// 200 gets and puts each on 64 sampled keys (about 600 per key, a tenth of
// the writes with unknown outcomes, as around a leader failover).
func BenchmarkCheckLinearizable(b *testing.B) {
	h, _ := NewHistory(DefaultHistoryConfig())
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	drive(h, newMemStore(), 200, 200, keys, false)
	ops := h.Ops()
	b.ResetTimer()
	for range b.N {
		res, err := CheckLinearizable(ops, LinConfig{Timeout: time.Minute})
		if err != nil || res.Verdict != Linearizable {
			b.Fatalf("%v %v", res, err)
		}
		if b.N == 1 {
			b.Log(res)
		}
	}
}
