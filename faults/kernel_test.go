package faults

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// layeredCluster is a fakeCluster that injects every kind but delay in
// the kernel.
type layeredCluster struct{ *fakeCluster }

func (layeredCluster) Layer(k Kind) string {
	if k == Delay {
		return "hook"
	}
	return "kernel"
}

// TestRunnerKernelKinds: the kinds only a real network has resolve their
// targets, reach the nodes' settings, combine with the others, heal, and
// the records say which layer injected each network fault.
func TestRunnerKernelKinds(t *testing.T) {
	clk := &fakeClock{now: t0}
	c := newFakeCluster(clk, 3, 1)
	sched := "clientcut-leader@10s+2s,blackhole-follower@20s+2s,flap=3:500ms@30s+2s,bandwidth=1mbit@40s+2s,dup=10%@41s+2s,delay=5ms@50s+1s"
	r, err := NewRunner(RunnerConfig{Clock: clk, LeaderWait: 5 * time.Second, LeaderPoll: 100 * time.Millisecond, ActionTimeout: time.Second},
		MustParse(sched), layeredCluster{c})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	c.onSet = func(id NodeID, s NetSpec) {
		line := fmt.Sprintf("%v %s %s node %d rate %s flap %v dup %g", clk.now.Sub(t0),
			map[bool]string{true: "clientcut"}[s.ClientCut], map[bool]string{true: "blackhole"}[s.Blackhole], id, FormatRate(s.Rate), s.Flap, s.Dup)
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	if err := r.Run(t.Context(), t0); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"10s clientcut node 1 rate 0bit flap 0s dup 0",
		"12s node 1 rate 0bit flap 0s dup 0",
		"20s blackhole node 2 rate 0bit flap 0s dup 0",
		"22s node 2 rate 0bit flap 0s dup 0",
		"30s node 3 rate 0bit flap 500ms dup 0",
		"32s node 3 rate 0bit flap 0s dup 0",
	}
	for id := 1; id <= 3; id++ {
		want = append(want, "40s node "+string(rune('0'+id))+" rate 1mbit flap 0s dup 0")
	}
	for id := 1; id <= 3; id++ {
		want = append(want, "41s node "+string(rune('0'+id))+" rate 1mbit flap 0s dup 0.1")
	}
	for id := 1; id <= 3; id++ {
		want = append(want, "42s node "+string(rune('0'+id))+" rate 0bit flap 0s dup 0.1")
	}
	for id := 1; id <= 3; id++ {
		want = append(want, "43s node "+string(rune('0'+id))+" rate 0bit flap 0s dup 0")
	}
	got = slices.DeleteFunc(got, func(s string) bool { return strings.HasPrefix(s, "50s") || strings.HasPrefix(s, "51s") })
	if !slices.Equal(got, want) {
		t.Errorf("settings pushed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, rec := range r.Records() {
		wantLayer := "kernel"
		if rec.Event.Kind == Delay {
			wantLayer = "hook"
		}
		if !rec.Fired || !rec.Healed || rec.Err != nil || rec.Layer != wantLayer {
			t.Errorf("%v: fired %v healed %v err %v layer %q, want %q", rec.Event, rec.Fired, rec.Healed, rec.Err, rec.Layer, wantLayer)
		}
	}
	// Without Layered, a network fault is the hook's.
	r2, err := run(t, "drop=1%@1s+1s,kill=2@3s+1s", newFakeCluster(&fakeClock{now: t0}, 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	if recs := r2.Records(); recs[0].Layer != "hook" || recs[1].Layer != "" {
		t.Errorf("layers %q %q, want hook and none", recs[0].Layer, recs[1].Layer)
	}
}

// TestKernelKindsParse: arguments of the kernel kinds, their errors, and
// that they are kernel-only and not offered to a running cluster.
func TestKernelKindsParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Event
	}{
		{"bandwidth=1mbit@1s+1s", Event{Kind: Bandwidth, Rate: 1_000_000, At: time.Second, For: time.Second}},
		{"bandwidth=1.5mbit@1s+1s", Event{Kind: Bandwidth, Rate: 1_500_000, At: time.Second, For: time.Second}},
		{"bandwidth=64kbit@1s", Event{Kind: Bandwidth, Rate: 64_000, At: time.Second}},
		{"flap=2:500ms@1s+1s", Event{Kind: Flap, Target: Target{Role: Node, Node: 2}, Period: 500 * time.Millisecond, At: time.Second, For: time.Second}},
		{"flap=leader:1s@1s+1s", Event{Kind: Flap, Target: Target{Role: Leader}, Period: time.Second, At: time.Second, For: time.Second}},
		{"dup=10%@1s+1s", Event{Kind: Dup, Percent: 10, At: time.Second, For: time.Second}},
		{"clientcut=3@1s+1s", Event{Kind: ClientCut, Target: Target{Role: Node, Node: 3}, At: time.Second, For: time.Second}},
		{"blackhole-leader@1s+1s", Event{Kind: Blackhole, Target: Target{Role: Leader}, At: time.Second, For: time.Second}},
	} {
		e, err := parseEvent(c.in)
		if err != nil || e != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.in, e, err, c.want)
			continue
		}
		if back, err := parseEvent(e.String()); err != nil || back != e {
			t.Errorf("%s -> %s -> %+v, %v", c.in, e, back, err)
		}
		if !e.Kind.KernelOnly() {
			t.Errorf("%v is not kernel-only", e.Kind)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"bandwidth@1s", "needs =RATE"}, {"bandwidth=1mb@1s", "want a rate"}, {"bandwidth=1bit@1s", "must be 8kbit..10gbit"},
		{"bandwidth=-1mbit@1s", "bad rate"}, {"bandwidth=20gbit@1s", "must be"},
		{"flap=2@1s", "want flap=NODE:PERIOD"}, {"flap=2:1ms@1s", "must be 50ms"}, {"flap=x:1s@1s", "bad node id"},
		{"dup=200%@1s", "dup=200%: percentage outside"}, {"clientcut@1s", "needs =NODE"},
	} {
		if _, err := parseEvent(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.in, err, c.want)
		}
	}
	for _, k := range NetworkKinds() {
		if d, _, _ := lookupKind(k); d.kernel {
			t.Errorf("NetworkKinds offers kernel-only %s to a running cluster", k)
		}
	}
}

// TestNetSpecKernelFields: the kernel-only settings count for IsZero and
// Equal, never reach a node's hook in JSON, and combine: the narrowest
// rate, the longest flap, composed duplication.
func TestNetSpecKernelFields(t *testing.T) {
	s := NetSpec{ClientCut: true, Blackhole: true, Dup: 0.1, Rate: 1000, Flap: time.Second}
	if s.IsZero() || !s.KernelOnly() || s.Equal(NetSpec{}) {
		t.Fatalf("%v: IsZero %v KernelOnly %v", s, s.IsZero(), s.KernelOnly())
	}
	if b, _ := json.Marshal(s); string(b) != "{}" {
		t.Errorf("kernel-only settings in the hook's JSON: %s", b)
	}
	got := combine([]NodeID{1}, []netFault{
		{spec: map[NodeID]NetSpec{1: {Rate: 2000, Dup: 0.5, Flap: time.Second}}},
		{spec: map[NodeID]NetSpec{1: {Rate: 1000, Dup: 0.5, ClientCut: true}}},
		{spec: map[NodeID]NetSpec{1: {Flap: 2 * time.Second, Blackhole: true}}},
	})[1]
	want := NetSpec{Rate: 1000, Dup: 0.75, Flap: 2 * time.Second, ClientCut: true, Blackhole: true}
	if !got.Equal(want) {
		t.Errorf("combined %v, want %v", got, want)
	}
}
