package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/results"
)

// fakeTarget is a test double for the client library: every operation
// succeeds after a short sleep; every failEvery-th fails.
type fakeTarget struct {
	n         atomic.Int64
	failEvery int64
	onOp      func(n int64) // called with each operation's number, if set
}

func (f *fakeTarget) Session() benchkit.Session { return fakeSession{f} }
func (f *fakeTarget) Close() error              { return nil }

type fakeSession struct{ f *fakeTarget }

func (s fakeSession) Do(ctx context.Context, op benchkit.Op) (benchkit.Result, error) {
	n := s.f.n.Add(1)
	if s.f.onOp != nil {
		s.f.onOp(n)
	}
	time.Sleep(20 * time.Microsecond)
	if s.f.failEvery > 0 && n%s.f.failEvery == 0 {
		return benchkit.Result{}, io.ErrUnexpectedEOF
	}
	return benchkit.Result{Found: op.Kind == benchkit.OpGet}, nil
}

// useFake routes the benchmark to a fake target for the test.
func useFake(t *testing.T, f *fakeTarget) {
	old := dialTarget
	dialTarget = func(context.Context, []string, int, *tls.Config) (benchkit.Target, error) { return f, nil }
	t.Cleanup(func() { dialTarget = old })
}

func bench(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = realMain(context.Background(), append([]string{"bench"}, args...), &o, &e)
	return code, o.String(), e.String()
}

func TestBadFlagsOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-clients", "0"}, "-clients 0: must be at least 1"},
		{[]string{"-dist", "pareto"}, "want uniform or zipf"},
		{[]string{"-nosuch"}, "flag provided but not defined: -nosuch"},
		{[]string{"-ops", "10", "-duration", "5s"}, "not both"},
		{[]string{"-read-ratio", "2", "-keys", "0"}, "-keys 0: must be 1.."},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-duration", "ten"}, "invalid value"},
		{[]string{"compare", "only-one.json"}, "at least two"},
		{[]string{"sweep", "-batch-size", "1,x"}, "not a non-negative integer"},
		{[]string{"sweep", "-cluster", "127.0.0.1:1", "-batch-size", "1,8"}, "-batch-size: cannot be swept on a running cluster"},
		{[]string{"sweep"}, "nothing to sweep"},
		{[]string{"sweep", "-clients", "1,1", "-cluster", "127.0.0.1:1"}, "-clients: lists 1 twice"},
		{[]string{"-faults", "kill-leader@1s,explode@2s,drop=200%@3s"}, `-faults: event 2 "explode@2s"`},
		{[]string{"-cluster", "127.0.0.1:1", "-cluster-admin", "127.0.0.1:2", "-faults", "kill-leader@1s"}, "-faults: kill-leader@1s: cannot kill or pause the nodes of a running cluster"},
		{[]string{"-faults", "drop=1%@1s", "-value-size", "8"}, "-value-size 8: the correctness checks need at least 16 bytes"},
		{[]string{"-faults", "kill=4@1s", "-nodes", "3", "-node-bin", "/nonexistent"}, `-faults: event "kill=4@1s": node 4 is not a member`},
		{[]string{"-faults", "kill-leader@20s", "-duration", "3s", "-node-bin", "/nonexistent"}, "kill-leader@20s fires at 20s, not before the end"},
		{[]string{"-rate", "Inf", "-cluster", "127.0.0.1:1"}, "-rate +Inf: must be a finite"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := bench(t, tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, errOut)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "bench: ") || !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr %q: want one line mentioning %q", errOut, tc.want)
			}
			if out != "" {
				t.Fatalf("stdout %q", out)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"compare", "-h"}, {"sweep", "-h"}} {
		code, out, _ := bench(t, args...)
		if code != 0 || !strings.Contains(out, "usage: bench") || !strings.Contains(out, "-out") {
			t.Fatalf("%v: exit %d, stdout %q", args, code, out)
		}
	}
	// The fault schedule's syntax is in bench -h.
	if _, out, _ := bench(t, "-h"); !strings.Contains(out, "partition-leader@20s+5s") || !strings.Contains(out, "-faults") || !strings.Contains(out, "-check") {
		t.Fatalf("bench -h lacks the fault schedule syntax:\n%s", out)
	}
}

func wellFormedSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}

// TestRunWritesResults runs the whole command against a fake target (a
// running "cluster" whose client is the fake) and checks the files.
func TestRunWritesResults(t *testing.T) {
	f := &fakeTarget{failEvery: 50}
	useFake(t, f)
	base := filepath.Join(t.TempDir(), "results", "run1")
	code, out, errOut := bench(t, "-cluster", "127.0.0.1:1", "-clients", "8", "-conns", "2",
		"-duration", "1500ms", "-warmup", "200ms", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Logf("output of the fake-target run:\n%s", out)
	for _, want := range []string{"ops/s", "closed loop", "throughput", "p99.99", "errors", "per-stage latency not fetched",
		"verdict", "not checked", "null mode not measured", base + ".json"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	r, err := results.Load(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops == 0 || r.Errors == 0 || r.Throughput <= 0 || r.Mode != "closed" || r.Durability != "sync" {
		t.Fatalf("result %+v", r)
	}
	if c := r.CPU; c == nil || c.BenchSec <= 0 || c.NodesSec != 0 || !strings.Contains(c.Note, "not local") {
		t.Fatalf("cpu %+v: want the load generator's time and a note that the nodes are not local", c)
	}
	if !strings.Contains(out, "nodes not measured + bench") {
		t.Errorf("report lacks the cpu line")
	}
	if len(r.Command) < 2 || r.Machine.GoVersion == "" || r.Machine.Cores == 0 || len(r.Series) == 0 {
		t.Fatalf("command %v machine %+v series %d", r.Command, r.Machine, len(r.Series))
	}
	h, err := hist.Decode(r.Histogram)
	if err != nil || h.TotalCount() != r.Ops {
		t.Fatalf("histogram %v: %d values for %d ops", err, h.TotalCount(), r.Ops)
	}
	hf, err := os.Open(base + ".hgrm")
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	g, err := hist.ParseHgrm(hf)
	if err != nil || g.TotalCount != r.Ops {
		t.Fatalf("hgrm %v, total %d", err, g.TotalCount)
	}
	wellFormedSVG(t, base+".svg")

	// Running again onto the same name overwrites our own files (and one
	// client does not trip over the default of 4 connections)...
	if code, _, errOut := bench(t, "-cluster", "127.0.0.1:1", "-clients", "1", "-ops", "100", "-warmup", "0", "-out", base, "-quiet"); code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, errOut)
	}
	// ...but never someone else's.
	other := filepath.Join(filepath.Dir(base), "notes")
	if err := os.WriteFile(other+".json", []byte(`{"my":"notes"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = bench(t, "-cluster", "127.0.0.1:1", "-ops", "10", "-out", other)
	if code != 1 || !strings.Contains(errOut, "not a bench result; refusing to overwrite") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	if b, _ := os.ReadFile(other + ".json"); string(b) != `{"my":"notes"}` {
		t.Fatal("foreign file was modified")
	}
}

func TestCompareFixtures(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join("testdata", "a.json"), filepath.Join("testdata", "b.json")
	// a and b have different client counts: refused unless forced.
	code, _, errOut := bench(t, "compare", a, b, "-out", filepath.Join(dir, "cmp"))
	if code != 1 || !strings.Contains(errOut, "different client counts: testdata/a has 4, testdata/b has 16") {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	code, out, errOut := bench(t, "compare", "-force", a, b, "-out", filepath.Join(dir, "cmp"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, re := range []string{`clients\s+4\s+16`, `nodes\s+1 external\s+1 external`, `batch size\s+\?\s+\?`,
		`pipeline\s+\?\s+\?`, `commit\s+795c3bd47e3c\s+795c3bd47e3c`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("compare table lacks %s:\n%s", re, out)
		}
	}
	ra, _ := results.Load(a)
	rb, _ := results.Load(b)
	for _, want := range []string{"ops/s", "p99.99", "a", "b",
		benchkit.FormatNs(ra.Latency.P99), benchkit.FormatNs(rb.Latency.P99),
		ratio(rb.Throughput / ra.Throughput), ratio(float64(rb.Latency.P99) / float64(ra.Latency.P99))} {
		if !strings.Contains(out, want) {
			t.Errorf("compare output lacks %q:\n%s", want, out)
		}
	}
	wellFormedSVG(t, filepath.Join(dir, "cmp.svg"))

	nosync := filepath.Join("testdata", "c_nosync.json")
	code, _, errOut = bench(t, "compare", a, nosync, "-out", filepath.Join(dir, "cmp2"))
	if code != 1 || !strings.Contains(errOut, "different durability modes") {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	if code, _, errOut = bench(t, "compare", "-force", a, nosync, "-out", filepath.Join(dir, "cmp2")); code != 0 {
		t.Fatalf("-force: exit %d: %s", code, errOut)
	}
	if code, _, errOut = bench(t, "compare", a, filepath.Join("testdata", "not_result.json")); code != 1 || !strings.Contains(errOut, "not a bench result") {
		t.Fatalf("foreign file: exit %d stderr %q", code, errOut)
	}
	stub := filepath.Join(dir, "stub.json")
	os.WriteFile(stub, []byte(`{"kind":"mpaxos-bench-result","format":1}`), 0o644)
	if code, out, errOut = bench(t, "compare", "-force", a, stub); code != 1 || !strings.Contains(errOut, "not a complete result") || out != "" {
		t.Fatalf("stub: exit %d stderr %q stdout %q", code, errOut, out)
	}
	// Open loop against closed loop, and node counts, are refused too.
	ra2, rb2 := *ra, *ra
	rb2.Mode, rb2.Cluster.Nodes, rb2.Name = "open", 3, "other"
	if err := benchkit.CheckComparable([]*results.Result{&ra2, &rb2}, false); err == nil ||
		!strings.Contains(err.Error(), "open loop against closed loop") || !strings.Contains(err.Error(), "different node counts") {
		t.Fatalf("open vs closed, 1 vs 3 nodes: %v", err)
	}
	if err := benchkit.CheckComparable([]*results.Result{&ra2, &rb2}, true); err != nil {
		t.Fatalf("-force: %v", err)
	}
}

func ratio(v float64) string { return fmt.Sprintf("(%.2fx)", v) }

// TestInterruptWritesPartialResults: Ctrl-C in the middle of a run ends it
// with status 130 and still writes the results, marked interrupted.
func TestInterruptWritesPartialResults(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeTarget{onOp: func(n int64) {
		if n == 2000 {
			cancel()
		}
	}}
	useFake(t, f)
	base := filepath.Join(t.TempDir(), "partial")
	var o, e bytes.Buffer
	code := realMain(ctx, []string{"bench", "-cluster", "127.0.0.1:1", "-clients", "4", "-conns", "1",
		"-duration", "1h", "-warmup", "0", "-out", base, "-quiet"}, &o, &e)
	if code != 130 || !strings.Contains(e.String(), "interrupted") {
		t.Fatalf("exit %d stderr %q", code, e.String())
	}
	r, err := results.Load(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || r.Ops < 1000 || !strings.Contains(o.String(), "INTERRUPTED") {
		t.Fatalf("interrupted %v ops %d\n%s", r.Interrupted, r.Ops, o.String())
	}
}

func TestOpenLoopReport(t *testing.T) {
	useFake(t, &fakeTarget{})
	base := filepath.Join(t.TempDir(), "open")
	code, out, errOut := bench(t, "-cluster", "127.0.0.1:1", "-clients", "4", "-conns", "1", "-rate", "2000",
		"-ops", "300", "-warmup", "0", "-dist", "zipf", "-read-ratio", "0.5", "-quiet", "-out", base)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"open loop at 2,000 ops/s", "coordinated omission corrected", "50% gets", "zipf"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	r, err := results.Load(base + ".json")
	if err != nil || r.Mode != "open" || r.Ops != 300 {
		t.Fatalf("%v: mode %q ops %d", err, r.Mode, r.Ops)
	}
}

// blockedDir returns a -out name in a directory that does not exist and
// cannot be created, even by root: under /proc.
func blockedDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("/proc", "mpaxos-bench-"+strings.ReplaceAll(t.Name(), "/", "-"))
	if err := os.MkdirAll(dir, 0o755); err == nil {
		os.Remove(dir)
		t.Skip("/proc is writable here")
	}
	return filepath.Join(dir, "run")
}

// An -out that cannot be written is refused before anything is measured.
func TestUnwritableOutRefusedFirst(t *testing.T) {
	f := &fakeTarget{}
	useFake(t, f)
	code, out, errOut := bench(t, "-cluster", "127.0.0.1:1", "-clients", "2", "-ops", "100", "-warmup", "0", "-out", blockedDir(t))
	if code != 1 || !strings.Contains(errOut, "cannot write to") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	if n := f.n.Load(); n != 0 || out != "" {
		t.Fatalf("%d operations run, stdout %q: the run started", n, out)
	}
}

// A run whose -out becomes unwritable while it runs still prints its
// report, and its files are written to a temporary directory it names.
func TestFinishedRunNotLost(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	f := &fakeTarget{onOp: func(n int64) {
		if n == 50 { // the directory is replaced by a file mid-run
			os.RemoveAll(dir)
			os.WriteFile(dir, []byte("x"), 0o644)
		}
	}}
	useFake(t, f)
	t.Setenv("TMPDIR", t.TempDir())
	code, out, errOut := bench(t, "-cluster", "127.0.0.1:1", "-clients", "2", "-ops", "300", "-warmup", "0", "-quiet",
		"-out", filepath.Join(dir, "run"))
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "throughput") || !strings.Contains(out, "NOT written to") {
		t.Fatalf("no report, or no word on the files:\n%s", out)
	}
	m := regexp.MustCompile(`written to (\S+)\.json`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(errOut, "written to") {
		t.Fatalf("the rescued files are not named: stdout\n%s\nstderr %q", out, errOut)
	}
	r, err := results.Load(m[1] + ".json")
	if err != nil || r.Ops != 300 {
		t.Fatalf("rescued result: %v", err)
	}
}

// compare prints its table even when the plot cannot be written.
func TestComparePrintsTableWithoutPlot(t *testing.T) {
	a, b := filepath.Join("testdata", "a.json"), filepath.Join("testdata", "b.json")
	code, out, errOut := bench(t, "compare", "-force", a, b, "-out", blockedDir(t))
	if code != 1 || !strings.Contains(errOut, "bench: ") {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	if !strings.Contains(out, "p99.99") || !strings.Contains(out, "plot: NOT written") {
		t.Fatalf("table missing:\n%s", out)
	}
}

// A sweep into an unwritable -out is refused before its first point.
func TestSweepUnwritableOutRefusedFirst(t *testing.T) {
	f := &fakeTarget{}
	useFake(t, f)
	code, _, errOut := bench(t, "sweep", "-cluster", "127.0.0.1:1", "-clients", "1,2", "-ops", "50", "-warmup", "0", "-quiet", "-out", blockedDir(t))
	if code != 1 || !strings.Contains(errOut, "cannot write to") || f.n.Load() != 0 {
		t.Fatalf("exit %d after %d ops: %q", code, f.n.Load(), errOut)
	}
}

// TestOutsideRepoNamesNodeBin: run outside the repository, bench cannot
// build cmd/node and says to pass -node-bin, instead of a go build error.
func TestOutsideRepoNamesNodeBin(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, _, stderr := bench(t, "-nodes", "1", "-duration", "1s", "-out", filepath.Join(dir, "x"))
	if code != 1 || !strings.Contains(stderr, "-node-bin") || strings.Contains(stderr, "go build") {
		t.Fatalf("exit %d, stderr %q: want 1 and a message naming -node-bin", code, stderr)
	}
}
