package benchkit

import (
	"slices"
	"testing"
	"time"
)

func TestFindSplitBrain(t *testing.T) {
	s := func(ms int, acked map[uint16]uint64) PrimarySample {
		return PrimarySample{At: time.Duration(ms) * time.Millisecond, Acked: acked}
	}
	for _, tc := range []struct {
		name      string
		samples   []PrimarySample
		intervals int
		nodes     []uint16
	}{
		{"one leader", []PrimarySample{s(0, map[uint16]uint64{1: 0, 2: 0}), s(50, map[uint16]uint64{1: 9, 2: 0}), s(100, map[uint16]uint64{1: 20, 2: 0})}, 0, nil},
		{"hand-over in separate intervals", []PrimarySample{s(0, map[uint16]uint64{1: 5, 2: 0}), s(50, map[uint16]uint64{1: 9, 2: 0}), s(100, map[uint16]uint64{1: 9, 2: 4})}, 0, nil},
		{"two at once", []PrimarySample{s(0, map[uint16]uint64{1: 5, 2: 0, 3: 0}), s(50, map[uint16]uint64{1: 9, 2: 1, 3: 0}), s(100, map[uint16]uint64{1: 10, 2: 4, 3: 0})}, 2, []uint16{1, 2}},
		{"restart is no answer", []PrimarySample{s(0, map[uint16]uint64{1: 5, 2: 7}), s(50, map[uint16]uint64{1: 9, 2: 0})}, 0, nil},
		{"absent node", []PrimarySample{s(0, map[uint16]uint64{1: 5}), s(50, map[uint16]uint64{1: 9, 2: 3})}, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FindSplitBrain(tc.samples)
			if got.Intervals != tc.intervals || !slices.Equal(got.Nodes, tc.nodes) {
				t.Fatalf("got %+v, want %d intervals of nodes %v", got, tc.intervals, tc.nodes)
			}
			if got.Found() != (tc.intervals > 0) || got.String() == "" {
				t.Fatalf("Found %v for %d intervals: %s", got.Found(), tc.intervals, got)
			}
		})
	}
	if got := FindSplitBrain(nil); got.Found() {
		t.Fatal("no samples found a split brain")
	}
}
