package faults

import (
	"errors"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

const step = 100 * time.Millisecond

// synth builds a series of n 100 ms intervals; f gives each interval's
// completed ops and their (single) latency.
func synth(n int, f func(i int) (int64, time.Duration)) Series {
	s := Series{Step: step}
	for i := range n {
		ops, lat := f(i)
		h := hdr.New(1000, int64(time.Minute), 2)
		if ops > 0 {
			if err := h.RecordValues(int64(lat), ops); err != nil {
				panic(err)
			}
		}
		s.Points = append(s.Points, Interval{Ops: ops, Latency: h})
	}
	return s
}

// at is the interval index of time t in seconds.
func at(sec float64) int { return int(sec*10 + 0.5) }

func TestStats(t *testing.T) {
	ms := time.Millisecond
	steady := func(i int) (int64, time.Duration) { return 1000, ms }
	tests := []struct {
		name   string
		series Series
		win    []Window
		check  func(t *testing.T, fs []FaultStats)
	}{
		{"leader killed: 1 s down, half speed, back", synth(200, func(i int) (int64, time.Duration) {
			switch {
			case i >= at(10) && i < at(11):
				return 0, 0
			case i >= at(11) && i < at(12):
				return 500, 5 * ms
			case i >= at(15):
				return 1000, 2 * ms
			}
			return steady(i)
		}), []Window{{"kill-leader@10s+5s", 10 * time.Second, 15 * time.Second}}, func(t *testing.T, fs []FaultStats) {
			f := fs[0]
			wantPhase(t, "before", f.Before, 5*time.Second, 10*time.Second, 50000, ms)
			wantPhase(t, "during", f.During, 10*time.Second, 15*time.Second, 35000, ms)
			wantPhase(t, "after", f.After, 15*time.Second, 20*time.Second, 50000, 2*ms)
			if f.During.P99 < 5*ms || f.During.P99 > 5100*time.Microsecond {
				t.Errorf("during p99 %v", f.During.P99)
			}
			if !f.Stopped || !f.Resumed || f.Downtime != time.Second || f.Stalled != time.Second {
				t.Errorf("downtime: %+v", f)
			}
			// The 500 ms average reaches 4500 ops at the span 11.9-12.4 s.
			if !f.Degraded || !f.Recovered || f.Recovery90 != 2400*time.Millisecond {
				t.Errorf("recovery: %v %v %v", f.Degraded, f.Recovered, f.Recovery90)
			}
		}},
		{"delay: slower, never stopped", synth(200, func(i int) (int64, time.Duration) {
			if i >= at(10) && i < at(15) {
				return 500, 10 * ms
			}
			return steady(i)
		}), []Window{{"delay=5ms@10s+5s", 10 * time.Second, 15 * time.Second}}, func(t *testing.T, fs []FaultStats) {
			f := fs[0]
			// 500 ms average back at 4500 ops over 14.9-15.4 s.
			if f.Stopped || f.Downtime != 0 || f.Stalled != 0 {
				t.Errorf("downtime: %+v", f)
			}
			wantPhase(t, "during", f.During, 10*time.Second, 15*time.Second, 25000, 10*ms)
			if !f.Degraded || !f.Recovered || f.Recovery90 != 5400*time.Millisecond {
				t.Errorf("recovery: %v %v %v", f.Degraded, f.Recovered, f.Recovery90)
			}
		}},
		{"harmless fault", synth(200, steady), []Window{{"kill-follower@10s+5s", 10 * time.Second, 15 * time.Second}}, func(t *testing.T, fs []FaultStats) {
			f := fs[0]
			if f.Stopped || f.Degraded || !f.Recovered || f.Recovery90 != 0 || f.Downtime != 0 {
				t.Errorf("%+v", f)
			}
			if !strings.Contains(f.String(), "no downtime") {
				t.Errorf("%v", f)
			}
		}},
		{"never came back", synth(200, func(i int) (int64, time.Duration) {
			if i >= at(10) {
				return 0, 0
			}
			return steady(i)
		}), []Window{{"kill=1@10s", 10 * time.Second, 20 * time.Second}}, func(t *testing.T, fs []FaultStats) {
			f := fs[0]
			if !f.Stopped || f.Resumed || f.Downtime != 10*time.Second || f.Recovered || !f.Degraded {
				t.Errorf("%+v", f)
			}
			if !f.After.Empty {
				t.Errorf("after phase past the end: %+v", f.After)
			}
		}},
		{"fault starts mid-interval", synth(200, func(i int) (int64, time.Duration) {
			if i > at(10) && i < at(11) {
				return 0, 0
			}
			return steady(i)
		}), []Window{{"pause-leader@10.05s+1s", 10050 * time.Millisecond, 11050 * time.Millisecond}}, func(t *testing.T, fs []FaultStats) {
			f := fs[0]
			if !f.Stopped || f.Downtime != 950*time.Millisecond || f.Stalled != 900*time.Millisecond {
				t.Errorf("%+v", f)
			}
		}},
		{"stop late in the fault counts from the fault's start", synth(200, func(i int) (int64, time.Duration) {
			if i >= at(12) && i < at(13) {
				return 0, 0
			}
			return steady(i)
		}), []Window{{"isolate-leader@10s+5s", 10 * time.Second, 15 * time.Second}}, func(t *testing.T, fs []FaultStats) {
			if f := fs[0]; !f.Stopped || f.Downtime != 3*time.Second {
				t.Errorf("%+v", f)
			}
		}},
		{"stop after the fault is not its downtime", synth(200, func(i int) (int64, time.Duration) {
			if i >= at(16) && i < at(17) {
				return 0, 0
			}
			return steady(i)
		}), []Window{{"drop=1%@10s+5s", 10 * time.Second, 15 * time.Second}}, func(t *testing.T, fs []FaultStats) {
			if f := fs[0]; f.Stopped || f.Downtime != 0 || f.Stalled != time.Second {
				t.Errorf("%+v", f)
			}
		}},
		{"neighbouring faults bound each other's phases", synth(300, steady), []Window{
			{"a", 10 * time.Second, 11 * time.Second},
			{"b", 12 * time.Second, 13 * time.Second},
		}, func(t *testing.T, fs []FaultStats) {
			a, b := fs[0], fs[1]
			if a.After.From != 11*time.Second || a.After.To != 12*time.Second {
				t.Errorf("a after [%v, %v]", a.After.From, a.After.To)
			}
			if b.Before.From != 11*time.Second || b.Before.To != 12*time.Second {
				t.Errorf("b before [%v, %v]", b.Before.From, b.Before.To)
			}
			if b.After.From != 13*time.Second || b.After.To != 18*time.Second {
				t.Errorf("b after [%v, %v]", b.After.From, b.After.To)
			}
		}},
		{"no steady state before a fault at the start", synth(100, steady), []Window{{"kill-leader@0s+1s", 0, time.Second}}, func(t *testing.T, fs []FaultStats) {
			f := fs[0]
			if !f.Before.Empty || f.Recovered || f.Degraded {
				t.Errorf("%+v", f)
			}
			if !strings.Contains(f.String(), "before n/a") {
				t.Errorf("%v", f)
			}
		}},
		{"no fault", synth(10, steady), nil, func(t *testing.T, fs []FaultStats) {
			if len(fs) != 0 {
				t.Errorf("%v", fs)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := Stats(tt.series, tt.win, DefaultStatsConfig())
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != len(tt.win) {
				t.Fatalf("%d stats for %d windows", len(fs), len(tt.win))
			}
			tt.check(t, fs)
		})
	}
}

func wantPhase(t *testing.T, name string, p Phase, from, to time.Duration, ops int64, p50 time.Duration) {
	t.Helper()
	if p.Empty || p.From != from || p.To != to || p.Ops != ops {
		t.Errorf("%s: [%v, %v] %d ops, want [%v, %v] %d", name, p.From, p.To, p.Ops, from, to, ops)
	}
	if want := float64(ops) / (to - from).Seconds(); p.Throughput != want {
		t.Errorf("%s: %v ops/s, want %v", name, p.Throughput, want)
	}
	// Two significant digits: within 1%.
	if p.P50 < p50 || p.P50 > p50+p50/100 {
		t.Errorf("%s: p50 %v, want %v", name, p.P50, p50)
	}
}

func TestStatsWithoutHistograms(t *testing.T) {
	s := Series{Step: time.Second, Points: []Interval{{Ops: 10}, {Ops: 0}, {Ops: 10}}}
	fs, err := Stats(s, []Window{{"x", time.Second, 2 * time.Second}}, DefaultStatsConfig())
	if err != nil {
		t.Fatal(err)
	}
	if fs[0].During.P50 != 0 || fs[0].Before.Throughput != 10 || fs[0].Downtime != time.Second {
		t.Fatalf("%+v", fs[0])
	}
}

func TestStatsConfig(t *testing.T) {
	err := StatsConfig{Threshold: 2}.Validate()
	if !errors.Is(err, ErrConfig) || strings.Count(err.Error(), "\n") != 3 {
		t.Fatalf("want 4 problems: %v", err)
	}
	if _, err := Stats(Series{}, nil, DefaultStatsConfig()); !errors.Is(err, ErrConfig) {
		t.Fatalf("zero step: %v", err)
	}
	if err := DefaultRunnerConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteTable(t *testing.T) {
	s := synth(200, func(i int) (int64, time.Duration) {
		if i >= at(10) && i < at(11) {
			return 0, 0
		}
		return 1000, time.Millisecond
	})
	fs, err := Stats(s, []Window{{"kill-leader@10s+5s", 10 * time.Second, 15 * time.Second}, {"kill=1@19s", 19 * time.Second, 20 * time.Second}}, DefaultStatsConfig())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteTable(&b, fs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%q", b.String())
	}
	for _, w := range []string{"kill-leader@10s+5s", "10s-15s", "10000 1ms 1ms", "8000 1ms 1ms", "downtime", "1s"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, b.String())
		}
	}
	if !strings.Contains(lines[2], "never below") {
		t.Errorf("harmless fault row: %s", lines[2])
	}
}

// TestRunnerToStats plays a schedule on the fake cluster, simulates a
// service that stalls for its election time whenever the leader dies, and
// reads the downtime back from the recorded windows.
func TestRunnerToStats(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	c.electAfter = 1500 * time.Millisecond
	r, err := run(t, "kill-leader@10s+5s,kill-follower@20s+5s", c)
	if err != nil {
		t.Fatal(err)
	}
	ws := Windows(r.Records(), 30*time.Second)
	s := synth(300, func(i int) (int64, time.Duration) {
		t := time.Duration(i) * step
		if t >= ws[0].Start && t < ws[0].Start+c.electAfter {
			return 0, 0 // no leader
		}
		return 1000, time.Millisecond
	})
	fs, err := Stats(s, ws, DefaultStatsConfig())
	if err != nil {
		t.Fatal(err)
	}
	if fs[0].Downtime != c.electAfter || !fs[0].Resumed {
		t.Errorf("leader kill: %v", fs[0])
	}
	if fs[1].Stopped || fs[1].Degraded {
		t.Errorf("follower kill: %v", fs[1])
	}
}
