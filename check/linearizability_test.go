package check

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// op builders for hand-made histories: client, call, return.
func put(c int, key, v string, call, ret int64) Op {
	return Op{Client: c, Kind: Put, Key: key, Value: VS(v), Outcome: OK, Call: call, Return: ret}
}

func get(c int, key, v string, call, ret int64) Op {
	return Op{Client: c, Kind: Get, Key: key, Value: VS(v), Found: true, Outcome: OK, Call: call, Return: ret}
}

func getAbsent(c int, key string, call, ret int64) Op {
	return Op{Client: c, Kind: Get, Key: key, Outcome: OK, Call: call, Return: ret}
}

func del(c int, key string, call, ret int64) Op {
	return Op{Client: c, Kind: Delete, Key: key, Outcome: OK, Call: call, Return: ret}
}

func cas(c int, key, expect, v string, ok bool, call, ret int64) Op {
	return Op{Client: c, Kind: CAS, Key: key, Expect: VS(expect), Value: VS(v), CASOK: ok, Outcome: OK, Call: call, Return: ret}
}

func unknown(op Op) Op {
	op.Outcome = Unknown
	op.Return = op.Call + 1 // when the client gave up; must not matter
	return op
}

func TestCheckLinearizable(t *testing.T) {
	tests := []struct {
		name string
		ops  []Op
		want Verdict
		bad  []string
	}{
		{"empty", nil, Linearizable, nil},
		{"sequential", []Op{
			getAbsent(0, "k", 0, 1), put(0, "k", "a", 2, 3), get(1, "k", "a", 4, 5),
			del(1, "k", 6, 7), getAbsent(0, "k", 8, 9),
		}, Linearizable, nil},
		{"concurrent writes, reads agree on one order", []Op{
			put(0, "k", "a", 0, 10), put(1, "k", "b", 0, 10),
			get(2, "k", "b", 11, 12), get(3, "k", "b", 13, 14),
		}, Linearizable, nil},
		{"read concurrent with write may see either", []Op{
			put(0, "k", "a", 0, 1), put(1, "k", "b", 2, 10),
			get(2, "k", "a", 3, 4), get(3, "k", "b", 5, 6),
		}, Linearizable, nil},
		{"cas", []Op{
			put(0, "k", "a", 0, 1), cas(1, "k", "a", "b", true, 2, 3),
			cas(0, "k", "a", "c", false, 4, 5), get(2, "k", "b", 6, 7),
		}, Linearizable, nil},
		{"cas on a missing key fails", []Op{
			cas(0, "k", "", "x", false, 0, 1), getAbsent(1, "k", 2, 3),
		}, Linearizable, nil},
		{"keys are independent", []Op{
			put(0, "k1", "a", 0, 1), put(0, "k2", "b", 2, 3),
			get(1, "k1", "a", 4, 5), get(1, "k2", "b", 4, 5),
		}, Linearizable, nil},
		{"stale read after acknowledged write", []Op{
			put(0, "k", "a", 0, 1), put(0, "k", "b", 2, 3), get(1, "k", "a", 4, 5),
			put(0, "ok", "x", 0, 1), get(1, "ok", "x", 2, 3),
		}, NotLinearizable, []string{"k"}},
		{"read of a never-written value", []Op{
			put(0, "k", "a", 0, 1), get(1, "k", "zzz", 2, 3),
		}, NotLinearizable, []string{"k"}},
		{"read absent after acknowledged write", []Op{
			put(0, "k", "a", 0, 1), getAbsent(1, "k", 2, 3),
		}, NotLinearizable, []string{"k"}},
		{"lost update: two cas from the same value both succeed", []Op{
			put(0, "k", "0", 0, 1),
			cas(1, "k", "0", "1", true, 2, 5), cas(2, "k", "0", "2", true, 2, 5),
			get(0, "k", "2", 6, 7),
		}, NotLinearizable, []string{"k"}},
		{"reads flip back (non-monotonic)", []Op{
			put(0, "k", "a", 0, 1), put(0, "k", "b", 2, 20),
			get(1, "k", "b", 3, 4), get(2, "k", "a", 5, 6),
		}, NotLinearizable, []string{"k"}},
		{"cas failure while the value matched", []Op{
			put(0, "k", "a", 0, 1), cas(1, "k", "a", "b", false, 2, 3),
		}, NotLinearizable, []string{"k"}},
		{"two keys violate", []Op{
			put(0, "b", "1", 0, 1), getAbsent(1, "b", 2, 3),
			put(0, "a", "1", 0, 1), get(1, "a", "2", 2, 3),
		}, NotLinearizable, []string{"a", "b"}},

		// Unknown outcomes, both ways.
		{"unknown write that took effect", []Op{
			unknown(put(0, "k", "a", 0, 0)), get(1, "k", "a", 50, 51), get(1, "k", "a", 60, 61),
		}, Linearizable, nil},
		{"unknown write that never took effect", []Op{
			unknown(put(0, "k", "a", 0, 0)), getAbsent(1, "k", 50, 51), getAbsent(1, "k", 60, 61),
		}, Linearizable, nil},
		{"unknown write that took effect late", []Op{
			put(0, "k", "x", 0, 1), unknown(put(0, "k", "a", 2, 2)),
			get(1, "k", "x", 50, 51), get(1, "k", "a", 60, 61),
		}, Linearizable, nil},
		{"unknown write seen, then unseen: a violation still", []Op{
			put(0, "k", "x", 0, 1), unknown(put(0, "k", "a", 2, 2)),
			get(1, "k", "a", 50, 51), get(1, "k", "x", 60, 61),
		}, NotLinearizable, []string{"k"}},
		{"unknown write cannot act before its call", []Op{
			get(1, "k", "a", 0, 1), unknown(put(0, "k", "a", 2, 2)),
		}, NotLinearizable, []string{"k"}},
		{"unknown cas may or may not swap", []Op{
			put(0, "k", "a", 0, 1), unknown(cas(1, "k", "a", "b", false, 2, 2)),
			get(2, "k", "a", 10, 11), get(2, "k", "b", 12, 13),
		}, Linearizable, nil},
		{"unknown delete", []Op{
			put(0, "k", "a", 0, 1), unknown(del(1, "k", 2, 2)),
			get(2, "k", "a", 10, 11), getAbsent(2, "k", 12, 13),
		}, Linearizable, nil},
		{"unobserved unknown write explains a failed cas: kept", []Op{
			put(0, "k", "p", 0, 1), unknown(put(1, "k", "x", 2, 2)),
			cas(2, "k", "p", "y", false, 5, 6),
		}, Linearizable, nil},
		{"without it the failed cas is a violation", []Op{
			put(0, "k", "p", 0, 1), cas(2, "k", "p", "y", false, 5, 6),
		}, NotLinearizable, []string{"k"}},
		{"observed unknown write bounded by its first reader", []Op{
			unknown(put(0, "k", "a", 0, 0)), get(1, "k", "a", 10, 11),
			put(2, "k", "b", 20, 21), get(1, "k", "a", 30, 31),
		}, NotLinearizable, []string{"k"}},
		{"observed unknown write, value written twice: not bounded", []Op{
			unknown(put(0, "k", "a", 0, 0)), put(3, "k", "a", 5, 6), get(1, "k", "a", 10, 11),
			put(2, "k", "b", 20, 21), get(1, "k", "b", 30, 31),
		}, Linearizable, nil},
		{"unknown cas observed by a successful cas", []Op{
			put(0, "k", "a", 0, 1), unknown(cas(1, "k", "a", "b", false, 2, 2)),
			cas(2, "k", "b", "c", true, 10, 11), get(0, "k", "c", 12, 13),
		}, Linearizable, nil},
		{"unknown read is dropped", []Op{
			put(0, "k", "a", 0, 1), unknown(get(1, "k", "zzz", 2, 3)),
		}, Linearizable, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			html := filepath.Join(t.TempDir(), "viz.html")
			res, err := CheckLinearizable(tt.ops, LinConfig{Timeout: 30 * time.Second, VisualizePath: html,
				Spans: []Span{{Label: "kill-leader@1s+5s", Start: 1, End: 4}}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tt.want {
				t.Fatalf("verdict %v, want %v (%v)", res.Verdict, tt.want, res)
			}
			if strings.Join(res.BadKeys, ",") != strings.Join(tt.bad, ",") {
				t.Fatalf("bad keys %q, want %q", res.BadKeys, tt.bad)
			}
			_, statErr := os.Stat(html)
			if tt.want == NotLinearizable {
				if res.Visualization != html || statErr != nil {
					t.Fatalf("visualization %q not written: %v", res.Visualization, statErr)
				}
				// Only the shortest violating key is drawn (ties: the first).
				b, _ := os.ReadFile(html)
				if res.VisualizedKey != tt.bad[0] || !strings.Contains(string(b), "("+tt.bad[0]) {
					t.Errorf("visualization shows key %q, want %q", res.VisualizedKey, tt.bad[0])
				}
				if !strings.Contains(string(b), "kill-leader@1s+5s") {
					t.Error("visualization does not show the fault span")
				}
			} else if statErr == nil || res.Visualization != "" {
				t.Fatalf("visualization written for a %v history", res.Verdict)
			}
		})
	}
}

func TestCheckLinearizableCounts(t *testing.T) {
	ops := []Op{
		put(0, "k", "a", 0, 1), unknown(put(1, "k", "b", 2, 2)), unknown(get(2, "k", "a", 3, 4)),
		get(0, "j", "a", 0, 1),
	}
	res, err := CheckLinearizable(ops, DefaultLinConfig())
	if err != nil {
		t.Fatal(err)
	}
	// The unknown put of "b" is never observed: left out.
	if res.Ops != 2 || res.Keys != 2 || res.UnknownWrites != 1 || res.PrunedWrites != 1 || res.DroppedReads != 1 {
		t.Fatalf("counts: %+v", res)
	}
	if res.Verdict != NotLinearizable || !strings.Contains(res.String(), "NOT linearizable") {
		t.Fatalf("%v", res)
	}
}

// TestCheckLinearizableTimeout builds a history too hard to decide in a
// millisecond (many concurrent writes, each read constraining little) and
// expects the honest verdict.
func TestCheckLinearizableTimeout(t *testing.T) {
	var ops []Op
	const n = 400
	for i := range n {
		v := string(rune('a' + i%26))
		ops = append(ops, Op{Client: i, Kind: Put, Key: "k", Value: VS(v + string(rune(i))), Outcome: OK, Call: 0, Return: 1000})
	}
	// A read of a value nobody wrote at the very end: the checker must
	// try every order of the concurrent writes before it can say no.
	ops = append(ops, get(n, "k", "never", 2000, 2001))
	res, err := CheckLinearizable(ops, LinConfig{Timeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Deciding needs every (subset of writes, last write) pair: about
	// n * 2^n states, so the bound is always hit, however fast the machine.
	if res.Verdict != TimedOut || !strings.Contains(res.String(), "unknown (timed out)") {
		t.Fatalf("verdict %v, want %v: %v", res.Verdict, TimedOut, res)
	}
}

func TestLinConfigValidate(t *testing.T) {
	if err := (LinConfig{}).Validate(); err == nil {
		t.Fatal("zero timeout accepted")
	}
	if _, err := CheckLinearizable(nil, LinConfig{}); err == nil {
		t.Fatal("zero timeout accepted")
	}
}

// A second run against a cluster reads what the first one wrote. With
// PriorState that is no violation; without it (a cluster that started
// empty) the same history is one. Everything written during the history
// is checked the same either way.
func TestCheckLinearizablePriorState(t *testing.T) {
	tests := []struct {
		name        string
		ops         []Op
		empty, prio Verdict
	}{
		{"first read sees an earlier run's value", []Op{
			get(0, "k", "old", 0, 1), put(1, "k", "a", 2, 3), get(0, "k", "a", 4, 5),
		}, NotLinearizable, Linearizable},
		{"earlier value read twice, then overwritten", []Op{
			get(0, "k", "old", 0, 1), get(1, "k", "old", 2, 3), put(1, "k", "a", 4, 5), getAbsent(0, "j", 0, 1),
		}, NotLinearizable, Linearizable},
		{"cas from an earlier value", []Op{
			cas(0, "k", "old", "a", true, 0, 1), get(1, "k", "a", 2, 3),
		}, NotLinearizable, Linearizable},
		{"two different earlier values: a violation", []Op{
			get(0, "k", "old", 0, 1), get(1, "k", "older", 2, 3),
		}, NotLinearizable, NotLinearizable},
		{"earlier value read after an acknowledged write: stale", []Op{
			put(0, "k", "a", 0, 1), get(1, "k", "old", 2, 3),
		}, NotLinearizable, NotLinearizable},
		{"earlier value back after a read of a new one", []Op{
			get(0, "k", "old", 0, 1), unknown(put(1, "k", "a", 2, 2)), get(0, "k", "a", 5, 6), get(0, "k", "old", 7, 8),
		}, NotLinearizable, NotLinearizable},
		{"absent, then an earlier value: a violation", []Op{
			getAbsent(0, "k", 0, 1), get(1, "k", "old", 2, 3),
		}, NotLinearizable, NotLinearizable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, prior := range []bool{false, true} {
				res, err := CheckLinearizable(tt.ops, LinConfig{Timeout: 30 * time.Second, PriorState: prior})
				if err != nil {
					t.Fatal(err)
				}
				want := tt.empty
				if prior {
					want = tt.prio
				}
				if res.Verdict != want {
					t.Fatalf("prior state %v: %v, want %v", prior, res.Verdict, want)
				}
				if strings.Contains(res.String(), "from before the run") != prior {
					t.Fatalf("verdict line does not say how keys started: %s", res)
				}
			}
		})
	}
}

// The visualization shows the violating key with the fewest operations,
// and none is written past its cap.
func TestVisualizationShortestKeyAndCap(t *testing.T) {
	var ops []Op
	// Key "long" violates after many operations, "short" after two.
	for i := range 50 {
		ops = append(ops, put(0, "long", fmt.Sprint(i), int64(10*i), int64(10*i+1)))
	}
	ops = append(ops, get(1, "long", "0", 1000, 1001))
	ops = append(ops, put(0, "short", "a", 0, 1), getAbsent(1, "short", 2, 3))
	html := filepath.Join(t.TempDir(), "viz.html")
	res, err := CheckLinearizable(ops, LinConfig{Timeout: 30 * time.Second, VisualizePath: html})
	if err != nil || res.Verdict != NotLinearizable || len(res.BadKeys) != 2 {
		t.Fatalf("%v: %v", err, res)
	}
	if res.VisualizedKey != "short" || res.Visualization != html || !strings.Contains(res.String(), "(key short)") {
		t.Fatalf("visualized %q: %v", res.VisualizedKey, res)
	}
	b, err := os.ReadFile(html)
	if err != nil || strings.Contains(string(b), "put(long") {
		t.Fatalf("%v: the page draws key long too", err)
	}

	capped := filepath.Join(t.TempDir(), "capped.html")
	res, err = CheckLinearizable(ops, LinConfig{Timeout: 30 * time.Second, VisualizePath: capped, VisualizeMaxBytes: 1000})
	if err != nil || res.Visualization != "" || !strings.Contains(res.VisualizationNote, "over its cap of 1000 bytes") {
		t.Fatalf("%v: %v", err, res)
	}
	if _, err := os.Stat(capped); err == nil {
		t.Fatal("a visualization over the cap was written")
	}
}
