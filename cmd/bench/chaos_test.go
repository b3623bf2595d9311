package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/faults"
)

// The kill -9 chaos run is long (minutes), so it runs only when asked:
//
//	go test ./cmd/bench -run TestChaosKill -chaos 2m -timeout 30m -v
//	go test ./cmd/bench -run TestChaosKill -chaos 2m -chaos-out results/chaos-kill-5n
var (
	chaosFor  = flag.Duration("chaos", 0, "run TestChaosKill for this long (0: skip it)")
	chaosSeed = flag.Uint64("chaos-seed", 0, "seed of TestChaosKill's schedule (0: from the clock)")
	chaosOut  = flag.String("chaos-out", "", "results base name for TestChaosKill's files (default: a temporary directory)")
)

// chaosSchedule draws a kill -9 schedule for nodes 1..n over a run of
// length d: every 2-4 s a node is killed, and restarted 1-3 s later. Every
// other kill aims at whoever leads when it fires; the rest at a random
// node that is up. A leader kill is drawn only when no node is down and is
// restarted before the next kill, so no kill can find its target already
// dead; random kills may overlap the previous one, so at most two nodes
// are down at once, which five nodes survive. The last line of the
// schedule kills every node for good shortly before the end: bench then
// restarts all of them from their disks for the read-back, so every
// node's store must open after the run.
func chaosSchedule(rng *rand.Rand, n int, d time.Duration) string {
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	var ev []string
	downUntil := make([]time.Duration, n+1) // by node id; 0: up
	leaderTurn := false
	end := d - 2*time.Second // leave room for the final kill
	t := between(2*time.Second, 4*time.Second)
	for {
		gap := between(2*time.Second, 4*time.Second)
		restart := between(time.Second, 3*time.Second)
		if t+restart >= end {
			break
		}
		var up []int
		for id := 1; id <= n; id++ {
			if downUntil[id] <= t {
				up = append(up, id)
			}
		}
		round := func(x time.Duration) time.Duration { return x.Round(time.Millisecond) }
		if leaderTurn && len(up) == n {
			restart = min(restart, gap-200*time.Millisecond)
			ev = append(ev, fmt.Sprintf("kill-leader@%v+%v", round(t), round(restart)))
			// The victim is unknown until the kill fires: keep every node
			// off the random list until it is back.
			for id := 1; id <= n; id++ {
				downUntil[id] = t + restart
			}
		} else {
			id := up[rng.IntN(len(up))]
			ev = append(ev, fmt.Sprintf("kill=%d@%v+%v", id, round(t), round(restart)))
			downUntil[id] = t + restart
		}
		leaderTurn = !leaderTurn
		t += gap
	}
	final := d - time.Second
	for id := 1; id <= n; id++ {
		ev = append(ev, fmt.Sprintf("kill=%d@%v", id, final))
	}
	return strings.Join(ev, ",")
}

// TestChaosSchedule checks the generator's promises on many seeds: the
// schedule parses, kills come every 2-4 s, restarts 1-3 s after, at most
// two nodes are down at once before the final kill, and a leader kill
// finds every node up.
func TestChaosSchedule(t *testing.T) {
	const n, d = 5, 2 * time.Minute
	for seed := uint64(1); seed <= 200; seed++ {
		s := chaosSchedule(rand.New(rand.NewPCG(seed, 0)), n, d)
		sched, err := faults.Parse(s)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, s)
		}
		type window struct{ from, to time.Duration }
		var (
			downs []window
			prev  time.Duration
			kills int
		)
		for _, e := range sched {
			if e.For == 0 { // the final kill of every node
				continue
			}
			if e.Kind != faults.Kill {
				t.Fatalf("seed %d: event %v is not a kill", seed, e)
			}
			if kills > 0 && (e.At-prev < 2*time.Second || e.At-prev > 4*time.Second) {
				t.Fatalf("seed %d: %v after the previous kill at %v", seed, e, prev)
			}
			if e.For < time.Second || e.For > 3*time.Second {
				t.Fatalf("seed %d: %v restarts after %v", seed, e, e.For)
			}
			open := 0
			for _, w := range downs {
				if w.from <= e.At && e.At < w.to {
					open++
				}
			}
			if open > 1 || (e.Target.Role == faults.Leader && open > 0) {
				t.Fatalf("seed %d: %v fires with %d nodes down", seed, e, open)
			}
			downs = append(downs, window{e.At, e.At + e.For})
			prev = e.At
			kills++
		}
		if kills < int(d/(4*time.Second))-2 {
			t.Fatalf("seed %d: only %d kills in %v", seed, kills, d)
		}
	}
}

// TestChaosKill is the kill -9 acceptance run: 5 nodes under kill -9
// chaos (random nodes and the leader every 2-4 s, each restarted 1-3 s
// later), then every node killed and restarted from its disk, with every
// check on: linearizability, acknowledged writes read back, session
// order, state hashes. Snapshots are taken often so that a local
// snapshot races the ones a restarted node installs.
func TestChaosKill(t *testing.T) {
	if *chaosFor == 0 {
		t.Skip("kill -9 chaos: run with -chaos 2m")
	}
	bin := realNode(t)
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	schedule := chaosSchedule(rand.New(rand.NewPCG(seed, 0)), 5, *chaosFor)
	t.Logf("seed %d: -faults %s", seed, schedule)
	t.Setenv("TMPDIR", t.TempDir())
	base := *chaosOut
	if base == "" {
		base = filepath.Join(t.TempDir(), "chaos")
	} else if !filepath.IsAbs(base) {
		// go test runs in the package directory; a relative name means
		// the repository's.
		base = filepath.Join("..", "..", base)
	}
	var o, e bytes.Buffer
	code := realMain(context.Background(), []string{"bench", "-node-bin", bin, "-quiet", "-out", base,
		"-nodes", "5", "-clients", "32", "-keys", "2000", "-read-ratio", "0.3", "-check-sample", "0.25",
		"-timeout", "2s", "-warmup", "1s", "-duration", chaosFor.String(), "-seed", fmt.Sprint(seed),
		"-node-arg=-snapshot-every=2000", "-faults", schedule}, &o, &e)
	t.Logf("exit %d\n%s\n%s", code, o.String(), e.String())
	if code != 0 {
		t.Fatalf("bench exit %d: %s", code, e.String())
	}
	r, err := results.Load(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	v := r.Verdict
	if v == nil || v.LostAckedWrites == nil || *v.LostAckedWrites != 0 || v.Linearizable == nil || !*v.Linearizable ||
		v.StateHashesAgree == nil || !*v.StateHashesAgree || len(v.Failures) > 0 {
		t.Fatalf("verdict %+v", v)
	}
	kills := 0
	for _, f := range r.Faults {
		if f.NotInjected || f.Error != "" {
			t.Errorf("fault %s: not injected or failed: %s", f.Spec, f.Error)
		}
		kills++
	}
	if kills < 10 {
		t.Fatalf("only %d kills recorded", kills)
	}
	if *chaosOut != "" {
		fmt.Fprintf(os.Stderr, "chaos: %d kills, results in %s.json\n", kills, base)
	}
}
