package benchkit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/naive"
)

func TestVerdictWords(t *testing.T) {
	f, tr := false, true
	lost, none := int64(7), int64(0)
	split := 3
	for _, tc := range []struct {
		name string
		cell WhyPaxosCell
		want string
	}{
		{"run failed", WhyPaxosCell{Err: errors.New("boom")}, "run failed: boom"},
		{"unchecked", WhyPaxosCell{Result: &results.Result{}}, "not checked"},
		{"clean", WhyPaxosCell{Result: &results.Result{Verdict: &results.Verdict{Linearizable: &tr, LostAckedWrites: &none, StateHashesAgree: &tr}}}, "none"},
		{"everything", WhyPaxosCell{Result: &results.Result{Verdict: &results.Verdict{
			Linearizable: &f, LostAckedWrites: &lost, StateHashesAgree: &f, SplitBrainIntervals: &split,
			Visualization: "/r/why-paxos/x-linearizability.html", Failures: []string{"x"}}}},
			"replica hashes differ; 7 acknowledged writes lost; split brain: two nodes answered as primary in 3 intervals of 50ms; not linearizable ([porcupine](why-paxos/x-linearizability.html))"},
		{"other failure", WhyPaxosCell{Result: &results.Result{Verdict: &results.Verdict{Failures: []string{"keys unread"}}}}, "FAILED: keys unread"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cell.VerdictWords("/r"); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// The table has a sentence per protocol first, a row per protocol and the
// no-fault scenario's figures in two columns.
func TestWriteWhyPaxos(t *testing.T) {
	none, _ := LookupScenario("none")
	split, _ := LookupScenario("split-brain")
	n := 2
	res := &results.Result{Throughput: 1234, Verdict: &results.Verdict{SplitBrainIntervals: &n, Failures: []string{"split"}}}
	res.Latency.P99 = int64(3 * time.Millisecond)
	cells := []WhyPaxosCell{
		{Protocol: naive.PrimaryBackupAck, Scenario: none, Result: res},
		{Protocol: naive.PrimaryBackupAck, Scenario: split, Result: res},
		{Protocol: naive.Paxos, Scenario: none, Err: errors.New("no leader")},
	}
	var b bytes.Buffer
	WriteWhyPaxos(&b, cells, "results", "bench why-paxos", time.Minute)
	out := b.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[2], "- **primary-backup-ack**: ") || !strings.HasPrefix(lines[3], "- **paxos**: ") {
		t.Fatalf("the protocols' sentences do not come first:\n%s", out)
	}
	for _, want := range []string{
		"| protocol | ops/s, no faults | p99, no faults | split-brain (split brain) |",
		"| primary-backup-ack | 1234 | 3ms | split brain: two nodes answered as primary in 2 intervals of 50ms |",
		"| paxos | run failed: no leader | | not run |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}
