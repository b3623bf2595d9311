package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/faults"
)

// TestRealReplace: issue 22's e2e, scaled to two shared cores: 5 nodes
// under 50 clients; node 2 is replaced (kill -9, data wiped, node 6 joins,
// catches up, is promoted, 2 removed), then the leader of the moment
// (node 7 replaces it). The checks run on the final configuration's
// members: linearizable, no acknowledged write lost, equal state hashes on
// all five, the replaced nodes left out. The clients keep writing through
// both: the second replacement kills the node every client was sending
// its writes to.
func TestRealReplace(t *testing.T) {
	args := append(slices.Clone(checkedWorkload), "-nodes", "5", "-clients", "50", "-duration", "12s",
		"-faults", "replace=2@3s,replace=leader@8s", "-check")
	code, out, errOut, r := realBench(t, args...)
	assertPass(t, code, out, errOut, r)
	if len(r.Faults) != 2 {
		t.Fatalf("faults %+v, want the two replacements", r.Faults)
	}
	steps := []string{faults.StepKilled, faults.StepAdded, faults.StepCaughtUp, faults.StepPromoted, faults.StepRemoved}
	var gone []uint64
	for i, f := range r.Faults {
		if f.NotInjected || f.Error != "" {
			t.Fatalf("%s: %s", f.Spec, f.Error)
		}
		fresh := uint64(6 + i)
		if len(f.Targets) != 2 || f.Targets[1] != fresh || (i == 0 && f.Targets[0] != 2) || slices.Contains(gone, f.Targets[0]) {
			t.Fatalf("%s: targets %v, want [old %d]", f.Spec, f.Targets, fresh)
		}
		gone = append(gone, f.Targets[0])
		if len(f.Steps) != len(steps) {
			t.Fatalf("%s: steps %+v, want %v", f.Spec, f.Steps, steps)
		}
		prev := f.StartSec
		for k, st := range f.Steps {
			want := fresh
			if k == 0 || k == len(steps)-1 {
				want = f.Targets[0]
			}
			if st.Name != steps[k] || st.Node != want || st.AtSec < prev {
				t.Fatalf("%s: step %d %+v, want %s of node %d after %.3fs", f.Spec, k, st, steps[k], want, prev)
			}
			prev = st.AtSec
		}
		if f.EndSec < prev || f.EndSec > prev+0.01 {
			t.Errorf("%s: window ends at %.3fs, its last step at %.3fs", f.Spec, f.EndSec, prev)
		}
		if !strings.Contains(out, f.Spec+": killed ") {
			t.Errorf("the report does not show %s's steps", f.Spec)
		}
		if f.DowntimeSec == nil || f.NeverResumed || f.After == nil || f.After.Throughput == 0 {
			t.Fatalf("%s: service did not resume: %+v", f.Spec, f)
		}
		if d := time.Duration(*f.DowntimeSec * float64(time.Second)); d > 10*electionTimeout {
			t.Errorf("%s: downtime %v, more than 10 election timeouts", f.Spec, d)
		}
	}
	// The hashes and the session records were read from the final
	// configuration: 6 and 7 in, the replaced nodes out.
	notes := strings.Join(r.Verdict.Notes, "\n")
	if !strings.Contains(notes, "identical on 5 nodes") {
		t.Errorf("hashes not compared on the 5 final members:\n%s", notes)
	}
	for _, id := range []string{"node 6 ", "node 7 "} {
		if !strings.Contains(notes, id) {
			t.Errorf("the checks did not read %s:\n%s", id, notes)
		}
	}
	for _, id := range gone {
		if strings.Contains(notes, "node "+strconv.FormatUint(id, 10)+" ") {
			t.Errorf("the checks read replaced node %d:\n%s", id, notes)
		}
	}
}

// TestRealAddRemove: add joins node 4 and promotes it; remove=leader then
// takes the leader of the moment out (it hands off first, so service
// need not stop) and stops it. The checks run on the three final members.
func TestRealAddRemove(t *testing.T) {
	args := append(slices.Clone(checkedWorkload), "-nodes", "3", "-duration", "8s",
		"-faults", "add@2s,remove=leader@5s", "-check")
	code, out, errOut, r := realBench(t, args...)
	assertPass(t, code, out, errOut, r)
	if len(r.Faults) != 2 {
		t.Fatalf("faults %+v", r.Faults)
	}
	for i, want := range [][]string{
		{faults.StepAdded, faults.StepCaughtUp, faults.StepPromoted},
		{faults.StepRemoved, faults.StepStopped},
	} {
		f := r.Faults[i]
		var got []string
		for _, st := range f.Steps {
			got = append(got, st.Name)
		}
		if f.Error != "" || !slices.Equal(got, want) {
			t.Fatalf("%s: steps %v (error %q), want %v", f.Spec, got, f.Error, want)
		}
	}
	if r.Faults[0].Steps[0].Node != 4 {
		t.Errorf("add joined node %d, want 4", r.Faults[0].Steps[0].Node)
	}
	removed := r.Faults[1].Targets[0]
	notes := strings.Join(r.Verdict.Notes, "\n")
	if !strings.Contains(notes, "identical on 3 nodes") {
		t.Errorf("hashes not compared on the 3 final members:\n%s", notes)
	}
	if strings.Contains(notes, "node "+strconv.FormatUint(removed, 10)+" ") {
		t.Errorf("the checks read removed node %d:\n%s", removed, notes)
	}
}
