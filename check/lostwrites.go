package check

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
)

// ReadBack reads key's current value from the cluster after the run, with a
// linearizable read. value is only looked at during the call.
type ReadBack func(ctx context.Context, key string) (value []byte, found bool, err error)

// LostConfig configures LostWrites.
type LostConfig struct {
	// Concurrency is how many keys are read back at once. The default is
	// 32. Must be >= 1.
	Concurrency int
	// MaxExamples is how many lost writes are kept in LostReport.Examples
	// for the report. The default is 10. Must be >= 0.
	MaxExamples int
	// PriorState says keys may hold values written before the history
	// began (a cluster that served earlier runs). A value read back that
	// nobody in the history wrote is then taken as the key's earlier
	// state, not as corruption: every acknowledged write of the key is
	// still lost (each followed the earlier state), but a key whose writes
	// all had unknown outcomes is fine. The default is false (the cluster
	// started empty).
	PriorState bool
}

// DefaultLostConfig returns the default LostConfig.
func DefaultLostConfig() LostConfig { return LostConfig{Concurrency: 32, MaxExamples: 10} }

// Validate reports every problem with c.
func (c LostConfig) Validate() error {
	var errs []error
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("%w: Concurrency %d < 1", ErrConfig, c.Concurrency))
	}
	if c.MaxExamples < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxExamples %d < 0", ErrConfig, c.MaxExamples))
	}
	return joinErrs(errs)
}

// LostWrite is one key whose read-back contradicts acknowledged writes.
type LostWrite struct {
	Key string
	// Read is what the read-back found (Found false: absent).
	Read  Value
	Found bool
	// Lost are the acknowledged writes that the read-back proves lost.
	Lost []Op
	// Foreign: the value read was never written by anyone.
	Foreign bool
}

func (l LostWrite) String() string {
	read := "absent"
	if l.Found {
		read = l.Read.String()
	}
	s := fmt.Sprintf("key %s reads %s", l.Key, read)
	if l.Foreign {
		s += " (never written)"
	}
	s += fmt.Sprintf(", losing %d acknowledged writes", len(l.Lost))
	if len(l.Lost) > 0 {
		s += ", the last " + l.Lost[len(l.Lost)-1].String()
	}
	return s
}

// LostReport is what LostWrites found.
type LostReport struct {
	// Keys is how many keys were read back; Acked how many acknowledged
	// writes they had.
	Keys, Acked int
	// Lost is how many acknowledged writes are lost, over LostKeys keys.
	Lost, LostKeys int
	// Foreign is how many keys hold a value nobody wrote (corruption;
	// their acknowledged writes are counted lost too).
	Foreign int
	// Unverified is how many keys could not be read back (their writes
	// are neither counted lost nor known safe). FirstErr is the first
	// read-back error.
	Unverified int
	FirstErr   error
	// Examples are the first few lost writes, by key.
	Examples []LostWrite
}

// LostLine formats the report line every benchmark prints:
// "acknowledged writes lost: N".
func LostLine(n int) string { return fmt.Sprintf("acknowledged writes lost: %d", n) }

// String is LostLine(r.Lost), followed by what it covered.
func (r LostReport) String() string {
	s := LostLine(r.Lost) + fmt.Sprintf(" (%d acknowledged writes on %d keys read back", r.Acked, r.Keys)
	if r.Foreign > 0 {
		s += fmt.Sprintf("; %d keys hold a value never written", r.Foreign)
	}
	if r.Unverified > 0 {
		s += fmt.Sprintf("; %d keys could not be read back: %v", r.Unverified, r.FirstErr)
	}
	return s + ")"
}

// OK reports whether nothing was lost or corrupted and every key was
// verified.
func (r LostReport) OK() bool { return r.Lost == 0 && r.Foreign == 0 && r.Unverified == 0 }

// LostWrites reads back every key written in writes (from History.Writes;
// run it once the clients have stopped) and counts the acknowledged writes
// the cluster lost.
//
// Writes on one key may overlap in time, so "the last acknowledged value"
// is not one value. Instead the read-back value r must be the value of a
// write that may be the last one applied: a write w is that when no
// acknowledged write began after w returned (such a write is ordered after
// w, so w cannot be last). Writes with an unknown outcome never returned and
// may be last. A delete counts as writing "absent", the initial state
// as a write of "absent" that every acknowledged write follows. If r is the
// value of a write w that is not a possible last write, the acknowledged
// writes that began after w returned are lost; if no write ever wrote r,
// every acknowledged write of the key is lost. So a later acknowledged write
// of the same key is read as overwriting, never as a loss. Values must be
// unique per key for this to be exact (the benchmark tags each value with
// its client and sequence number); with repeated values, the most favorable
// write is assumed.
func LostWrites(ctx context.Context, writes []Op, read ReadBack, cfg LostConfig) (LostReport, error) {
	if err := cfg.Validate(); err != nil {
		return LostReport{}, err
	}
	byKey := make(map[string][]Op)
	for _, w := range writes {
		if w.Outcome < OK || w.Outcome > Failed {
			panic(fmt.Sprintf("check: write %v has outcome %v", w, w.Outcome))
		}
		if !w.Kind.isWrite() || w.Outcome == Failed {
			continue
		}
		// A CAS that answered "failed" wrote nothing.
		if w.Kind == CAS && w.Outcome == OK && !w.CASOK {
			continue
		}
		byKey[w.Key] = append(byKey[w.Key], w)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	type result struct {
		lost  LostWrite
		err   error
		acked int
		done  bool
	}
	results := make([]result, len(keys))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(cfg.Concurrency, len(keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ws := byKey[keys[i]]
				v, found, err := read(ctx, keys[i])
				if err != nil {
					results[i].err = fmt.Errorf("check: read back %q: %w", keys[i], err)
					continue
				}
				var r Value
				if found {
					r = V(v)
				}
				results[i].lost = judgeKey(keys[i], ws, r, found, cfg.PriorState)
				results[i].acked = countAcked(ws)
				results[i].done = true
			}
		}()
	}
feed:
	for i := range keys {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	rep := LostReport{Keys: len(keys)}
	for i := range results {
		res := &results[i]
		if !res.done {
			rep.Unverified++
			if rep.FirstErr == nil {
				rep.FirstErr = res.err
				if res.err == nil {
					rep.FirstErr = fmt.Errorf("check: read back %q: %w", keys[i], ctx.Err())
				}
			}
			continue
		}
		rep.Acked += res.acked
		if res.lost.Foreign {
			rep.Foreign++
		}
		if n := len(res.lost.Lost); n > 0 || res.lost.Foreign {
			rep.Lost += n
			rep.LostKeys++
			if len(rep.Examples) < cfg.MaxExamples {
				rep.Examples = append(rep.Examples, res.lost)
			}
		}
	}
	return rep, ctx.Err()
}

func countAcked(ws []Op) int {
	n := 0
	for i := range ws {
		if ws[i].Outcome == OK {
			n++
		}
	}
	return n
}

// judgeKey applies LostWrites's rule to one key. The returned LostWrite
// has its Key set even when nothing is lost.
func judgeKey(key string, ws []Op, r Value, found, prior bool) LostWrite {
	lw := LostWrite{Key: key, Read: r, Found: found}
	// ret is when the newest write that could have produced r returned
	// (+inf for an unknown outcome, -inf for the initial state).
	ret, matched := int64(math.MinInt64), !found
	for i := range ws {
		w := &ws[i]
		produces := (w.Kind == Delete && !found) || (w.Kind != Delete && found && w.Value == r)
		if !produces {
			continue
		}
		matched = true
		wr := w.Return
		if w.Outcome == Unknown {
			wr = math.MaxInt64
		}
		ret = max(ret, wr)
	}
	if !matched && !prior {
		lw.Foreign = true
	}
	for i := range ws {
		if ws[i].Outcome == OK && ws[i].Call > ret {
			lw.Lost = append(lw.Lost, ws[i])
		}
	}
	slices.SortFunc(lw.Lost, func(a, b Op) int { return compareInt(a.Call, b.Call) })
	return lw
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
