package engine

import (
	"math/rand/v2"
	"testing"
)

func TestBallotPackAndOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		r1, r2 := r.Uint64N(1<<48), r.Uint64N(1<<48)
		if r.IntN(4) == 0 {
			r2 = r1
		}
		n1, n2 := NodeID(1+r.IntN(65535)), NodeID(1+r.IntN(65535))
		a, b := MakeBallot(r1, n1), MakeBallot(r2, n2)
		if a.Round() != r1 || a.Node() != n1 {
			t.Fatalf("MakeBallot(%d, %d) unpacks to %d.%d", r1, n1, a.Round(), a.Node())
		}
		// Ordered by round, then node: the integer order is the Paxos order.
		wantLess := r1 < r2 || (r1 == r2 && n1 < n2)
		if (a < b) != wantLess {
			t.Fatalf("%v < %v is %v, want %v", a, b, a < b, wantLess)
		}
		// Distinct nodes never share a ballot.
		if n1 != n2 && a == b {
			t.Fatalf("nodes %d and %d share ballot %v", n1, n2, a)
		}
	}
}

func TestNextBallotOutbids(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		seen := MakeBallot(r.Uint64N(1<<40), NodeID(r.IntN(65536)))
		node := NodeID(1 + r.IntN(65535))
		nb := nextBallot(seen, node)
		if nb <= seen || nb.Node() != node {
			t.Fatalf("nextBallot(%v, %d) = %v", seen, node, nb)
		}
		// It is the lowest such ballot of node's: the round right after.
		if nb.Round() != seen.Round()+1 {
			t.Fatalf("nextBallot(%v, %d) = %v skips rounds", seen, node, nb)
		}
	}
	if b := nextBallot(0, 1); b != MakeBallot(1, 1) {
		t.Fatalf("nextBallot(0, 1) = %v", b)
	}
}

func TestMakeBallotOverflowPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MakeBallot(1<<48, 1) did not panic")
		}
	}()
	MakeBallot(1<<48, 1)
}
