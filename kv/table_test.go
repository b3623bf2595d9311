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

// Restore adds keys grouped by subtable (addAll), into a table pre-sized
// from the key count but capped by the input size: small entries make it
// grow while adding, large ones fill it as sized. Either way the restored
// machine equals the original.
func TestRestoreFillsTable(t *testing.T) {
	for _, tt := range []struct {
		name  string
		keys  int
		value int
		long  bool
		grows bool // more keys than the pre-sized table holds
	}{
		{"small entries grow the table", 20000, 0, false, true},
		{"large entries fit the pre-size", 3000, 100, false, false},
		{"long keys", 2000, 10, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMachine(t, 100)
			for i := range tt.keys {
				k := fmt.Sprintf("%x", i)
				if tt.long {
					k = fmt.Sprintf("a-key-longer-than-inline-%d", i)
				}
				m.Apply(1, Command{Op: OpPut, Key: []byte(k), Value: bytes.Repeat([]byte{'v'}, tt.value)})
			}
			snap := m.Snapshot()
			capacity := 0
			for _, st := range newTable(len(snap) / 16).subs {
				capacity += len(st.slots) * 3 / 4
			}
			if grows := capacity < tt.keys; grows != tt.grows {
				t.Fatalf("pre-sized for %d keys of %d: the case does not test what it says", capacity, tt.keys)
			}
			r := newMachine(t, 100)
			if err := r.Restore(snap); err != nil {
				t.Fatal(err)
			}
			r.keys.check()
			if r.Len() != tt.keys || r.Hash() != m.Hash() || !bytes.Equal(r.Snapshot(), snap) {
				t.Fatalf("restored %d keys, hash %#x, want %d keys, hash %#x", r.Len(), r.Hash(), tt.keys, m.Hash())
			}
		})
	}
}
