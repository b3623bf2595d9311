package benchkit

import (
	"errors"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

func enc(t *testing.T, vals ...time.Duration) string {
	t.Helper()
	h := hist.New()
	for _, v := range vals {
		hist.Record(h, v)
	}
	s, err := hist.Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStageDelta(t *testing.T) {
	ms := time.Millisecond
	before := []adminapi.StageReport{{Node: 1, Stages: map[string]string{
		"reply": enc(t, ms), "queue": enc(t, ms, ms),
	}}}
	after := []adminapi.StageReport{
		{Node: 1, Stages: map[string]string{
			"reply": enc(t, ms, 5*ms), "queue": enc(t, ms, ms, 2*ms, 2*ms), "custom": enc(t, ms),
		}},
		{Node: 2, Stages: map[string]string{"queue": enc(t, 3*ms)}}, // new node: all of it counts
	}
	st, _, err := StageDelta(before, after)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range st {
		got = append(got, s.Name)
	}
	if len(st) != 4 || got[0] != "queue" || got[1] != "reply" || got[2] != "custom" || st[3].Node != 2 {
		t.Fatalf("stages %v", got)
	}
	if st[0].Latency.Count != 2 || !within(st[0].Latency.P50, 2*ms) || st[1].Latency.Count != 1 || !within(st[1].Latency.Max, 5*ms) {
		t.Fatalf("deltas %+v %+v", st[0].Latency, st[1].Latency)
	}
	// A node restarted in between (its histogram went backwards: a fault
	// killed and restarted it): what it recorded since the restart counts.
	st, _, err = StageDelta(after, before)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Name != "queue" || st[0].Latency.Count != 2 || st[1].Name != "reply" || st[1].Latency.Count != 1 {
		t.Fatalf("restarted node: %+v", st)
	}
	if _, err := hist.Subtract(mustDecode(t, before[0].Stages["queue"]), mustDecode(t, after[0].Stages["queue"])); !errors.Is(err, hist.ErrSubtract) {
		t.Fatalf("backwards subtraction: %v", err)
	}
}

func mustDecode(t *testing.T, s string) *hdr.Histogram {
	t.Helper()
	h, err := hist.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func within(got int64, want time.Duration) bool {
	d := float64(got) - float64(want)
	return d < float64(want)*0.002 && d > -float64(want)*0.002
}

// TestReportLeavesOutEmptyStages: a follower's leader-only stages recorded
// nothing and are not printed as rows of zeros.
func TestReportLeavesOutEmptyStages(t *testing.T) {
	ms := time.Millisecond
	before := []adminapi.StageReport{
		{Node: 1, Stages: map[string]string{"quorum_wait": enc(t), "apply": enc(t)}},
		{Node: 2, Stages: map[string]string{"quorum_wait": enc(t), "apply": enc(t)}},
	}
	after := []adminapi.StageReport{
		{Node: 1, Stages: map[string]string{"quorum_wait": enc(t, ms), "apply": enc(t, ms)}},
		{Node: 2, Stages: map[string]string{"quorum_wait": enc(t), "apply": enc(t, ms)}},
	}
	st, _, err := StageDelta(before, after)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeStages(&b, &results.Result{Stages: st})
	rows := 0
	for _, l := range strings.Split(b.String(), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "quorum_wait" || f[0] == "apply") {
			rows++
			if f[0] == "quorum_wait" && f[1] != "1" {
				t.Errorf("quorum_wait row for follower: %q", l)
			}
		}
	}
	if rows != 3 || !strings.Contains(b.String(), "rows left out: 1,") {
		t.Fatalf("want 3 rows and a note of 1 left out, got:\n%s", b.String())
	}
}
