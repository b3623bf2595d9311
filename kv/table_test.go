package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The key table agrees with a Go map through inserts, overwrites and
// deletes that make subtables double, split (and the directory double), and
// runs of deletes that shift probe runs back; its invariants hold
// throughout.
func TestTableMatchesMap(t *testing.T) {
	tests := []struct {
		name      string
		keys, ops int
		delPct    int
	}{
		{"few keys, many deletes", 20, 5000, 45},
		{"splits", 20000, 60000, 10},
		{"grow and shrink", 5000, 40000, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tt.keys), 7))
			tab := newTable(0)
			ref := map[string][]byte{}
			keyOf := func(i int) []byte {
				if i%3 == 0 { // some keys too long to sit inline
					return fmt.Appendf(nil, "a-long-key-%015d", i)
				}
				return fmt.Appendf(nil, "k%d", i)
			}
			for op := range tt.ops {
				k := keyOf(rng.IntN(tt.keys))
				st, i, h, found := tab.lookup(k)
				want, ok := ref[string(k)]
				if found != ok || found && !bytes.Equal(st.slots[i].val, want) {
					t.Fatalf("op %d: key %q: found %v, map has %v (%q)", op, k, found, ok, want)
				}
				switch {
				case rng.IntN(100) < tt.delPct:
					if found {
						tab.remove(st, i)
						delete(ref, string(k))
					}
				case found:
					st.slots[i].val = fmt.Appendf(nil, "v%d", op)
					ref[string(k)] = st.slots[i].val
				default:
					v := fmt.Appendf(nil, "v%d", op)
					tab.insert(st, i, h, k, v)
					ref[string(k)] = v
				}
				if op%1000 == 0 {
					tab.check()
				}
			}
			tab.check()
			if tab.n != len(ref) {
				t.Fatalf("table holds %d keys, map %d", tab.n, len(ref))
			}
			for k, v := range ref {
				if got, ok := tab.get([]byte(k)); !ok || !bytes.Equal(got, v) {
					t.Fatalf("key %q: %q %v, want %q", k, got, ok, v)
				}
			}
			if tt.keys > 10000 && tab.depth == 0 {
				t.Fatalf("%d keys in one subtable: splits untested", tab.n)
			}
		})
	}
}
