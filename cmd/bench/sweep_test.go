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
