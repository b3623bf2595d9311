package plot

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// wellFormed parses doc fully as XML and checks its root is <svg> and it
// carries the marker.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	root := ""
	elems := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			elems++
		}
	}
	if root != "svg" || elems < 5 {
		t.Fatalf("root %q with %d elements", root, elems)
	}
	if !bytes.Contains(doc[:min(len(doc), 512)], []byte(results.SVGMarker)) {
		t.Fatal("no marker in the first 512 bytes")
	}
}

func curve(name string, scale time.Duration) Curve {
	h := hist.New()
	for i := 1; i <= 10000; i++ {
		hist.Record(h, time.Duration(i%97+1)*scale+time.Duration(i/9990)*100*scale)
	}
	return Curve{Name: name, Points: hist.Curve(h)}
}

func TestChartsAreWellFormedSVG(t *testing.T) {
	series := []results.Second{{At: 1, Throughput: 1000, P99: 2e6}, {At: 2, Throughput: 1200, P99: 3e6}}
	for name, doc := range map[string][]byte{
		"run":           Run("3 nodes <sync> & \"quoted\"", "p50 1ms", curve("", time.Microsecond), series, []Window{{0.5, 1.5, "kill-leader"}, {1.8, 1.8, "restart"}}, RunInfo{}),
		"run empty":     Run("empty", "", Curve{}, nil, nil, RunInfo{}),
		"compare":       Compare("a vs b", []Curve{curve("a", time.Microsecond), curve("b<2>", 2*time.Microsecond)}),
		"sweep":         Sweep("sweep", []SweepPoint{{"bs=1", 5e6, 1000, "c50"}, {"bs=8", 9e6, 5000, "c50"}, {"bs=64", 20e6, 9000, "c50"}}, 10e6, 1),
		"sweep no best": Sweep("sweep", nil, 0, -1),
	} {
		t.Run(name, func(t *testing.T) { wellFormed(t, doc) })
	}
}

func TestNinesAxis(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {5, "99.999%"}} {
		if got := ninesLabel(tc.n); got != tc.want {
			t.Errorf("ninesLabel(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct{ f, want float64 }{{0, 0}, {0.9, 1}, {0.99, 2}, {0.999, 3}} {
		if got := nines(tc.f); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("nines(%g) = %g, want %g", tc.f, got, tc.want)
		}
	}
	if !strings.Contains(string(Compare("x", []Curve{curve("a", time.Millisecond)})), "99.9%") {
		t.Error("a 10000-sample curve has no 99.9% tick")
	}
}

// TestPercentileAxisScales: a tail over 100 times the median gets a log
// latency axis, and latencies above 1000 ms are drawn in seconds.
func TestPercentileAxisScales(t *testing.T) {
	tail := func(body, max time.Duration) Curve {
		h := hist.New()
		for i := 0; i < 1000; i++ {
			hist.Record(h, body)
		}
		hist.Record(h, max)
		return Curve{Points: hist.Curve(h)}
	}
	for _, tc := range []struct {
		name      string
		c         Curve
		want, not string
	}{
		{"narrow", tail(time.Millisecond, 20*time.Millisecond), "latency (ms)", "log scale)"},
		{"long tail", tail(time.Millisecond, 500*time.Millisecond), "latency (ms, log scale)", ""},
		{"seconds", tail(time.Second, 3*time.Second), "latency (s)", "latency (ms"},
	} {
		doc := Compare("x", []Curve{tc.c})
		wellFormed(t, doc)
		if !bytes.Contains(doc, []byte(tc.want)) || (tc.not != "" && bytes.Contains(doc, []byte(tc.not))) {
			t.Errorf("%s: want %q and not %q in the axis labels", tc.name, tc.want, tc.not)
		}
	}
}

// TestRunTimePanels: the time axes end at the run's end; the tail panel
// draws p99.9 and max beside p99; an open loop's offered rate is drawn.
func TestRunTimePanels(t *testing.T) {
	ticks, end := timeAxis(6.3)
	if end != 6.3 || ticks[len(ticks)-1].at > 6.3 {
		t.Fatalf("time axis to %v, last tick %v: want it to end at 6.3", end, ticks[len(ticks)-1].at)
	}
	series := []results.Second{{At: 1, Throughput: 900, P99: 2e6, P999: 3e6, Max: 9e6}, {At: 2, Throughput: 1000, P99: 2e6, P999: 4e6, Max: 8e6}}
	doc := Run("r", "", curve("", time.Microsecond), series, nil, RunInfo{End: 2, Rate: 1000})
	wellFormed(t, doc)
	for _, want := range []string{">p99.9<", ">max<", "offered 1k ops/s"} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("run plot lacks %q", want)
		}
	}
}

// TestRunFineSeriesAroundFaults: the fault runner's fine series is drawn
// around a window only.
func TestRunFineSeriesAroundFaults(t *testing.T) {
	fine := make([]float64, 200) // 20 s at 100 ms
	for i := range fine {
		fine[i] = 1000
	}
	series := []results.Second{{At: 1, Throughput: 1000, P99: 2e6}, {At: 20, Throughput: 1000, P99: 2e6}}
	doc := Run("r", "", curve("", time.Microsecond), series, []Window{{10, 12, "kill-leader"}}, RunInfo{End: 20, FineStep: 0.1, Fine: fine})
	wellFormed(t, doc)
	if !bytes.Contains(doc, []byte("per 100 ms around faults")) {
		t.Fatal("no fine series legend")
	}
	// The fine line's points: those within 3 s of [10, 12], 80 of them.
	var fineLine string
	for _, l := range strings.Split(string(doc), "\n") {
		if strings.Contains(l, "<polyline") && strings.Contains(l, Palette[4]) {
			fineLine = l
		}
	}
	if n := strings.Count(fineLine, ","); n < 75 || n > 85 {
		t.Fatalf("fine line has %d points, want the ~80 within 3 s of the window", n)
	}
}
