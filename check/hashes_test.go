package check

import (
	"strings"
	"testing"
)

func TestCompareHashes(t *testing.T) {
	tests := []struct {
		name           string
		states         []NodeState
		comparable, ok bool
		say            string
	}{
		{"none", nil, false, false, "no node"},
		{"agree", []NodeState{{1, 10, 0xab}, {2, 10, 0xab}, {3, 10, 0xab}}, true, true, "identical on 3 nodes at slot 10"},
		{"differ", []NodeState{{1, 10, 0xab}, {3, 10, 0xcd}, {2, 10, 0xab}}, true, false, "DIFFER at slot 10: nodes [1 2] hash 00000000000000ab; nodes [3] hash 00000000000000cd"},
		{"different slots", []NodeState{{1, 10, 0xab}, {2, 9, 0xab}}, false, false, "nodes [2] at slot 9; nodes [1] at slot 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := CompareHashes(tt.states)
			if r.Comparable != tt.comparable || r.OK() != tt.ok || !strings.Contains(r.String(), tt.say) {
				t.Fatalf("%+v: %s", r, r)
			}
		})
	}
}
