package faults

import (
	"errors"
	"fmt"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Interval is one step of a run's time series.
type Interval struct {
	// Ops is how many operations completed in the interval.
	Ops int64
	// Latency holds their latencies (in Series.Unit), or nil. Every
	// non-nil histogram of a Series must share one geometry, so that they
	// merge without loss.
	Latency *hdr.Histogram
}

// Series is a run's completed operations, interval by interval: Points[i]
// covers [i*Step, (i+1)*Step) from the run's origin (the Runner's origin).
type Series struct {
	// Step is the interval length; 100 ms resolves an election well. Must
	// be > 0.
	Step time.Duration
	// Unit is what one histogram count stands for. The default (0) is a
	// nanosecond.
	Unit   time.Duration
	Points []Interval
}

// Window is a fault's time span, from the run's origin.
type Window struct {
	// Label names the fault in the report (the event's text).
	Label      string
	Start, End time.Duration
}

// Windows returns the windows of the faults that took effect, in schedule
// order; an unhealed fault's window closes at runEnd.
func Windows(recs []Record, runEnd time.Duration) []Window {
	var ws []Window
	for _, r := range recs {
		if !r.Fired || !r.Event.Kind.IsFault() {
			continue
		}
		start, end := r.Window(runEnd)
		ws = append(ws, Window{Label: r.Event.String(), Start: start, End: end})
	}
	return ws
}

// StatsConfig configures Stats.
type StatsConfig struct {
	// Steady is how much time before a fault is taken as its steady state
	// (less if the previous fault ended later). The default is 5 s. Must
	// be > 0.
	Steady time.Duration
	// Recovery is how much time after a fault heals is its recovery phase
	// (less if the next fault starts earlier). The default is 5 s. Must be
	// > 0.
	Recovery time.Duration
	// Smooth is the moving-average span over which throughput is compared
	// with the steady state, so that one slow interval is not taken for a
	// dip. The default is 500 ms. Must be > 0 (at least one Step is used).
	Smooth time.Duration
	// Threshold is the fraction of steady throughput that counts as
	// recovered. The default is 0.9. Must be in (0, 1].
	Threshold float64
}

// DefaultStatsConfig returns the default StatsConfig.
func DefaultStatsConfig() StatsConfig {
	return StatsConfig{Steady: 5 * time.Second, Recovery: 5 * time.Second, Smooth: 500 * time.Millisecond, Threshold: 0.9}
}

// Validate reports every problem with c.
func (c StatsConfig) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Steady", c.Steady}, {"Recovery", c.Recovery}, {"Smooth", c.Smooth}} {
		if f.d <= 0 {
			errs = append(errs, fmt.Errorf("%w: %s %v <= 0", ErrConfig, f.name, f.d))
		}
	}
	if !(c.Threshold > 0 && c.Threshold <= 1) {
		errs = append(errs, fmt.Errorf("%w: Threshold %v outside (0, 1]", ErrConfig, c.Threshold))
	}
	return errors.Join(errs...)
}

// Phase is the throughput and latency of one part of a fault's timeline.
type Phase struct {
	// From and To bound it (whole intervals, so they may extend up to one
	// Step beyond the fault's own times).
	From, To time.Duration
	// Ops completed; Throughput in ops/s.
	Ops        int64
	Throughput float64
	// P50 and P99 of the latencies of the operations completed in it (0
	// without histograms).
	P50, P99 time.Duration
	// Empty: no interval fell in it (e.g. no steady state between two
	// faults); its figures mean nothing.
	Empty bool
}

// FaultStats is how one fault affected the service.
type FaultStats struct {
	Window
	// Before is the steady state, During the fault, After the recovery.
	Before, During, After Phase
	// Stopped: operations stopped completing at some point during the
	// fault. Downtime is from the fault's start until the first operation
	// completed after that stop (resolution: one Step); 0 when service
	// never stopped. Resumed is false when it stopped for good (Downtime
	// then runs to the end of the series).
	Stopped, Resumed bool
	Downtime         time.Duration
	// Stalled is the total time without any completed operation from the
	// fault's start to the end of its recovery phase.
	Stalled time.Duration
	// Degraded: throughput (smoothed over StatsConfig.Smooth) fell below
	// Threshold times steady state. Recovery90 is from the fault's start
	// until it was back above (0 if it never fell); Recovered is false when
	// it never came back or there was no steady state to compare with.
	Degraded, Recovered bool
	Recovery90          time.Duration
}

func (f FaultStats) String() string {
	s := fmt.Sprintf("%s [%v, %v]: before %s, during %s, after %s",
		f.Label, f.Start.Round(time.Millisecond), f.End.Round(time.Millisecond), f.Before, f.During, f.After)
	switch {
	case !f.Stopped:
		s += "; no downtime"
	case f.Resumed:
		s += fmt.Sprintf("; downtime %v", f.Downtime)
	default:
		s += fmt.Sprintf("; down until the end (%v)", f.Downtime)
	}
	switch {
	case !f.Degraded:
		s += "; throughput never below threshold"
	case f.Recovered:
		s += fmt.Sprintf("; back to steady throughput after %v", f.Recovery90)
	default:
		s += "; throughput did not recover"
	}
	return s
}

func (p Phase) String() string {
	if p.Empty {
		return "n/a"
	}
	return fmt.Sprintf("%.0f ops/s p50 %v p99 %v", p.Throughput, p.P50, p.P99)
}

// Stats splits the series around each fault window: steady state before,
// during, recovery after; and measures downtime and the time until
// throughput is back to cfg.Threshold of the steady state.
func Stats(s Series, ws []Window, cfg StatsConfig) ([]FaultStats, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if s.Step <= 0 {
		return nil, fmt.Errorf("%w: series step %v <= 0", ErrConfig, s.Step)
	}
	if s.Unit == 0 {
		s.Unit = time.Nanosecond
	}
	n := len(s.Points)
	// Interval index helpers: floor for the interval holding t, ceil for
	// the first interval starting at or after t.
	floor := func(t time.Duration) int { return clamp(int(t/s.Step), 0, n) }
	ceil := func(t time.Duration) int { return clamp(int((t+s.Step-1)/s.Step), 0, n) }
	steps := func(d time.Duration) int { return max(1, int(d/s.Step)) }
	smooth := steps(cfg.Smooth)

	out := make([]FaultStats, 0, len(ws))
	for wi, w := range ws {
		f := FaultStats{Window: w}
		iS := floor(w.Start)
		iE := max(ceil(w.End), iS+1)
		iE = min(iE, n)
		// Steady state: up to Steady before the interval holding the
		// start, but not before an earlier fault ended.
		b0 := max(0, iS-steps(cfg.Steady))
		a1 := min(n, iE+steps(cfg.Recovery))
		for oi, o := range ws {
			if oi == wi {
				continue
			}
			if o.Start < w.Start {
				b0 = max(b0, min(ceil(o.End), iS))
			}
			if o.Start >= w.End {
				a1 = min(a1, max(iE, floor(o.Start)))
			}
		}
		f.Before = s.phase(b0, iS)
		f.During = s.phase(iS, iE)
		f.After = s.phase(iE, a1)

		// Downtime: the first empty interval that begins during the
		// fault, and the first busy one after it.
		for j := iS; j < iE; j++ {
			if s.Points[j].Ops != 0 {
				continue
			}
			f.Stopped = true
			k := j + 1
			for k < n && s.Points[k].Ops == 0 {
				k++
			}
			f.Resumed = k < n
			f.Downtime = max(0, time.Duration(k)*s.Step-w.Start)
			break
		}
		for j := iS; j < a1; j++ {
			if s.Points[j].Ops == 0 {
				f.Stalled += s.Step
			}
		}

		// Back to Threshold of steady throughput: the moving average
		// ending at interval k, from the first full span after the
		// start.
		if !f.Before.Empty && f.Before.Throughput > 0 {
			want := cfg.Threshold * f.Before.Throughput * s.Step.Seconds() * float64(smooth)
			var sum int64
			for k := iS; k < n; k++ {
				sum += s.Points[k].Ops
				if k-iS >= smooth {
					sum -= s.Points[k-smooth].Ops
				}
				if k-iS < smooth-1 {
					continue
				}
				below := float64(sum) < want
				if !f.Degraded && k >= a1 {
					break // a dip after the recovery phase is not this fault's
				}
				if below {
					f.Degraded = true
				}
				if f.Degraded && !below {
					f.Recovered = true
					f.Recovery90 = max(0, time.Duration(k+1)*s.Step-w.Start)
					break
				}
			}
			if !f.Degraded {
				f.Recovered = true
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// phase sums intervals [from, to).
func (s Series) phase(from, to int) Phase {
	p := Phase{From: time.Duration(from) * s.Step, To: time.Duration(to) * s.Step, Empty: to <= from}
	if p.Empty {
		return p
	}
	var merged *hdr.Histogram
	for _, pt := range s.Points[from:to] {
		p.Ops += pt.Ops
		if pt.Latency == nil {
			continue
		}
		if merged == nil {
			h := pt.Latency
			merged = hdr.New(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
		}
		merged.Merge(pt.Latency)
	}
	p.Throughput = float64(p.Ops) / (p.To - p.From).Seconds()
	if merged != nil && merged.TotalCount() > 0 {
		p.P50 = time.Duration(merged.ValueAtQuantile(50)) * s.Unit
		p.P99 = time.Duration(merged.ValueAtQuantile(99)) * s.Unit
	}
	return p
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
