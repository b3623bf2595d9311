package benchkit

import (
	"time"

	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/faults"
)

// FaultStep returns the resolution of the fault windows' series for a
// measured run of length d: 100 ms (an election is a few hundred), coarser
// for long runs so that at most about 1200 intervals are kept.
func FaultStep(d time.Duration) time.Duration {
	return max(100*time.Millisecond, (d / 1200).Round(100*time.Millisecond))
}

// FaultResults turns the Runner's records and the run's series into the
// result file's faults: for each fault that took effect, its window (from
// the origin of the measured run), the phases before, during and after,
// its downtime and the time until throughput was back to 90% of the steady
// state; a fault that could not be injected is listed with its error, one
// due after the run ended is left out.
func FaultResults(recs []faults.Record, s faults.Series, runEnd time.Duration) ([]results.Fault, error) {
	stats, err := faults.Stats(s, faults.Windows(recs, runEnd), faults.DefaultStatsConfig())
	if err != nil {
		return nil, err
	}
	var out []results.Fault
	k := 0
	for _, r := range recs {
		if !r.Event.Kind.IsFault() {
			continue
		}
		f := results.Fault{Spec: r.Event.String(), Layer: r.Layer}
		for _, t := range r.Targets {
			f.Targets = append(f.Targets, uint64(t))
		}
		if len(f.Targets) == 1 {
			f.Node = f.Targets[0]
		}
		for _, st := range r.Steps {
			f.Steps = append(f.Steps, results.FaultStep{Name: st.Name, Node: uint64(st.Node), AtSec: st.At.Seconds()})
		}
		if r.Err != nil {
			f.Error = r.Err.Error()
		}
		if !r.Fired && r.Err == nil {
			continue // due after the run ended (or it was interrupted)
		}
		if !r.Fired {
			f.NotInjected = true
			f.StartSec = r.Event.At.Seconds()
			out = append(out, f)
			continue
		}
		st := stats[k]
		k++
		f.StartSec, f.EndSec = st.Start.Seconds(), st.End.Seconds()
		down := 0.0
		if st.Stopped {
			down = st.Downtime.Seconds()
		}
		f.DowntimeSec = &down
		f.NeverResumed = st.Stopped && !st.Resumed
		f.StalledSec = st.Stalled.Seconds()
		if st.Stopped && st.Resumed && st.Recovered && st.Recovery90 < st.Downtime {
			// faults.Stats stops at the first recovery from a dip; a
			// stop that came after it (a 2% loss stalling the log a
			// second in) is the one that counts: throughput is back
			// only after service resumed.
			st.Recovery90, st.Recovered = recoveryAfter(s, st.Start+st.Downtime, st.Start, st.Before.Throughput)
		}
		switch {
		case !st.Degraded && !st.Before.Empty:
			zero := 0.0
			f.Recover90 = &zero
		case st.Degraded && st.Recovered:
			v := st.Recovery90.Seconds()
			f.Recover90 = &v
		default:
			f.NotRecovered = true
		}
		f.Before, f.During, f.After = window(st.Before), window(st.During), window(st.After)
		out = append(out, f)
	}
	return out, nil
}

// FineSeriesOf is the throughput of s for the result file.
func FineSeriesOf(s faults.Series) *results.FineSeries {
	f := &results.FineSeries{StepS: s.Step.Seconds(), OpsPerS: make([]float64, len(s.Points))}
	for i, p := range s.Points {
		f.OpsPerS[i] = float64(p.Ops) / s.Step.Seconds()
	}
	return f
}

func window(p faults.Phase) *results.Window {
	if p.Empty {
		return nil
	}
	w := &results.Window{StartSec: p.From.Seconds(), EndSec: p.To.Seconds(), Throughput: p.Throughput}
	w.Latency.Count = p.Ops
	w.Latency.P50, w.Latency.P99 = int64(p.P50), int64(p.P99)
	return w
}

// recoveryAfter returns the time from start until the smoothed throughput
// (the default StatsConfig's span and threshold) is back to the threshold
// of steady, looking from `from` on; false if it never is.
func recoveryAfter(s faults.Series, from, start time.Duration, steady float64) (time.Duration, bool) {
	cfg := faults.DefaultStatsConfig()
	span := max(1, int(cfg.Smooth/s.Step))
	want := cfg.Threshold * steady * s.Step.Seconds() * float64(span)
	i0 := int(from / s.Step)
	var sum int64
	for k := i0; k < len(s.Points); k++ {
		sum += s.Points[k].Ops
		if k-i0 >= span {
			sum -= s.Points[k-span].Ops
		}
		if k-i0 >= span-1 && float64(sum) >= want {
			return max(0, time.Duration(k+1)*s.Step-start), true
		}
	}
	return 0, false
}
