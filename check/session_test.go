package check

import (
	"strings"
	"testing"
)

func seqs(pairs ...uint64) []Applied {
	var a []Applied
	for i := 0; i+1 < len(pairs); i += 2 {
		a = append(a, Applied{Client: pairs[i], Seq: pairs[i+1]})
	}
	return a
}

func TestCheckSessions(t *testing.T) {
	good := seqs(1, 1, 2, 1, 1, 2, 2, 2, 1, 4) // client 1 gave up on seq 3
	tests := []struct {
		name              string
		nodes             []NodeApplied
		dups, reord       int
		diverged          bool
		at                int
		clients, commands int
	}{
		{"agreeing nodes", []NodeApplied{
			{Node: 1, Applied: good, Deduplicated: 3}, {Node: 2, Applied: good[:3]}, {Node: 3, Applied: good},
		}, 0, 0, false, 0, 2, 5},
		{"snapshot-restored node compared from its offset", []NodeApplied{
			{Node: 1, Applied: good}, {Node: 2, Offset: 3, Applied: good[3:]},
		}, 0, 0, false, 0, 2, 5},
		{"duplicate execution", []NodeApplied{
			{Node: 1, Applied: seqs(1, 1, 1, 2, 1, 2)},
		}, 1, 0, false, 0, 1, 3},
		{"reordered", []NodeApplied{
			{Node: 1, Applied: seqs(1, 2, 1, 1)},
		}, 0, 1, false, 0, 1, 2},
		{"divergence", []NodeApplied{
			{Node: 1, Applied: seqs(1, 1, 2, 1, 1, 2)},
			{Node: 2, Applied: seqs(1, 1, 2, 1, 1, 2)},
			{Node: 3, Applied: seqs(1, 1, 1, 2, 2, 1)},
		}, 0, 0, true, 1, 2, 3},
		{"divergence after an offset", []NodeApplied{
			{Node: 1, Applied: seqs(1, 1, 2, 1, 1, 2)},
			{Node: 2, Offset: 2, Applied: seqs(2, 9)},
		}, 0, 0, true, 2, 2, 3},
		{"no nodes", nil, 0, 0, false, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := CheckSessions(tt.nodes)
			if r.Duplicates != tt.dups || r.Reordered != tt.reord || r.Diverged != tt.diverged || r.At != tt.at {
				t.Fatalf("got %+v", r)
			}
			if r.Clients != tt.clients || r.Commands != tt.commands || r.Nodes != len(tt.nodes) {
				t.Fatalf("counts %+v", r)
			}
			ok := tt.dups == 0 && tt.reord == 0 && !tt.diverged
			if r.OK() != ok || strings.Contains(r.String(), "VIOLATED") == ok {
				t.Fatalf("OK %v: %v", r.OK(), r)
			}
			if !ok && len(r.Problems) == 0 {
				t.Fatal("no problem described")
			}
		})
	}
	r := CheckSessions([]NodeApplied{{Node: 1, Deduplicated: 3}, {Node: 2, Deduplicated: 4}})
	if r.Deduplicated != 7 || !strings.Contains(r.String(), "7 retries deduplicated") {
		t.Fatalf("%v", r)
	}
}
