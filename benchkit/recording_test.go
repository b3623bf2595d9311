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
