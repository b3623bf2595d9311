package main

import (
	"strings"
	"testing"

	"github.com/mpaxos/mpaxos/benchkit/results"
)

// TestRealWhyPaxosCells runs one shortened cell of the why-paxos matrix per
// protocol on real nodes and asserts its verdict: each naive scheme must
// fail the check its scenario is built for, and paxos must pass the
// hardest. A checker that stopped catching one of these would be noticed.
func TestRealWhyPaxosCells(t *testing.T) {
	hashesDiffer := func(v *results.Verdict) bool { return v.StateHashesAgree != nil && !*v.StateHashesAgree }
	for _, tc := range []struct {
		protocol, scenario string
		fails              bool
		want               func(*results.Verdict) bool
		what               string
	}{
		{"unsync", "concurrent", true, hashesDiffer, "replica hashes differ"},
		{"primary-backup", "lost-write", true,
			func(v *results.Verdict) bool { return v.LostAckedWrites != nil && *v.LostAckedWrites > 0 }, "acknowledged writes lost"},
		{"primary-backup-ack", "split-brain", true,
			func(v *results.Verdict) bool { return v.SplitBrainIntervals != nil && *v.SplitBrainIntervals > 0 }, "split brain"},
		{"multi-leader", "concurrent", true, hashesDiffer, "replica hashes differ"},
		{"paxos", "split-brain", false, func(v *results.Verdict) bool {
			return v.SplitBrainIntervals != nil && *v.SplitBrainIntervals == 0 && v.Linearizable != nil && *v.Linearizable &&
				v.LostAckedWrites != nil && *v.LostAckedWrites == 0 && v.StateHashesAgree != nil && *v.StateHashesAgree
		}, "no failure, every check run"},
	} {
		t.Run(tc.protocol+"/"+tc.scenario, func(t *testing.T) {
			code, out, errOut, r := realBench(t, "-protocol", tc.protocol, "-scenario", tc.scenario,
				"-duration", "2500ms", "-warmup", "300ms", "-clients", "16", "-timeout", "2s")
			if want := map[bool]int{true: 1, false: 0}[tc.fails]; code != want {
				t.Fatalf("exit %d, want %d: %s\n%s", code, want, errOut, out)
			}
			if r == nil || r.Verdict == nil {
				t.Fatalf("no verdict in the result: %s", out)
			}
			if !tc.want(r.Verdict) {
				t.Fatalf("verdict lacks %s: failures %q, notes %q", tc.what, r.Verdict.Failures, r.Verdict.Notes)
			}
			if tc.fails && !strings.Contains(errOut, "correctness check FAILED") {
				t.Fatalf("no failure line: %q", errOut)
			}
		})
	}
}

func TestScenarioFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-scenario", "meteor"}, "unknown scenario"},
		{[]string{"-scenario", "split-brain", "-faults", "kill-leader@1s"}, "-scenario sets -faults"},
		{[]string{"-protocol", "raft"}, "unknown protocol"},
		{[]string{"-protocol", "unsync", "-cluster", "127.0.0.1:1"}, "-protocol"},
		{[]string{"why-paxos", "-protocols", "raft"}, "unknown protocol"},
		{[]string{"why-paxos", "-scenarios", "meteor"}, "unknown scenario"},
	} {
		code, _, errOut := bench(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("bench %v: exit %d, %q; want exit 2 and one line with %q", tc.args, code, errOut, tc.want)
		}
	}
}
