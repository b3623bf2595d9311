package hist

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// within reports whether got is within HdrHistogram's 3-significant-digit
// precision (0.1%) of want, plus one unit of the lowest discernible value.
func within(got, want int64) bool {
	diff := math.Abs(float64(got - want))
	return diff <= float64(want)*0.001+float64(Lowest)
}

func TestPercentilesKnownDistributions(t *testing.T) {
	tests := []struct {
		name   string
		values func(record func(time.Duration))
		want   Percentiles // Count, P50, P90, P99, P999, Max checked
	}{
		{
			name: "uniform 1..100000 µs",
			values: func(rec func(time.Duration)) {
				for i := 1; i <= 100000; i++ {
					rec(time.Duration(i) * time.Microsecond)
				}
			},
			want: Percentiles{Count: 100000, P50: 50e6, P90: 90e6, P99: 99e6, P999: 99.9e6, P9999: 99.99e6, Max: 100e6},
		},
		{
			name: "bimodal: 99% at 1ms, 1% at 100ms",
			values: func(rec func(time.Duration)) {
				for i := 0; i < 9900; i++ {
					rec(time.Millisecond)
				}
				for i := 0; i < 100; i++ {
					rec(100 * time.Millisecond)
				}
			},
			want: Percentiles{Count: 10000, P50: 1e6, P90: 1e6, P99: 1e6, P999: 100e6, P9999: 100e6, Max: 100e6},
		},
		{
			name: "constant 250µs",
			values: func(rec func(time.Duration)) {
				for i := 0; i < 1000; i++ {
					rec(250 * time.Microsecond)
				}
			},
			want: Percentiles{Count: 1000, P50: 250e3, P90: 250e3, P99: 250e3, P999: 250e3, P9999: 250e3, Max: 250e3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New()
			tc.values(func(d time.Duration) { Record(h, d) })
			got := Summarize(h)
			if got.Count != tc.want.Count {
				t.Fatalf("count %d, want %d", got.Count, tc.want.Count)
			}
			for _, c := range []struct {
				name      string
				got, want int64
			}{
				{"p50", got.P50, tc.want.P50}, {"p90", got.P90, tc.want.P90},
				{"p99", got.P99, tc.want.P99}, {"p99.9", got.P999, tc.want.P999},
				{"p99.99", got.P9999, tc.want.P9999}, {"max", got.Max, tc.want.Max},
			} {
				if !within(c.got, c.want) {
					t.Errorf("%s = %d ns, want %d ns (±0.1%%)", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestRecordClamps(t *testing.T) {
	h := New()
	if Record(h, 2*time.Hour) != true {
		t.Fatal("2h not reported as clamped")
	}
	if Record(h, -time.Second) {
		t.Fatal("negative reported as clamped")
	}
	if h.TotalCount() != 2 || !within(h.Max(), Highest) {
		t.Fatalf("count %d max %d", h.TotalCount(), h.Max())
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	h := New()
	for i := 1; i <= 5000; i++ {
		Record(h, time.Duration(i*i)*time.Microsecond/10)
	}
	s, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Equals(h) {
		t.Fatalf("decoded histogram differs: %+v vs %+v", Summarize(g), Summarize(h))
	}
	if _, err := Decode("not base64!"); err == nil {
		t.Fatal("garbage decoded")
	}
}

func TestHgrmParsesBack(t *testing.T) {
	h := New()
	// A long-tailed distribution: most values small, a few large.
	for i := 1; i <= 20000; i++ {
		d := time.Duration(200+i%300) * time.Microsecond
		if i%100 == 0 {
			d = time.Duration(i) * time.Microsecond
		}
		Record(h, d)
	}
	var buf bytes.Buffer
	if err := WriteHgrm(&buf, h); err != nil {
		t.Fatal(err)
	}
	g, err := ParseHgrm(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if g.TotalCount != h.TotalCount() {
		t.Fatalf("total %d, want %d", g.TotalCount, h.TotalCount())
	}
	if len(g.Rows) < 20 || g.Rows[len(g.Rows)-1].Fraction != 1 {
		t.Fatalf("rows %d, last %+v", len(g.Rows), g.Rows[len(g.Rows)-1])
	}
	// Every row says how many operations took at most its value: that
	// count must be exactly what the histogram holds at or below the value
	// (rows are printed at 1 µs precision, the histogram's lowest unit).
	bars := h.Distribution()
	countAtOrBelow := func(ms float64) int64 {
		v := int64(math.Round(ms * HgrmScale))
		var n int64
		for _, b := range bars {
			if b.To <= v+Lowest/2 {
				n += b.Count
			}
		}
		return n
	}
	for _, r := range g.Rows {
		if got := countAtOrBelow(r.Value); got != r.TotalCount {
			t.Errorf("row %.6f at %.3f ms: file says %d at or below, histogram %d", r.Fraction, r.Value, r.TotalCount, got)
		}
		if float64(r.TotalCount) < r.Fraction*float64(h.TotalCount())-0.5 {
			t.Errorf("row %.6f: only %d of %d at or below", r.Fraction, r.TotalCount, h.TotalCount())
		}
	}
	// A reader of the file finds each standard percentile between the two
	// rows around it, the upper one never below the histogram's own answer.
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := float64(h.ValueAtPercentile(q*100)) / HgrmScale
		got := g.ValueAt(q)
		if got+0.001 < want {
			t.Errorf("p%g: file %.3f ms below histogram %.3f ms", q*100, got, want)
		}
		prev := 0.0
		for _, r := range g.Rows {
			if r.Fraction >= q {
				break
			}
			prev = r.Value
		}
		if prev > want+0.001 {
			t.Errorf("p%g: row below it already at %.3f ms, histogram %.3f ms", q*100, prev, want)
		}
	}
	if math.Abs(g.Max-float64(h.Max())/HgrmScale) > 0.001 {
		t.Errorf("max %.3f, want %.3f", g.Max, float64(h.Max())/HgrmScale)
	}
}

func TestParseHgrmRejects(t *testing.T) {
	for _, in := range []string{"", "hello world\n", " Value Percentile TotalCount 1/(1-Percentile)\n\n1.0 0.5\n", "{\"json\":1}"} {
		if _, err := ParseHgrm(bytes.NewReader([]byte(in))); err == nil {
			t.Errorf("ParseHgrm(%q) accepted", in)
		}
	}
}

// TestRecorderConcurrent records from writers taking turns while a reader
// takes intervals; no value may be lost or counted twice.
func TestRecorderConcurrent(t *testing.T) {
	r := NewRecorder()
	const writers, per = 4, 20000
	var wg sync.WaitGroup
	var mu sync.Mutex // writers take turns on one Recorder, as documented
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				mu.Lock()
				r.Record(int64(1000 + i))
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	total := New()
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		default:
		}
		total.Merge(r.Interval())
	}
	total.Merge(r.Interval())
	if total.TotalCount() != writers*per {
		t.Fatalf("recorded %d, want %d", total.TotalCount(), writers*per)
	}
}

func BenchmarkRecorderRecord(b *testing.B) {
	r := NewRecorder()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Record(int64(1000 + i%100000))
	}
}

func TestSubtract(t *testing.T) {
	before, after := New(), New()
	for i := 1; i <= 100; i++ {
		Record(before, time.Duration(i)*time.Millisecond)
		Record(after, time.Duration(i)*time.Millisecond)
	}
	for i := 0; i < 50; i++ {
		Record(after, 500*time.Millisecond)
	}
	d, err := Subtract(after, before)
	if err != nil {
		t.Fatal(err)
	}
	if d.TotalCount() != 50 || !within(d.ValueAtPercentile(1), 500e6) || !within(d.Max(), 500e6) {
		t.Fatalf("difference: %+v", Summarize(d))
	}
	if _, err := Subtract(before, after); !errors.Is(err, ErrSubtract) {
		t.Fatalf("backwards: %v", err)
	}
	if _, err := Subtract(after, hdr.New(1, 1000, 2)); !errors.Is(err, ErrSubtract) {
		t.Fatalf("geometry: %v", err)
	}
}

// TestHgrmParsesJavaFormat: HdrHistogram's Java (and JS) percentile output
// ends with a 3-column 100% row; a 3-column row elsewhere is refused.
func TestHgrmParsesJavaFormat(t *testing.T) {
	java := `       Value     Percentile TotalCount 1/(1-Percentile)

       0.021 0.000000000000          1           1.00
       1.234 0.500000000000         50           2.00
       4.211 0.990000000000         99         100.00
       4.211 1.000000000000        100
#[Mean    =        1.234, StdDeviation   =        0.456]
#[Max     =        4.211, Total count    =          100]
#[Buckets =           22, SubBuckets     =         2048]
`
	g, err := ParseHgrm(strings.NewReader(java))
	if err != nil {
		t.Fatalf("ParseHgrm(Java output): %v", err)
	}
	if len(g.Rows) != 4 || g.Rows[3].Fraction != 1 || g.Rows[3].TotalCount != 100 || g.ValueAt(1) != 4.211 {
		t.Fatalf("rows = %+v", g.Rows)
	}
	bad := strings.Replace(java, "1.234 0.500000000000         50           2.00", "1.234 0.500000000000         50", 1)
	if _, err := ParseHgrm(strings.NewReader(bad)); !errors.Is(err, ErrHgrm) {
		t.Fatalf("3 columns at 50%%: err = %v, want ErrHgrm", err)
	}
}
