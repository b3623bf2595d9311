package benchkit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/internal/fake"
	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/check"
	"github.com/mpaxos/mpaxos/faults"
)

// recordedRun drives the in-process fake (a correct key-value map) with a
// Recording installed and returns it with the run's origin and outcome.
func recordedRun(t *testing.T, tgt *fake.Target) (*benchkit.Recording, time.Time, *benchkit.Outcome) {
	t.Helper()
	cfg := benchkit.DefaultConfig()
	cfg.Clients, cfg.Conns, cfg.Keys, cfg.ReadRatio = 4, 1, 20, 0.5
	cfg.Duration, cfg.Warmup, cfg.Seed, cfg.Check, cfg.CheckSample = 500*time.Millisecond, 0, 7, true, 1
	rec, err := benchkit.NewRecording(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	var origin time.Time
	out, err := benchkit.Run(context.Background(), cfg, benchkit.Env{
		Target: tgt, Wrap: rec.Wrap, OnMeasure: func(s time.Time) { origin = s },
	})
	if err != nil {
		t.Fatal(err)
	}
	if origin.IsZero() || out.Ops == 0 {
		t.Fatalf("origin %v, %d ops", origin, out.Ops)
	}
	return rec, origin, out
}

// slowFake answers in 1 ms, so a half-second run records a history of a
// few thousand operations, not millions.
func slowFake() *fake.Target {
	return &fake.Target{Latency: func(uint64) time.Duration { return time.Millisecond }}
}

// readFrom reads keys back from tgt, a session per read (LostWrites reads
// several keys at once; a session has one operation at a time).
func readFrom(tgt *fake.Target) func(ctx context.Context, key string) ([]byte, bool, error) {
	return func(ctx context.Context, key string) ([]byte, bool, error) {
		res, err := tgt.Session().Do(ctx, benchkit.Op{Kind: benchkit.OpGet, Key: []byte(key)})
		return append([]byte(nil), res.Value...), res.Found, err
	}
}

func TestVerifyPassesACorrectStore(t *testing.T) {
	tgt := slowFake()
	rec, _, _ := recordedRun(t, tgt)
	v := benchkit.Verify(context.Background(), benchkit.Checks{History: rec.History(), ReadBack: readFrom(tgt)})
	if len(v.Failures) > 0 || v.Linearizable == nil || !*v.Linearizable || v.CheckedKeys != 20 {
		t.Fatalf("verdict %+v", v)
	}
	if v.LostAckedWrites == nil || *v.LostAckedWrites != 0 {
		t.Fatalf("lost %v", v.LostAckedWrites)
	}
	if v.SessionOrderOK != nil || v.StateHashesAgree != nil {
		t.Fatalf("session and hash checks ran without nodes: %+v", v)
	}
}

// A store that forgot everything after the run: the read-back must count
// the loss, and the run must fail.
func TestVerifyCatchesLostWrites(t *testing.T) {
	tgt := slowFake()
	rec, _, _ := recordedRun(t, tgt)
	empty := &fake.Target{}
	v := benchkit.Verify(context.Background(), benchkit.Checks{History: rec.History(), ReadBack: readFrom(empty)})
	if v.LostAckedWrites == nil || *v.LostAckedWrites == 0 {
		t.Fatalf("loss not counted: %+v", v)
	}
	if len(v.Failures) == 0 || !strings.HasPrefix(v.Failures[0], "acknowledged writes lost: ") {
		t.Fatalf("failures %q", v.Failures)
	}
}

func TestRecordingSeriesAndFaultResults(t *testing.T) {
	tgt := slowFake()
	rec, origin, out := recordedRun(t, tgt)
	step := 50 * time.Millisecond
	s := rec.Series(origin, out.Elapsed, step)
	var total int64
	for _, p := range s.Points {
		total += p.Ops
	}
	// The timeline counts completions from the origin on; the harness
	// counts operations due from it: they differ by at most one per client.
	if d := total - out.Ops; d < -4 || d > 4 {
		t.Fatalf("series holds %d ops, the run %d", total, out.Ops)
	}
	// A fault window in the middle of a run that never stopped: no
	// downtime, phases on both sides.
	recs := []faults.Record{{
		Event:   faults.MustParse("drop=1%@200ms+100ms")[0],
		Targets: []faults.NodeID{1, 2, 3}, Fired: true, Healed: true,
		Start: 200 * time.Millisecond, End: 300 * time.Millisecond,
	}, {
		Event: faults.MustParse("kill-leader@400ms")[0], Err: faults.ErrNoLeader,
	}}
	fr, err := benchkit.FaultResults(recs, s, out.Elapsed)
	if err != nil {
		t.Fatal(err)
	}
	if len(fr) != 2 {
		t.Fatalf("faults %+v", fr)
	}
	f := fr[0]
	if f.Spec != "drop=1%@200ms+100ms" || f.StartSec != 0.2 || f.EndSec != 0.3 || len(f.Targets) != 3 {
		t.Fatalf("fault %+v", f)
	}
	if f.DowntimeSec == nil || *f.DowntimeSec != 0 || f.NeverResumed || f.Before == nil || f.During == nil || f.After == nil {
		t.Fatalf("phases %+v", f)
	}
	if f.During.Throughput <= 0 || f.During.Latency.P50 < int64(time.Millisecond) {
		t.Fatalf("during %+v", f.During)
	}
	if g := fr[1]; !g.NotInjected || g.Error == "" || g.DowntimeSec != nil {
		t.Fatalf("fault not injected: %+v", g)
	}
}

// A fault that dips, recovers, then stops service: throughput is back only
// after the stop, never before the downtime ends.
func TestFaultResultsRecoveryAfterTheStop(t *testing.T) {
	step := 100 * time.Millisecond
	s := faults.Series{Step: step}
	for i := 0; i < 60; i++ {
		ops := int64(10)
		switch {
		case i == 20:
			ops = 2 // a dip at the fault's start, over by 2.6s (smoothed)
		case i >= 28 && i < 32:
			ops = 0 // then a stop from 2.8s to 3.2s
		}
		s.Points = append(s.Points, faults.Interval{Ops: ops})
	}
	recs := []faults.Record{{
		Event: faults.MustParse("drop=2%@2s+2s")[0], Fired: true, Healed: true,
		Start: 2 * time.Second, End: 4 * time.Second,
	}}
	fr, err := benchkit.FaultResults(recs, s, 6*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f := fr[0]
	if f.DowntimeSec == nil || *f.DowntimeSec < 1.19 || *f.DowntimeSec > 1.21 {
		t.Fatalf("downtime %v, want 1.2s", f.DowntimeSec)
	}
	if f.Recover90 == nil || *f.Recover90 < *f.DowntimeSec {
		t.Fatalf("back to 90%% after %v, before service resumed (%vs)", f.Recover90, *f.DowntimeSec)
	}
}

// A session check over a record that kept only part of what the nodes
// executed says so, with the fraction, in the verdict line and the JSON.
func TestVerifySessionCheckPartial(t *testing.T) {
	tgt := slowFake()
	rec, _, _ := recordedRun(t, tgt)
	ap := func(c, s uint64) check.Applied { return check.Applied{Client: c, Seq: s} }
	for _, tc := range []struct {
		name     string
		recorded uint64
		executed uint64
		partial  bool
	}{
		{"whole", 4, 4, false},
		{"partial", 600_000, 818_178, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := benchkit.Verify(context.Background(), benchkit.Checks{History: rec.History(), ReadBack: readFrom(tgt), Sample: 0.25,
				Applied: func(context.Context, int) (benchkit.AppliedRecord, error) {
					return benchkit.AppliedRecord{Recorded: tc.recorded, Executed: tc.executed, Nodes: []check.NodeApplied{
						{Node: 1, Applied: []check.Applied{ap(7, 1), ap(7, 2)}}, {Node: 2, Applied: []check.Applied{ap(7, 1), ap(7, 2)}},
					}}, nil
				}})
			if v.SessionOrderOK == nil || !*v.SessionOrderOK || v.SessionChecked == nil || len(v.Failures) > 0 {
				t.Fatalf("verdict %+v", v)
			}
			if got := *v.SessionChecked; (got < 1) != tc.partial || (tc.partial && (got < 0.733 || got > 0.734)) {
				t.Fatalf("fraction %v", got)
			}
			if v.LinearizabilitySample != 0.25 {
				t.Fatalf("sample %v", v.LinearizabilitySample)
			}
			var b strings.Builder
			benchkit.WriteReport(&b, &results.Result{Verdict: v, Settings: []byte("{}")})
			line := strings.SplitN(b.String()[strings.Index(b.String(), "verdict"):], "\n", 2)[0]
			t.Log(line)
			if strings.Contains(line, "on PART of the run: 73.3% of the executed commands") != tc.partial ||
				!strings.Contains(line, "a 25.0% sample") {
				t.Fatalf("verdict line %q", line)
			}
			notes := strings.Join(v.Notes, "\n")
			if strings.Contains(notes, "PARTIAL: only 73.3% of the executed commands checked (the nodes recorded 600000 of 818178") != tc.partial {
				t.Fatalf("notes %q", notes)
			}
		})
	}
}
