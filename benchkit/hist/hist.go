package hist

import (
	"errors"
	"fmt"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Geometry of every benchmark histogram. All share it so that any two merge
// without loss and encoded histograms from different runs compare bucket for
// bucket.
const (
	// Lowest is the lowest discernible latency in nanoseconds (1 µs): the
	// loopback round trip is about 20 µs, so finer buckets buy nothing.
	Lowest int64 = 1000
	// Highest is the highest trackable latency in nanoseconds (1 h). Larger
	// values are recorded as Highest (see Record).
	Highest int64 = int64(time.Hour)
	// SigFigs is the number of significant decimal digits kept (0.1%).
	SigFigs = 3
)

// ErrDecode is returned when an encoded histogram cannot be read back.
var ErrDecode = errors.New("hist: cannot decode histogram")

// New returns an empty histogram with the benchmark geometry
// (about 190 KiB of counters).
func New() *hdr.Histogram { return hdr.New(Lowest, Highest, SigFigs) }

// Record adds one latency to h. Negative durations (a clock step) count as
// zero; durations above Highest are recorded as Highest and reported by
// clamped=true so the caller can count them.
func Record(h *hdr.Histogram, d time.Duration) (clamped bool) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if v > Highest {
		v, clamped = Highest, true
	}
	if err := h.RecordValue(v); err != nil {
		// Unreachable with the benchmark geometry: v is within [0, Highest].
		panic(fmt.Sprintf("hist: record %d: %v", v, err))
	}
	return clamped
}

// Percentiles summarizes a histogram: the figures every report prints.
// Latencies are in nanoseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Min   int64   `json:"min_ns"`
	Mean  float64 `json:"mean_ns"`
	P50   int64   `json:"p50_ns"`
	P90   int64   `json:"p90_ns"`
	P99   int64   `json:"p99_ns"`
	P999  int64   `json:"p99_9_ns"`
	P9999 int64   `json:"p99_99_ns"`
	Max   int64   `json:"max_ns"`
}

// Summarize returns h's percentiles. An empty histogram gives zeros.
func Summarize(h *hdr.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: h.TotalCount(),
		Min:   h.Min(),
		Mean:  h.Mean(),
		P50:   h.ValueAtPercentile(50),
		P90:   h.ValueAtPercentile(90),
		P99:   h.ValueAtPercentile(99),
		P999:  h.ValueAtPercentile(99.9),
		P9999: h.ValueAtPercentile(99.99),
		Max:   h.Max(),
	}
}

// Encode returns h in HdrHistogram's V2 compressed, base64 form: the form
// HdrHistogram's log tools and every language's implementation read.
func Encode(h *hdr.Histogram) (string, error) {
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("hist: encode: %w", err)
	}
	return string(b), nil
}

// Decode reads a histogram written by Encode.
func Decode(s string) (*hdr.Histogram, error) {
	h, err := hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	return h, nil
}

// Point is one point of a percentile curve: the fraction of operations
// (0..1) at or below Value nanoseconds.
type Point struct {
	Fraction float64
	Value    int64
}

// Curve returns h's percentile curve at HdrHistogram's usual resolution
// (5 ticks per half distance), the points its plotters draw.
func Curve(h *hdr.Histogram) []Point {
	if h.TotalCount() == 0 {
		return nil
	}
	br := h.CumulativeDistributionWithTicks(ticksPerHalfDistance)
	pts := make([]Point, 0, len(br))
	for _, b := range br {
		pts = append(pts, Point{Fraction: b.Quantile / 100, Value: b.ValueAt})
	}
	return pts
}

// ticksPerHalfDistance is the resolution of .hgrm files and curves: the
// number of rows between 0% and 50%, between 50% and 75%, and so on.
const ticksPerHalfDistance = 5

// ErrSubtract is returned when one histogram cannot be subtracted from
// another: different geometry, or a count that went down (the source was
// reset or restarted in between).
var ErrSubtract = errors.New("hist: cannot subtract histograms")

// Subtract returns after minus before: the values recorded between two
// snapshots of a cumulative histogram (a node's per-stage histogram read
// before and after the measured window).
func Subtract(after, before *hdr.Histogram) (*hdr.Histogram, error) {
	a, b := after.Export(), before.Export()
	if a.LowestTrackableValue != b.LowestTrackableValue || a.HighestTrackableValue != b.HighestTrackableValue ||
		a.SignificantFigures != b.SignificantFigures || len(a.Counts) != len(b.Counts) {
		return nil, fmt.Errorf("%w: different geometry", ErrSubtract)
	}
	for i, c := range b.Counts {
		if a.Counts[i] < c {
			return nil, fmt.Errorf("%w: count %d fell from %d to %d", ErrSubtract, i, c, a.Counts[i])
		}
		a.Counts[i] -= c
	}
	return hdr.Import(a), nil
}
