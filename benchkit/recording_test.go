package benchkit

import (
	"context"
	"testing"
)

type nopSession struct{}

func (nopSession) Do(context.Context, Op) (Result, error) { return Result{}, nil }

// BenchmarkRecordingDo is what a Recording adds to each operation: with the
// timeline only (a -faults run without -check) it must not allocate; with
// the history, the key string and the value copy are check.Recorder's.
func BenchmarkRecordingDo(b *testing.B) {
	for _, tc := range []struct {
		name            string
		check, timeline bool
	}{{"timeline", false, true}, {"history+timeline", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Check = tc.check
			rec, err := NewRecording(cfg, tc.timeline)
			if err != nil {
				b.Fatal(err)
			}
			s := rec.Wrap(0, nopSession{})
			w := newWorkload(cfg, 0)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Do(ctx, w.next()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// SampledKeys lists exactly the keys the recording keeps for the
// linearizability check.
func TestSampledKeys(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Check, cfg.Keys, cfg.CheckSample = true, 5000, 0.1
	keys, ok := SampledKeys(cfg)
	if !ok || len(keys) < 300 || len(keys) > 700 {
		t.Fatalf("%v: %d of 5000 keys at a 10%% sample", ok, len(keys))
	}
	rec, err := NewRecording(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	s := rec.Wrap(0, nopSession{})
	var buf [KeySize]byte
	for i := range uint64(cfg.Keys) {
		s.Do(context.Background(), Op{Kind: OpGet, Key: formatKey(buf[:], i)})
	}
	seen := map[string]bool{}
	for _, op := range rec.History().Ops() {
		seen[op.Key] = true
	}
	if len(seen) != len(keys) {
		t.Fatalf("recorded %d keys, SampledKeys lists %d", len(seen), len(keys))
	}
	for _, k := range keys {
		if !seen[k] {
			t.Fatalf("%s listed, not recorded", k)
		}
	}
	cfg.Keys = SampledKeysMax + 1
	if _, ok := SampledKeys(cfg); ok {
		t.Fatal("walked a key space over the bound")
	}
}
