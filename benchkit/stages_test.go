package benchkit

import (
	"errors"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/hist"
	"github.com/mpaxos/mpaxos/benchkit/results"
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
	before := []results.StageReport{{Node: 1, Stages: map[string]string{
		"reply": enc(t, ms), "queue": enc(t, ms, ms),
	}}}
	after := []results.StageReport{
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
	// A node restarted in between (its histogram went backwards): an error, not nonsense.
	if _, _, err := StageDelta(after, before); !errors.Is(err, hist.ErrSubtract) {
		t.Fatalf("backwards: %v", err)
	}
}

func within(got int64, want time.Duration) bool {
	d := float64(got) - float64(want)
	return d < float64(want)*0.002 && d > -float64(want)*0.002
}
