package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpaxos/mpaxos/benchkit/hist"
)

func TestCheckOverwrite(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hgrm := " Value\tPercentile\tTotalCount\t1/(1-Percentile)\n\n       1.000 0.000000            1         1.00\n#[Mean    =        1.000, StdDeviation   =        0.000]\n"
	for _, tc := range []struct {
		path string
		ours bool
	}{
		{filepath.Join(dir, "absent.json"), true},
		{write("run.json", `{"kind":"mpaxos-bench-result","format":1}`), true},
		{write("sweep.json", `{"kind":"mpaxos-bench-sweep"}`), true},
		{write("other.json", `{"kind":"package-lock"}`), false},
		{write("broken.json", `{`), false},
		{write("run.hgrm", hgrm), true},
		{write("notes.hgrm", "my notes\n"), false},
		{write("plot.svg", "<?xml version=\"1.0\"?>\n<svg>\n"+SVGMarker+"\n</svg>"), true},
		{write("logo.svg", "<svg></svg>"), false},
		{write("x.txt", "anything"), false},
	} {
		err := CheckOverwrite(tc.path)
		if tc.ours && err != nil {
			t.Errorf("%s: %v", filepath.Base(tc.path), err)
		}
		if !tc.ours && !errors.Is(err, ErrNotOurs) {
			t.Errorf("%s: got %v, want ErrNotOurs", filepath.Base(tc.path), err)
		}
	}
	if err := CheckOverwrite(dir); !errors.Is(err, ErrNotOurs) {
		t.Errorf("directory: %v", err)
	}
}

func TestWriteFilesAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "x.svg")
	if err := os.WriteFile(foreign, []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFiles(Output{filepath.Join(dir, "sub", "x.json"), []byte(`{"kind":"mpaxos-bench-result"}`)}, Output{foreign, []byte("new")})
	if !errors.Is(err, ErrNotOurs) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub", "x.json")); !os.IsNotExist(err) {
		t.Fatal("wrote a file although another was refused")
	}
	if err := WriteFiles(Output{filepath.Join(dir, "sub", "y.json"), []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "sub"))
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

func TestMarshalLoadRoundTrip(t *testing.T) {
	h := hist.New()
	hist.Record(h, 1234567)
	enc, err := hist.Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	lost := int64(0)
	r := &Result{Kind: KindRun, Format: Format, Name: "x", Durability: "sync", Mode: "closed", Ops: 1,
		Settings: []byte(`{"clients":1}`), Histogram: enc, Latency: hist.Summarize(h),
		Verdict: &Verdict{LostAckedWrites: &lost}}
	b, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	var settings bytes.Buffer
	if err := json.Compact(&settings, got.Settings); err != nil {
		t.Fatal(err)
	}
	if got.Latency != r.Latency || got.Verdict == nil || *got.Verdict.LostAckedWrites != 0 || settings.String() != `{"clients":1}` {
		t.Fatalf("round trip: %+v", got)
	}
	if strings.Contains(string(b), "faults") || strings.Contains(string(b), "ceiling") {
		t.Fatal("empty optional sections were written")
	}
	for name, content := range map[string]string{
		"wrong kind": `{"kind":"mpaxos-bench-sweep"}`,
		"future":     `{"kind":"mpaxos-bench-result","format":99}`,
		"bad hist":   `{"kind":"mpaxos-bench-result","format":1,"histogram":"xx"}`,
		"not json":   `hello`,
		"stub":       `{"kind":"mpaxos-bench-result","format":1}`,
	} {
		p := filepath.Join(t.TempDir(), "y.json")
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := Load(p); !errors.Is(err, ErrNotResult) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// TestLoadFormat1: the committed results (format 1) still load, their
// renamed fields filled, and are written back in the current format.
func TestLoadFormat1(t *testing.T) {
	r, err := Load(filepath.Join("..", "..", "results", "n3-c1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ElapsedSec == 0 || r.Throughput == 0 || len(r.Series) == 0 || r.Series[0].At == 0 || r.Series[0].Throughput == 0 ||
		r.CPU == nil || r.CPU.WindowSec == 0 || r.CPU.BenchSec == 0 {
		t.Fatalf("format 1 fields lost: elapsed %v ops/s %v series %+v cpu %+v", r.ElapsedSec, r.Throughput, r.Series[:min(1, len(r.Series))], r.CPU)
	}
	if r.Format != Format {
		t.Fatalf("format %d after loading, want %d", r.Format, Format)
	}
	b, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{`"elapsed_sec"`, `"ops_per_sec"`, `"t":`, `"window_sec"`} {
		if strings.Contains(string(b), old) {
			t.Errorf("written result still has %s", old)
		}
	}
	for _, name := range []string{`"elapsed_s"`, `"ops_per_s"`, `"t_s"`, `"window_s"`} {
		if !strings.Contains(string(b), name) {
			t.Errorf("written result lacks %s", name)
		}
	}
}

// TestLoadFormat1Faults: a committed faulted run's windows keep their
// times.
func TestLoadFormat1Faults(t *testing.T) {
	r, err := Load(filepath.Join("..", "..", "results", "n5-c200-kill-leader.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Faults) == 0 || r.Faults[0].StartSec == 0 || r.Faults[0].Before == nil || r.Faults[0].Before.EndSec == 0 {
		t.Fatalf("fault windows lost: %+v", r.Faults)
	}
}
