package hist

// The .hgrm format is HdrHistogram's percentile distribution text, the one
// HdrHistogram's Java HistogramLogProcessor prints and its plotters
// (hdrhistogram.github.io/HdrHistogram/plotFiles.html) read:
//
//	       Value     Percentile TotalCount 1/(1-Percentile)
//	<blank line>
//	       0.021 0.000000            1         1.00      <- one row per step
//	       ...                                              (value in ms)
//	       4.211 1.000000       152340          inf
//	#[Mean    =        1.234, StdDeviation   =        0.456]
//	#[Max     =        4.211, Total count    =       152340]
//	#[Buckets =           22, SubBuckets     =         2048]
//
// Rows step through percentiles 5 ticks per half distance (0%, 10%, ...,
// 50%, 55%, ..., 75%, ...), so the tail gets as many rows as the body. The
// library writes the header with tabs; readers split on white space.
// HdrHistogram's Java and JavaScript implementations end the rows with one
// of 3 columns, without 1/(1-Percentile), where the Go library prints
// "inf":
//
//	       4.211 1.000000000000       152340

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// HgrmScale converts nanoseconds to the milliseconds .hgrm files show.
const HgrmScale = 1e6

// ErrHgrm is returned for text that is not a percentile distribution.
var ErrHgrm = errors.New("hist: not an .hgrm percentile distribution")

// WriteHgrm writes h's percentile distribution in milliseconds.
func WriteHgrm(w io.Writer, h *hdr.Histogram) error {
	if _, err := h.PercentilesPrint(w, ticksPerHalfDistance, HgrmScale); err != nil {
		return fmt.Errorf("hist: write hgrm: %w", err)
	}
	return nil
}

// HgrmRow is one row of a percentile distribution.
type HgrmRow struct {
	Value      float64 // milliseconds
	Fraction   float64 // 0..1
	TotalCount int64   // operations at or below Value
}

// Hgrm is a parsed percentile distribution.
type Hgrm struct {
	Rows       []HgrmRow
	Mean       float64 // milliseconds
	StdDev     float64 // milliseconds
	Max        float64 // milliseconds
	TotalCount int64
}

// ValueAt returns the value (ms) of the first row at or above fraction q
// (0..1): the value a reader of the file sees for that percentile.
func (g *Hgrm) ValueAt(q float64) float64 {
	for _, r := range g.Rows {
		if r.Fraction >= q {
			return r.Value
		}
	}
	if len(g.Rows) == 0 {
		return 0
	}
	return g.Rows[len(g.Rows)-1].Value
}

// ParseHgrm reads a percentile distribution written by WriteHgrm or by
// HdrHistogram's other implementations.
func ParseHgrm(r io.Reader) (*Hgrm, error) {
	sc := bufio.NewScanner(r)
	g := &Hgrm{}
	header := false
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		switch {
		case t == "":
			continue
		case !header:
			f := strings.Fields(t)
			if len(f) < 3 || f[0] != "Value" || f[1] != "Percentile" {
				return nil, fmt.Errorf("%w: line %d: no header", ErrHgrm, line)
			}
			header = true
		case strings.HasPrefix(t, "#["):
			if err := g.parseFooter(t); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrHgrm, line, err)
			}
		default:
			f := strings.Fields(t)
			// 3 columns only on the 100% row (Java, JS), checked below.
			if len(f) != 4 && len(f) != 3 {
				return nil, fmt.Errorf("%w: line %d: want 4 columns, got %d", ErrHgrm, line, len(f))
			}
			v, err1 := strconv.ParseFloat(f[0], 64)
			p, err2 := strconv.ParseFloat(f[1], 64)
			c, err3 := strconv.ParseInt(f[2], 10, 64)
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrHgrm, line, err)
			}
			if len(f) == 3 && p != 1 {
				return nil, fmt.Errorf("%w: line %d: 3 columns on a row below 100%%", ErrHgrm, line)
			}
			g.Rows = append(g.Rows, HgrmRow{Value: v, Fraction: p, TotalCount: c})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hist: read hgrm: %w", err)
	}
	if !header {
		return nil, fmt.Errorf("%w: empty", ErrHgrm)
	}
	return g, nil
}

// parseFooter reads "#[Name = v, Name = v]" lines; unknown names are skipped.
func (g *Hgrm) parseFooter(t string) error {
	t = strings.TrimSuffix(strings.TrimPrefix(t, "#["), "]")
	for _, kv := range strings.Split(t, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("footer field %q", kv)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("footer field %q: %v", k, err)
		}
		switch k {
		case "Mean":
			g.Mean = f
		case "StdDeviation":
			g.StdDev = f
		case "Max":
			g.Max = f
		case "Total count":
			g.TotalCount = int64(f)
		}
	}
	return nil
}
