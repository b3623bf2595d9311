package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

func TestSweepClients(t *testing.T) {
	useFake(t, &fakeTarget{})
	base := filepath.Join(t.TempDir(), "sw")
	code, out, errOut := bench(t, "sweep", "-cluster", "127.0.0.1:1", "-clients", "1,4", "-conns", "1",
		"-ops", "200", "-warmup", "0", "-p99-max", "1h", "-quiet", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Logf("sweep output:\n%s", out)
	b, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var sw benchkit.Sweep
	if err := json.Unmarshal(b, &sw); err != nil {
		t.Fatal(err)
	}
	if len(sw.Rows) != 2 || sw.Rows[0].Clients != 1 || sw.Rows[1].Clients != 4 {
		t.Fatalf("rows %+v", sw.Rows)
	}
	best := 0
	for i, r := range sw.Rows {
		if _, err := os.Stat(r.File); err != nil {
			t.Fatalf("point file: %v", err)
		}
		if r.Throughput > sw.Rows[best].Throughput {
			best = i
		}
	}
	if !sw.Rows[best].Best || sw.Rows[1-best].Best {
		t.Fatalf("best not marked on the higher throughput: %+v", sw.Rows)
	}
	if !strings.Contains(out, "*bs0-pl0-c") {
		t.Fatalf("table does not mark the best point:\n%s", out)
	}
	wellFormedSVG(t, base+".svg")
}

func TestSweepMarkBestRespectsBound(t *testing.T) {
	sw := benchkit.NewSweep("x", nil, 10e6, 1)
	sw.Rows = []benchkit.SweepRow{
		{Label: "fast-but-slow-tail", Throughput: 9000, P99: 20e6},
		{Label: "ok", Throughput: 5000, P99: 8e6},
		{Label: "errors", Throughput: 7000, P99: 5e6, Errors: 3},
		{Label: "slow", Throughput: 1000, P99: 1e6},
	}
	if got := sw.MarkBest(); got != 1 {
		t.Fatalf("best %d, want 1 (%+v)", got, sw.Rows)
	}
	sw.P99MaxNs = 1
	if got := sw.MarkBest(); got != -1 {
		t.Fatalf("best %d with an impossible bound", got)
	}
}

// TestSweepBestNotPickedInsideNoise: a point whose runs the noise test
// cannot tell from the best's is marked tied, one clearly slower is not;
// with one run per point the table says the noise is unknown.
func TestSweepBestNotPickedInsideNoise(t *testing.T) {
	row := func(label string, tput ...float64) benchkit.SweepRow {
		r := benchkit.SweepRow{Label: label}
		for _, v := range tput {
			r.Add(label, &results.Result{Throughput: v})
		}
		return r
	}
	sw := benchkit.NewSweep("x", nil, 0, 5)
	sw.Rows = []benchkit.SweepRow{
		row("a", 100, 104, 98, 103, 101),
		row("b", 102, 99, 105, 100, 101.5), // the highest median, inside a's noise
		row("c", 80, 82, 79, 81, 83),
	}
	if got := sw.MarkBest(); got != 1 {
		t.Fatalf("best %d, want 1", got)
	}
	if !sw.Rows[0].Tied || sw.Rows[2].Tied {
		t.Fatalf("tied: a %v c %v, want a tied with the best and c not", sw.Rows[0].Tied, sw.Rows[2].Tied)
	}
	var b strings.Builder
	sw.WriteTable(&b)
	if !strings.Contains(b.String(), "~a") || !strings.Contains(b.String(), "not told apart") {
		t.Fatalf("table:\n%s", b.String())
	}
	one := benchkit.NewSweep("y", nil, 0, 1)
	one.Rows = []benchkit.SweepRow{row("a", 100), row("b", 101)}
	one.MarkBest()
	b.Reset()
	one.WriteTable(&b)
	if one.Rows[0].Tied || !strings.Contains(b.String(), "noise is unknown") {
		t.Fatalf("one run per point:\n%s", b.String())
	}
}

// TestSweepCountInterleaves: -count runs every point once per round, and
// the rows hold every run; compare of two points' runs judges the noise.
func TestSweepCountInterleaves(t *testing.T) {
	useFake(t, &fakeTarget{})
	base := filepath.Join(t.TempDir(), "sw")
	code, out, errOut := bench(t, "sweep", "-cluster", "127.0.0.1:1", "-clients", "1,4", "-conns", "1",
		"-ops", "100", "-warmup", "0", "-count", "2", "-quiet", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var order []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "=== sweep point") {
			order = append(order, strings.TrimPrefix(l, "=== sweep point "))
		}
	}
	want := []string{"1/2: bs0-pl0-c1, run 1/2", "2/2: bs0-pl0-c4, run 1/2", "1/2: bs0-pl0-c1, run 2/2", "2/2: bs0-pl0-c4, run 2/2"}
	if strings.Join(order, "|") != strings.Join(want, "|") {
		t.Fatalf("order %q, want %q", order, want)
	}
	b, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var sw benchkit.Sweep
	if err := json.Unmarshal(b, &sw); err != nil {
		t.Fatal(err)
	}
	if len(sw.Rows) != 2 || len(sw.Rows[0].Files) != 2 || sw.Count != 2 {
		t.Fatalf("rows %+v", sw.Rows)
	}
	args := append([]string{"compare", "-out", base + "-cmp"}, sw.Rows[0].Files...)
	args = append(args, sw.Rows[1].Files...)
	code, out, errOut = bench(t, append(args, "-force")...)
	if code != 0 {
		t.Fatalf("compare exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "(2 runs)") || !strings.Contains(out, "cannot show a difference") {
		t.Fatalf("compare of repeated runs:\n%s", out)
	}
}

// TestRunCount: -count N writes NAME-r1 ... NAME-rN and prints the median
// and spread.
func TestRunCount(t *testing.T) {
	useFake(t, &fakeTarget{})
	base := filepath.Join(t.TempDir(), "rep")
	code, out, errOut := bench(t, "-cluster", "127.0.0.1:1", "-clients", "2", "-conns", "1",
		"-ops", "100", "-warmup", "0", "-count", "3", "-quiet", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for i := 1; i <= 3; i++ {
		if _, err := os.Stat(base + "-r" + strconv.Itoa(i) + ".json"); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(out, "3 runs of "+base) || !strings.Contains(out, "ops/s") {
		t.Fatalf("no repeat summary:\n%s", out)
	}
	if code, _, _ := bench(t, "-count", "0"); code != 2 {
		t.Fatalf("-count 0: exit %d, want 2", code)
	}
}

// The knee is the highest rate that met the bound with every lower rate of
// its configuration meeting it too; a configuration whose lowest rate
// missed has none.
func TestSweepKnee(t *testing.T) {
	sw := benchkit.NewSweep("x", nil, 10e6, 1)
	a := benchkit.Point{Clients: 200}
	b := benchkit.Point{Clients: 50}
	row := func(p benchkit.Point, rate int, p99 int64, errs int64) benchkit.SweepRow {
		p.Rate = rate
		return benchkit.SweepRow{Point: p, Label: p.Label(), Throughput: float64(rate), P99: p99, Errors: errs}
	}
	sw.Rows = []benchkit.SweepRow{
		row(a, 5000, 2e6, 0), row(a, 10000, 9e6, 0), row(a, 20000, 30e6, 0),
		row(a, 40000, 8e6, 0), // within the bound again, past a miss: noise, not the knee
		row(b, 5000, 1e6, 2),  // errors: no knee
		row(b, 10000, 1e6, 0),
	}
	sw.MarkBest()
	if len(sw.Knees) != 2 {
		t.Fatalf("knees %+v, want one per configuration", sw.Knees)
	}
	if k := sw.Knees[0]; k.Config != a || k.Rate != 10000 || k.P99 != 9e6 {
		t.Errorf("knee of %v: %+v, want 10000 ops/s at p99 9ms", a, k)
	}
	if k := sw.Knees[1]; k.Config != b || k.Rate != 0 {
		t.Errorf("knee of %v: %+v, want none", b, k)
	}
	var out strings.Builder
	sw.WriteTable(&out)
	if !strings.Contains(out.String(), "open-loop knee (batch-size default, pipeline default, 200 clients): 10,000 ops/s offered") {
		t.Errorf("table does not report the knee:\n%s", out.String())
	}
}

// A rate sweep stops raising a configuration's rate at its first rate past
// the bound, and refuses rates that do not rise.
func TestSweepRatesStopAtBound(t *testing.T) {
	useFake(t, &fakeTarget{})
	base := filepath.Join(t.TempDir(), "sw")
	code, out, errOut := bench(t, "sweep", "-cluster", "127.0.0.1:1", "-clients", "2", "-conns", "1", "-rates", "100,200,400",
		"-duration", "300ms", "-warmup", "0", "-p99-max", "1ns", "-quiet", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "skipping bs0-pl0-c2-r200") || !strings.Contains(out, "skipping bs0-pl0-c2-r400") {
		t.Fatalf("the sweep did not stop at the first rate past the bound:\n%s", out)
	}
	b, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var sw benchkit.Sweep
	if err := json.Unmarshal(b, &sw); err != nil {
		t.Fatal(err)
	}
	if len(sw.Rows) != 1 || sw.Rows[0].Rate != 100 || len(sw.Knees) != 1 || sw.Knees[0].Rate != 0 {
		t.Fatalf("rows %+v knees %+v, want the one rate run and no knee", sw.Rows, sw.Knees)
	}

	code, _, errOut = bench(t, "sweep", "-cluster", "127.0.0.1:1", "-rates", "200,100", "-ops", "10")
	if code != 2 || !strings.Contains(errOut, "-rates") || !strings.Contains(errOut, "must rise") {
		t.Fatalf("falling rates: exit %d, %q", code, errOut)
	}
}
