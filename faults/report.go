package faults

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteTable writes fs as the report's fault table: one row per fault with
// its window, the three phases' throughput and p50/p99, its downtime and the
// time until throughput was back to the threshold.
func WriteTable(w io.Writer, fs []FaultStats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\twindow\tbefore ops/s p50 p99\tduring ops/s p50 p99\tafter ops/s p50 p99\tdowntime\tback to 90%")
	for _, f := range fs {
		down := "none"
		switch {
		case f.Stopped && f.Resumed:
			down = dur(f.Downtime)
		case f.Stopped:
			down = ">" + dur(f.Downtime) + " (never resumed)"
		}
		back := "never below"
		switch {
		case f.Before.Empty:
			back = "n/a (no steady state)"
		case f.Degraded && f.Recovered:
			back = dur(f.Recovery90)
		case f.Degraded:
			back = "not recovered"
		}
		fmt.Fprintf(tw, "%s\t%s-%s\t%s\t%s\t%s\t%s\t%s\n", f.Label, dur(f.Start), dur(f.End),
			phaseCell(f.Before), phaseCell(f.During), phaseCell(f.After), down, back)
	}
	return tw.Flush()
}

func phaseCell(p Phase) string {
	if p.Empty {
		return "n/a"
	}
	return fmt.Sprintf("%.0f %s %s", p.Throughput, dur(p.P50), dur(p.P99))
}

// dur rounds d for a table: milliseconds above a second, microseconds
// below a millisecond.
func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
