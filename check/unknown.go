package check

import "math"

// Unknown outcomes, checked without an exponential blow-up.
//
// A write w with an unknown outcome (it wrote value x) is an operation
// with an infinite return time: the checker may place it anywhere after its
// call, including after everything, where it changes nothing anyone saw.
// Every such operation overlaps all that follows it, and a run with a leader
// failover has hundreds, which is enough to make porcupine's search time
// out. Two reductions keep exactly the same verdict:
//
//  1. Observed: if a known Get returned x, or a known CAS succeeded
//     expecting x, and w is the only write of x to the key, then w took
//     effect before that observer's linearization point, hence before the
//     observer returned. w's return time becomes the earliest observer's
//     return time (if that is not before w's call).
//  2. Unobserved: if nothing ever read x (no known Get returned it) and no
//     CAS ever expected it, w can be left out. Proof sketch: a
//     linearization without w extends to one with w (put w last). Given
//     one with w, drop w: the state between w and the next write becomes
//     the previous value p instead of x. No Get sits in that span (it would
//     have returned x); an unknown CAS there did nothing (it did not expect
//     x) and can move to the end, after every observation; a known failed
//     CAS there could now succeed if it expected p, so (2) applies only
//     when no known failed CAS on the key returned after w's call.
//
// A delete with an unknown outcome writes "absent", which reads cannot pin
// to one write: it stays open-ended.

// keyFacts are what a key's history observed, for bound.
type keyFacts struct {
	// firstSeen[x] is the earliest return of a known Get returning x or
	// a known successful CAS expecting x.
	firstSeen map[Value]int64
	// writers[x] counts the writes (Put, CAS) of x, any outcome.
	writers map[Value]int
	// expected holds every value some CAS expected, any outcome.
	expected map[Value]bool
	// lastFailedCAS is the latest return of a known failed CAS
	// (math.MinInt64 if none).
	lastFailedCAS int64
}

func observe(ops []*Op) keyFacts {
	f := keyFacts{firstSeen: map[Value]int64{}, writers: map[Value]int{}, expected: map[Value]bool{}, lastFailedCAS: math.MinInt64}
	seen := func(v Value, at int64) {
		if t, ok := f.firstSeen[v]; !ok || at < t {
			f.firstSeen[v] = at
		}
	}
	for _, op := range ops {
		known := op.Outcome == OK
		switch op.Kind {
		case Get:
			if known && op.Found {
				seen(op.Value, op.Return)
			}
		case Put:
			f.writers[op.Value]++
		case CAS:
			f.writers[op.Value]++
			f.expected[op.Expect] = true
			switch {
			case known && op.CASOK:
				seen(op.Expect, op.Return)
			case known:
				f.lastFailedCAS = max(f.lastFailedCAS, op.Return)
			}
		}
	}
	return f
}

// bound returns the return time to check unknown write op with (open is
// "after everything"), or keep false to leave it out.
func (f keyFacts) bound(op *Op, open int64) (ret int64, keep bool) {
	if op.Kind == Delete {
		return open, true
	}
	at, seen := f.firstSeen[op.Value]
	switch {
	case seen && f.writers[op.Value] == 1 && at >= op.Call:
		return at, true
	case !seen && !f.expected[op.Value] && f.lastFailedCAS < op.Call:
		return 0, false
	}
	return open, true
}
