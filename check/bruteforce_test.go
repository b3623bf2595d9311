package check

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// bruteLinearizable decides linearizability of a one-key history by trying
// every order: the reference the checker (with its reductions for unknown
// outcomes) is compared with. An unknown write may be left out or placed
// anywhere after its call.
func bruteLinearizable(ops []Op) bool {
	var known, unknown []Op
	for _, op := range ops {
		switch {
		case op.Outcome == OK:
			known = append(known, op)
		case op.Outcome == Unknown && op.Kind.isWrite():
			op.Return = math.MaxInt64
			unknown = append(unknown, op)
		}
	}
	for mask := 0; mask < 1<<len(unknown); mask++ {
		set := append([]Op(nil), known...)
		for i, u := range unknown {
			if mask&(1<<i) != 0 {
				set = append(set, u)
			}
		}
		if permute(set, make([]bool, len(set)), kvState{}, 0) {
			return true
		}
	}
	return false
}

// permute tries to extend a linearization: pick any unused op that no unused
// op must precede (returned before its call), step the model.
func permute(ops []Op, used []bool, st kvState, n int) bool {
	if n == len(ops) {
		return true
	}
	for i := range ops {
		if used[i] {
			continue
		}
		minimal := true
		for j := range ops {
			if !used[j] && j != i && ops[j].Return < ops[i].Call {
				minimal = false
				break
			}
		}
		if !minimal {
			continue
		}
		ok, next := kvModel.Step(st, &ops[i], &ops[i])
		if !ok {
			continue
		}
		used[i] = true
		if permute(ops, used, next.(kvState), n+1) {
			used[i] = false
			return true
		}
		used[i] = false
	}
	return false
}

// randomHistory makes a small one-key history from a tiny value alphabet,
// so that values repeat, CAS expectations hit and miss, and unknown
// outcomes are common.
func randomHistory(rng *rand.Rand) []Op {
	vals := []string{"a", "b", "c"}
	n := 2 + rng.IntN(5)
	ops := make([]Op, n)
	for i := range ops {
		call := int64(rng.IntN(20))
		op := Op{Client: i, Key: "k", Call: call, Return: call + int64(rng.IntN(8)), Outcome: OK}
		switch rng.IntN(4) {
		case 0:
			op.Kind, op.Value = Put, VS(vals[rng.IntN(3)])
		case 1:
			op.Kind = Get
			if rng.IntN(4) != 0 {
				op.Found, op.Value = true, VS(vals[rng.IntN(3)])
			}
		case 2:
			op.Kind, op.Expect, op.Value, op.CASOK = CAS, VS(vals[rng.IntN(3)]), VS(vals[rng.IntN(3)]), rng.IntN(2) == 0
		case 3:
			op.Kind = Delete
		}
		if rng.IntN(3) == 0 {
			op.Outcome = Unknown
		}
		ops[i] = op
	}
	return ops
}

// TestCheckerMatchesBruteForce compares CheckLinearizable with exhaustive
// search on thousands of random small histories: the reductions for unknown
// outcomes must never change a verdict.
func TestCheckerMatchesBruteForce(t *testing.T) {
	iters := 4000
	if testing.Short() {
		iters = 500
	}
	rng := rand.New(rand.NewPCG(1, 2))
	counts := map[bool]int{}
	pruned := 0
	for iter := range iters {
		ops := randomHistory(rng)
		want := bruteLinearizable(ops)
		res, err := CheckLinearizable(ops, LinConfig{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Verdict == Linearizable; got != want {
			t.Fatalf("history %d: checker says %v, brute force %v:\n%v", iter, res.Verdict, want, describe(ops))
		}
		counts[want]++
		pruned += res.PrunedWrites
	}
	t.Logf("verdicts %v, unknown writes left out %d", counts, pruned)
	// Both verdicts must be well represented for the test to mean much.
	if counts[true] < iters/10 || counts[false] < iters/10 || pruned < iters/20 {
		t.Fatalf("verdicts %v: generator too lopsided", counts)
	}
}

func describe(ops []Op) string {
	s := ""
	for _, op := range ops {
		s += "  " + op.String() + " [" + itoa(op.Call) + ", " + itoa(op.Return) + "]\n"
	}
	return s
}

func itoa(v int64) string { return time.Duration(v).String() }
