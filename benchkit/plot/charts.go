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

// percentilePanel draws curves on the log "1 in N" axis.
func percentilePanel(c *canvas, x, y, w, h float64, title string, curves []Curve) {
	maxN, maxV := 2.0, 0.0 // show at least up to 99%
	for _, cv := range curves {
		for _, pt := range cv.Points {
			if n := nines(pt.Fraction); !bad(n) && n > maxN {
				maxN = n
			}
			maxV = math.Max(maxV, float64(pt.Value)/1e6)
		}
	}
	maxN = math.Min(math.Ceil(maxN), 7)
	yt, ytop := niceTicks(0, maxV, 5, fmtNum)
	p := &panel{c: c, x: x, y: y, w: w, h: h, xmin: 0, xmax: maxN, ymin: 0, ymax: ytop}
	var xt []tick
	for n := 0.0; n <= maxN; n++ {
		xt = append(xt, tick{at: n, label: ninesLabel(int(n))})
	}
	p.frame(title, "percentile (log scale: 1 in N)", "latency (ms)", xt, yt)
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
			ys = append(ys, float64(pt.Value)/1e6)
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

// Run draws one run: its percentile curve, throughput over time and p99
// over time. subtitle (may be empty) goes under the title.
//
// windows (fault windows, may be nil) are shaded on both time series.
func Run(title, subtitle string, curve Curve, series []results.Second, windows []Window) []byte {
	c := newCanvas(900, 1000, title)
	if subtitle != "" {
		c.text(450, 40, "middle", 12, subtitle)
	}
	percentilePanel(c, 80, 75, 780, 365, "latency by percentile", []Curve{curve})
	ts := make([]float64, len(series))
	thr := make([]float64, len(series))
	p99 := make([]float64, len(series))
	maxT, maxThr, maxP99 := 1.0, 0.0, 0.0
	for i, s := range series {
		ts[i], thr[i], p99[i] = s.At, s.Throughput, float64(s.P99)/1e6
		maxT = math.Max(maxT, s.At)
		maxThr = math.Max(maxThr, s.Throughput)
		maxP99 = math.Max(maxP99, p99[i])
	}
	for _, w := range windows {
		maxT = math.Max(maxT, w.End)
	}
	timeTicks, tmax := niceTicks(0, maxT, 8, fmtNum)
	yt, ytop := niceTicks(0, maxThr*1.1, 4, fmtNum) // headroom: a flat line must not hide in the frame
	p := &panel{c: c, x: 80, y: 520, w: 780, h: 160, xmin: 0, xmax: tmax, ymin: 0, ymax: ytop}
	p.shade(windows)
	p.frame("throughput", "time since measuring began (s)", "ops/s", timeTicks, yt)
	p.line(ts, thr, color(0), 2)
	yt, ytop = niceTicks(0, maxP99*1.1, 4, fmtNum)
	p = &panel{c: c, x: 80, y: 770, w: 780, h: 160, xmin: 0, xmax: tmax, ymin: 0, ymax: ytop}
	p.shade(windows)
	p.frame("p99 latency per second", "time since measuring began (s)", "p99 (ms)", timeTicks, yt)
	p.line(ts, p99, color(1), 2)
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
}

// Sweep plots throughput against p99, one labelled dot per point, the
// p99 bound as a vertical line (if > 0) and the best point (index best, -1
// for none) ringed.
func Sweep(title string, pts []SweepPoint, p99Max int64, best int) []byte {
	c := newCanvas(900, 600, title)
	maxX, maxY := float64(p99Max)/1e6, 0.0
	for _, pt := range pts {
		maxX = math.Max(maxX, float64(pt.P99)/1e6)
		maxY = math.Max(maxY, pt.Throughput)
	}
	xt, xtop := niceTicks(0, maxX, 8, fmtNum)
	yt, ytop := niceTicks(0, maxY, 5, fmtNum)
	p := &panel{c: c, x: 80, y: 60, w: 780, h: 460, xmin: 0, xmax: xtop, ymin: 0, ymax: ytop}
	p.frame("throughput against p99 latency", "p99 latency (ms)", "ops/s", xt, yt)
	if p99Max > 0 {
		x := p.px(float64(p99Max) / 1e6)
		fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d62728" stroke-dasharray="6,4"/>`+"\n", x, p.y, x, p.y+p.h)
		c.text(x+4, p.y+14, "start", 11, "p99 bound "+fmtNum(float64(p99Max)/1e6)+" ms")
	}
	for i, pt := range pts {
		x, y := float64(pt.P99)/1e6, pt.Throughput
		p.dot(x, y, color(0), 4)
		if i == best {
			fmt.Fprintf(&c.b, `<circle cx="%.1f" cy="%.1f" r="9" fill="none" stroke="#2ca02c" stroke-width="2"/>`+"\n", p.px(x), p.py(y))
		}
		c.text(p.px(x)+7, p.py(y)-6, "start", 10, pt.Label)
	}
	return c.finish()
}
