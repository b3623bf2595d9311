package plot

import (
	"fmt"
	"math"
	"strings"

	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// Curve is one run's latency percentile curve.
type Curve struct {
	Name   string
	Points []hist.Point
}

// nines maps a fraction to HdrHistogram's plot axis: log10(1/(1-f)), so
// 90% is 1, 99% is 2, 99.9% is 3. 100% maps to +Inf (drawn at the edge).
func nines(f float64) float64 {
	if f >= 1 {
		return math.Inf(1)
	}
	return math.Log10(1 / (1 - f))
}

// logRatio is max/p50 above which the latency axis is logarithmic: on a
// linear axis the body of such a curve is a flat line on the floor.
const logRatio = 100

// latencyUnit returns the unit latencies up to maxMs are drawn in: ms, or
// s above 1000 ms.
func latencyUnit(maxMs float64) (scale float64, name string) {
	if maxMs > 1000 {
		return 1e9, "s"
	}
	return 1e6, "ms"
}

// percentilePanel draws curves on the log "1 in N" axis; the latency axis
// is logarithmic when the tail is over logRatio times the median.
func percentilePanel(c *canvas, x, y, w, h float64, title string, curves []Curve) {
	maxN, maxV, minV, p50 := 2.0, 0.0, math.Inf(1), math.Inf(1) // show at least up to 99%
	for _, cv := range curves {
		med := math.NaN()
		for _, pt := range cv.Points {
			if n := nines(pt.Fraction); !bad(n) && n > maxN {
				maxN = n
			}
			v := float64(pt.Value) / 1e6
			maxV = math.Max(maxV, v)
			if v > 0 {
				minV = math.Min(minV, v)
			}
			if math.IsNaN(med) && pt.Fraction >= 0.5 {
				med = v
			}
		}
		if !math.IsNaN(med) && med > 0 {
			p50 = math.Min(p50, med)
		}
	}
	maxN = math.Min(math.Ceil(maxN), 7)
	scale, unit := latencyUnit(maxV)
	ylabel := "latency (" + unit + ")"
	p := &panel{c: c, x: x, y: y, w: w, h: h, xmin: 0, xmax: maxN, ymin: 0}
	var yt []tick
	if maxV > 0 && !bad(p50) && maxV/p50 > logRatio {
		yt, p.ymin, p.ymax = logTicks(minV*1e6/scale, maxV*1e6/scale, fmtNum)
		p.ylog = true
		ylabel = "latency (" + unit + ", log scale)"
	} else {
		yt, p.ymax = niceTicks(0, maxV*1e6/scale, 5, fmtNum)
	}
	var xt []tick
	for n := 0.0; n <= maxN; n++ {
		xt = append(xt, tick{at: n, label: ninesLabel(int(n))})
	}
	p.frame(title, "percentile (log scale: 1 in N)", ylabel, xt, yt)
	names := make([]string, len(curves))
	for i, cv := range curves {
		names[i] = cv.Name
		xs := make([]float64, 0, len(cv.Points))
		ys := make([]float64, 0, len(cv.Points))
		for _, pt := range cv.Points {
			n := nines(pt.Fraction)
			if bad(n) || n > maxN {
				n = maxN // the 100% point (the max) sits on the right edge
			}
			xs = append(xs, n)
			ys = append(ys, float64(pt.Value)/scale)
		}
		p.line(xs, ys, color(i), 2)
	}
	if len(curves) > 1 || (len(curves) == 1 && curves[0].Name != "") {
		p.legend(names)
	}
}

// ninesLabel labels the n-th decade: 0%, 90%, 99%, 99.9%, ...
func ninesLabel(n int) string {
	switch n {
	case 0:
		return "0%"
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", n-2) + "%"
}

// RunInfo is what the time panels need of a run besides its series.
type RunInfo struct {
	// End is the measured run's length in seconds: the time axes end
	// there. 0 takes the last point or window.
	End float64
	// Rate is the offered rate of an open loop (ops/s), drawn on the
	// throughput panel; 0 for a closed loop.
	Rate float64
	// FineStep and Fine are the fault runner's finer throughput series
	// (point i covers [i*FineStep, (i+1)*FineStep) s), drawn around the
	// windows, where a second's average would hide an election.
	FineStep float64
	Fine     []float64
}

// fineMargin is how far around a window the fine series is drawn, in
// seconds: the steady state before it and the recovery after.
const fineMargin = 3

// Run draws one run: its percentile curve, throughput over time and the
// tail (p99, p99.9 and max) over time. subtitle (may be empty) goes under
// the title.
//
// windows (fault windows, may be nil) are shaded on both time series.
func Run(title, subtitle string, curve Curve, series []results.Second, windows []Window, info RunInfo) []byte {
	c := newCanvas(900, 1000, title)
	if subtitle != "" {
		c.text(450, 40, "middle", 12, subtitle)
	}
	percentilePanel(c, 80, 75, 780, 365, "latency by percentile", []Curve{curve})
	ts := make([]float64, len(series))
	thr := make([]float64, len(series))
	maxT, maxThr, maxLat := 1.0, info.Rate, 0.0
	for _, v := range info.Fine {
		maxThr = math.Max(maxThr, v)
	}
	for i, s := range series {
		ts[i], thr[i] = s.At, s.Throughput
		maxT = math.Max(maxT, s.At)
		maxThr = math.Max(maxThr, s.Throughput)
		maxLat = math.Max(maxLat, float64(max(s.P99, s.P999, s.Max))/1e6)
	}
	for _, w := range windows {
		maxT = math.Max(maxT, w.End)
	}
	if info.End > 0 {
		maxT = info.End
	}
	timeTicks, tmax := timeAxis(maxT)
	yt, ytop := niceTicks(0, maxThr*1.1, 4, fmtNum) // headroom: a flat line must not hide in the frame
	p := &panel{c: c, x: 80, y: 520, w: 780, h: 160, xmin: 0, xmax: tmax, ymin: 0, ymax: ytop}
	p.shade(windows)
	p.frame("throughput", "time since measuring began (s)", "ops/s", timeTicks, yt)
	if info.Rate > 0 {
		p.hline(info.Rate, "#7f7f7f", "offered "+fmtNum(info.Rate)+" ops/s")
	}
	if info.FineStep > 0 && len(windows) > 0 {
		for _, w := range windows {
			var xs, ys []float64
			for i, v := range info.Fine {
				at := (float64(i) + 0.5) * info.FineStep
				if at >= w.Start-fineMargin && at <= w.End+fineMargin && at <= tmax {
					xs, ys = append(xs, at), append(ys, v)
				}
			}
			p.line(xs, ys, color(4), 1)
		}
		p.legendCols([]string{"per second", "per " + fmtNum(info.FineStep*1000) + " ms around faults"}, []string{color(0), color(4)})
	}
	p.line(ts, thr, color(0), 2)
	scale, unit := latencyUnit(maxLat)
	yt, ytop = niceTicks(0, maxLat*1e6/scale*1.1, 4, fmtNum)
	p = &panel{c: c, x: 80, y: 770, w: 780, h: 160, xmin: 0, xmax: tmax, ymin: 0, ymax: ytop}
	p.shade(windows)
	p.frame("tail latency per second", "time since measuring began (s)", "latency ("+unit+")", timeTicks, yt)
	tails := []struct {
		name string
		get  func(results.Second) int64
	}{
		{"p99", func(s results.Second) int64 { return s.P99 }},
		{"p99.9", func(s results.Second) int64 { return s.P999 }},
		{"max", func(s results.Second) int64 { return s.Max }},
	}
	var names []string
	for i, tl := range tails {
		ys := make([]float64, len(series))
		drawn := false
		for j, s := range series {
			ys[j] = float64(tl.get(s)) / scale
			drawn = drawn || tl.get(s) > 0
		}
		names = append(names, tl.name)
		if drawn {
			p.line(ts, ys, color(i+1), 1.5)
		}
	}
	p.legendFrom(names, 1)
	return c.finish()
}

// Window is a labelled stretch of time (seconds since measuring began),
// such as a fault being injected.
type Window struct {
	Start, End float64
	Label      string
}

// shade draws the windows as translucent bands with their labels; labels
// of windows that start close together go on successive lines so they do
// not overprint.
func (p *panel) shade(ws []Window) {
	line, lastEnd := 0, math.Inf(-1) // lastEnd: where the previous label ends (about 6 px a character)
	for _, w := range ws {
		x0, x1 := p.px(math.Max(w.Start, p.xmin)), p.px(math.Min(w.End, p.xmax))
		if x1 < x0+2 {
			x1 = x0 + 2 // an instant (a kill) still shows
		}
		fmt.Fprintf(&p.c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#ff7f0e" fill-opacity="0.18"/>`+"\n", x0, p.y, x1-x0, p.h)
		if x0 < lastEnd && line < 3 {
			line++
		} else {
			line = 0
		}
		lastEnd = x0 + 3 + 6*float64(len(w.Label))
		p.c.text(x0+3, p.y+12+12*float64(line), "start", 10, w.Label)
	}
}

// Compare overlays several runs' percentile curves.
func Compare(title string, curves []Curve) []byte {
	c := newCanvas(900, 560, title)
	percentilePanel(c, 80, 60, 780, 430, "latency by percentile", curves)
	return c.finish()
}

// SweepPoint is one point of a sweep.
type SweepPoint struct {
	Label      string
	P99        int64 // ns
	Throughput float64
	// Line names the line the point is on (points of one client count,
	// say); points of a line are joined in their order. "" joins nothing.
	Line string
}

// Sweep plots throughput against p99, one labelled dot per point joined
// by a line per SweepPoint.Line, the p99 bound as a vertical line (if > 0)
// and the best point (index best, -1 for none) ringed. Labels are moved
// down past labels already placed, and to the left of their dot where they
// would cross the panel's right edge.
func Sweep(title string, pts []SweepPoint, p99Max int64, best int) []byte {
	c := newCanvas(900, 600, title)
	maxX, maxY := float64(p99Max)/1e6, 0.0
	for _, pt := range pts {
		maxX = math.Max(maxX, float64(pt.P99)/1e6)
		maxY = math.Max(maxY, pt.Throughput)
	}
	xt, xtop := niceTicks(0, maxX*1.05, 8, fmtNum)
	yt, ytop := niceTicks(0, maxY*1.1, 5, fmtNum)
	p := &panel{c: c, x: 80, y: 60, w: 780, h: 460, xmin: 0, xmax: xtop, ymin: 0, ymax: ytop}
	p.frame("throughput against p99 latency", "p99 latency (ms)", "ops/s", xt, yt)
	if p99Max > 0 {
		x := p.px(float64(p99Max) / 1e6)
		fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d62728" stroke-dasharray="6,4"/>`+"\n", x, p.y, x, p.y+p.h)
		c.text(x+4, p.y+14, "start", 11, "p99 bound "+fmtNum(float64(p99Max)/1e6)+" ms")
	}
	var lines []string
	lineOf := map[string]int{}
	for _, pt := range pts {
		if _, ok := lineOf[pt.Line]; !ok {
			lineOf[pt.Line] = len(lines)
			lines = append(lines, pt.Line)
		}
	}
	for i, name := range lines {
		if name == "" {
			continue
		}
		var xs, ys []float64
		for _, pt := range pts {
			if pt.Line == name {
				xs, ys = append(xs, float64(pt.P99)/1e6), append(ys, pt.Throughput)
			}
		}
		p.line(xs, ys, color(i), 1.5)
	}
	var placed []labelBox
	for i, pt := range pts {
		x, y := float64(pt.P99)/1e6, pt.Throughput
		p.dot(x, y, color(lineOf[pt.Line]), 4)
		if i == best {
			fmt.Fprintf(&c.b, `<circle cx="%.1f" cy="%.1f" r="9" fill="none" stroke="#2ca02c" stroke-width="2"/>`+"\n", p.px(x), p.py(y))
		}
		b := placeLabel(p, p.px(x), p.py(y), pt.Label, placed)
		placed = append(placed, b)
		c.text(b.x0, b.y1-2, "start", 10, pt.Label)
	}
	if len(lines) > 1 || (len(lines) == 1 && lines[0] != "") {
		p.legend(lines)
	}
	return c.finish()
}

// labelBox is a label's extent in pixels (about 6 px a character, 12 high).
type labelBox struct{ x0, y0, x1, y1 float64 }

func (a labelBox) overlaps(b labelBox) bool {
	return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1
}

// placeLabel puts a label beside the dot at (x, y): right of it, or left
// where it would cross the right edge, then down in steps past any label
// placed before it (up to 6 steps), never below the panel.
func placeLabel(p *panel, x, y float64, label string, placed []labelBox) labelBox {
	w := 6 * float64(len(label))
	x0 := x + 7
	if x0+w > p.x+p.w {
		x0 = x - 7 - w
	}
	b := labelBox{x0: x0, y0: y - 18, x1: x0 + w, y1: y - 6}
	if b.y0 < p.y {
		b.y0, b.y1 = y+6, y+18
	}
	for step := 0; step < 6; step++ {
		clash := false
		for _, o := range placed {
			if b.overlaps(o) {
				clash = true
				break
			}
		}
		if !clash || b.y1+12 > p.y+p.h {
			break
		}
		b.y0, b.y1 = b.y0+12, b.y1+12
	}
	return b
}
