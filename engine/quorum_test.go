package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestQuorumSize(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{1, 1}, {2, 2}, {3, 2}, {4, 3}, {5, 3}, {7, 4}} {
		if got := quorumSize(tc.n); got != tc.want {
			t.Errorf("quorumSize(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// Any two quorums intersect: the property all of Paxos rests on.
func TestQuorumsIntersect(t *testing.T) {
	for n := 1; n <= 9; n++ {
		if q := quorumSize(n); 2*q <= n {
			t.Errorf("n=%d: two quorums of %d may be disjoint", n, q)
		}
	}
}

// quorumSlot returns the largest slot s such that at least q matches are
// >= s, checked against a brute-force definition on random inputs.
func TestQuorumSlotProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		n := 1 + r.IntN(9)
		q := 1 + r.IntN(n)
		matches := make([]Slot, n)
		for i := range matches {
			matches[i] = Slot(r.IntN(20))
		}
		orig := slices.Clone(matches)
		got := quorumSlot(matches, q)
		var want Slot
		for s := Slot(0); s < 20; s++ {
			k := 0
			for _, m := range orig {
				if m >= s {
					k++
				}
			}
			if k >= q {
				want = s
			}
		}
		if got != want {
			t.Fatalf("quorumSlot(%v, %d) = %d, want %d", orig, q, got, want)
		}
	}
}

func BenchmarkQuorumSlot(b *testing.B) {
	m := []Slot{5, 9, 7, 3, 8}
	buf := make([]Slot, len(m))
	for b.Loop() {
		copy(buf, m)
		quorumSlot(buf, 3)
	}
}
