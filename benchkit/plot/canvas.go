package plot

import (
	"encoding/xml"
	"fmt"
	"math"
	"strings"

	"github.com/mpaxos/mpaxos/benchkit/results"
)

// Palette is the colour of the n-th series.
var Palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

func color(i int) string { return Palette[i%len(Palette)] }

// canvas accumulates one SVG document.
type canvas struct {
	b    strings.Builder
	w, h float64
}

func newCanvas(w, h float64, title string) *canvas {
	c := &canvas{w: w, h: h}
	fmt.Fprintf(&c.b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n"+
		results.SVGMarker+"\n", w, h, w, h)
	fmt.Fprintf(&c.b, `<rect width="%g" height="%g" fill="white"/>`+"\n", w, h)
	c.text(w/2, 22, "middle", 15, title)
	return c
}

func (c *canvas) text(x, y float64, anchor string, size float64, s string) {
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%g">%s</text>`+"\n", x, y, anchor, size, esc(s))
}

func (c *canvas) finish() []byte {
	c.b.WriteString("</svg>\n")
	return []byte(c.b.String())
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// tick is one labelled axis position, in data units.
type tick struct {
	at    float64
	label string
}

// panel is one chart area of a canvas, mapping data to pixels.
type panel struct {
	c                      *canvas
	x, y, w, h             float64 // plot area in pixels
	xmin, xmax, ymin, ymax float64
	// ylog draws y on a log10 scale (ymin > 0; smaller values sit on
	// the bottom edge).
	ylog bool
}

func (p *panel) px(v float64) float64 {
	if p.xmax == p.xmin {
		return p.x
	}
	return p.x + (v-p.xmin)/(p.xmax-p.xmin)*p.w
}

func (p *panel) py(v float64) float64 {
	if p.ymax == p.ymin {
		return p.y + p.h
	}
	if p.ylog {
		lo, hi := math.Log10(p.ymin), math.Log10(p.ymax)
		return p.y + p.h - (math.Log10(math.Max(v, p.ymin))-lo)/(hi-lo)*p.h
	}
	return p.y + p.h - (v-p.ymin)/(p.ymax-p.ymin)*p.h
}

// hline draws a dashed horizontal line at y with a label at its right end.
func (p *panel) hline(y float64, col, label string) {
	py := p.py(y)
	fmt.Fprintf(&p.c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6,4"/>`+"\n", p.x, py, p.x+p.w, py, col)
	p.c.text(p.x+p.w-4, py-4, "end", 10, label)
}

// logTicks returns decade ticks covering [lo, hi] (both > 0) and the
// axis's bounds.
func logTicks(lo, hi float64, format func(float64) string) ([]tick, float64, float64) {
	a, b := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if b <= a {
		b = a + 1
	}
	var ts []tick
	for e := a; e <= b; e++ {
		v := math.Pow(10, e)
		ts = append(ts, tick{at: v, label: format(v)})
	}
	return ts, math.Pow(10, a), math.Pow(10, b)
}

// timeAxis returns ticks for a time axis from 0 that ends exactly at end
// (the run's end), not at the next round number past it.
func timeAxis(end float64) ([]tick, float64) {
	ts, _ := niceTicks(0, end, 8, fmtNum)
	for len(ts) > 1 && ts[len(ts)-1].at > end+1e-9 {
		ts = ts[:len(ts)-1]
	}
	return ts, end
}

// frame draws the axes, grid, tick labels and titles.
func (p *panel) frame(title, xlabel, ylabel string, xt, yt []tick) {
	c := p.c
	fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", p.x, p.y, p.w, p.h)
	for _, t := range xt {
		x := p.px(t.at)
		fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, p.y, x, p.y+p.h)
		c.text(x, p.y+p.h+15, "middle", 11, t.label)
	}
	for _, t := range yt {
		y := p.py(t.at)
		fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", p.x, y, p.x+p.w, y)
		c.text(p.x-5, y+4, "end", 11, t.label)
	}
	c.text(p.x+p.w/2, p.y-8, "middle", 13, title)
	c.text(p.x+p.w/2, p.y+p.h+32, "middle", 12, xlabel)
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		p.x-48, p.y+p.h/2, p.x-48, p.y+p.h/2, esc(ylabel))
}

// line draws a polyline through data points (NaN/Inf points are skipped).
func (p *panel) line(xs, ys []float64, col string, width float64) {
	var pts strings.Builder
	for i := range xs {
		if bad(xs[i]) || bad(ys[i]) {
			continue
		}
		fmt.Fprintf(&pts, "%.1f,%.1f ", p.px(xs[i]), p.py(ys[i]))
	}
	if pts.Len() == 0 {
		return
	}
	fmt.Fprintf(&p.c.b, `<polyline fill="none" stroke="%s" stroke-width="%g" points="%s"/>`+"\n", col, width, strings.TrimSpace(pts.String()))
}

func (p *panel) dot(x, y float64, col string, r float64) {
	fmt.Fprintf(&p.c.b, `<circle cx="%.1f" cy="%.1f" r="%g" fill="%s"/>`+"\n", p.px(x), p.py(y), r, col)
}

// legend draws names with their colours in the panel's top-left corner.
func (p *panel) legend(names []string) { p.legendFrom(names, 0) }

// legendFrom is legend with the colours starting at palette index first.
func (p *panel) legendFrom(names []string, first int) {
	cols := make([]string, len(names))
	for i := range names {
		cols[i] = color(first + i)
	}
	p.legendCols(names, cols)
}

// legendCols is legend with a colour given for each name.
func (p *panel) legendCols(names, cols []string) {
	for i, n := range names {
		y := p.y + 16 + float64(i)*16
		fmt.Fprintf(&p.c.b, `<rect x="%.1f" y="%.1f" width="12" height="4" fill="%s"/>`+"\n", p.x+10, y-6, cols[i])
		p.c.text(p.x+28, y, "start", 11, n)
	}
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// niceTicks returns about n ticks from 0 (or min) to at least max with a
// step of 1, 2 or 5 times a power of ten, and the axis maximum.
func niceTicks(min, max float64, n int, format func(float64) string) ([]tick, float64) {
	if !(max > min) {
		max = min + 1
	}
	raw := (max - min) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	top := math.Ceil(max/step) * step
	var ts []tick
	for v := min; v <= top+step/2; v += step {
		ts = append(ts, tick{at: v, label: format(v)})
	}
	return ts, top
}

// fmtNum prints an axis number without trailing noise.
func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%gM", round3(v/1e6))
	case math.Abs(v) >= 1e3:
		return fmt.Sprintf("%gk", round3(v/1e3))
	}
	return fmt.Sprintf("%g", round3(v))
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
