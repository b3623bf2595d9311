package check

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// state is what a read-back finds: key -> value, absent if missing.
type state map[string]string

func (s state) read(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := s[key]
	if v == "ERR" {
		return nil, false, errors.New("no quorum")
	}
	return []byte(v), ok, nil
}

func casFailed(op Op) Op { op.CASOK = false; return op }

func TestLostWrites(t *testing.T) {
	tests := []struct {
		name    string
		writes  []Op
		final   state
		lost    int
		foreign int
		unver   int
	}{
		{"nothing written", nil, state{}, 0, 0, 0},
		{"last write read back", []Op{put(0, "k", "a", 0, 1), put(0, "k", "b", 2, 3)}, state{"k": "b"}, 0, 0, 0},
		{"later write of the same key is not a loss", []Op{
			put(0, "k", "a", 0, 1), put(1, "k", "b", 5, 6), put(0, "k", "c", 10, 11),
		}, state{"k": "c"}, 0, 0, 0},
		{"overlapping writes: either may be last", []Op{
			put(0, "k", "a", 0, 10), put(1, "k", "b", 5, 15),
		}, state{"k": "a"}, 0, 0, 0},
		{"stale value: one write lost", []Op{
			put(0, "k", "a", 0, 1), put(0, "k", "b", 2, 3),
		}, state{"k": "a"}, 1, 0, 0},
		{"stale value: every write after it lost", []Op{
			put(0, "k", "a", 0, 1), put(0, "k", "b", 2, 3), put(1, "k", "c", 4, 5), put(0, "k", "d", 4, 6),
		}, state{"k": "a"}, 3, 0, 0},
		{"key vanished", []Op{put(0, "k", "a", 0, 1)}, state{}, 1, 0, 0},
		{"acknowledged delete", []Op{put(0, "k", "a", 0, 1), del(0, "k", 2, 3)}, state{}, 0, 0, 0},
		{"write after delete lost", []Op{put(0, "k", "a", 0, 1), del(0, "k", 2, 3), put(0, "k", "b", 4, 5)}, state{}, 1, 0, 0},
		{"delete lost", []Op{put(0, "k", "a", 0, 1), del(0, "k", 2, 3)}, state{"k": "a"}, 1, 0, 0},
		{"value never written", []Op{put(0, "k", "a", 0, 1), put(0, "k", "b", 2, 3)}, state{"k": "zzz"}, 2, 1, 0},
		{"unknown write applied late", []Op{
			put(0, "k", "a", 0, 1), unknown(put(0, "k", "b", 2, 2)), put(1, "k", "c", 10, 11),
		}, state{"k": "b"}, 0, 0, 0},
		{"unknown write never applied", []Op{
			put(0, "k", "a", 0, 1), unknown(put(0, "k", "b", 2, 2)),
		}, state{"k": "a"}, 0, 0, 0},
		{"only unknown writes, none applied", []Op{unknown(put(0, "k", "b", 2, 2))}, state{}, 0, 0, 0},
		{"successful cas is a write", []Op{
			put(0, "k", "a", 0, 1), cas(0, "k", "a", "b", true, 2, 3),
		}, state{"k": "a"}, 1, 0, 0},
		{"failed cas is no write", []Op{
			put(0, "k", "a", 0, 1), casFailed(cas(0, "k", "x", "b", false, 2, 3)),
		}, state{"k": "a"}, 0, 0, 0},
		{"per key", []Op{
			put(0, "k1", "a", 0, 1), put(0, "k2", "a", 0, 1), put(0, "k2", "b", 2, 3),
		}, state{"k1": "a", "k2": "a"}, 1, 0, 0},
		{"read-back failure is unverified, not lost", []Op{
			put(0, "k1", "a", 0, 1), put(0, "k2", "b", 0, 1),
		}, state{"k1": "ERR", "k2": "b"}, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := LostWrites(context.Background(), tt.writes, tt.final.read, LostConfig{Concurrency: 3, MaxExamples: 10})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Lost != tt.lost || rep.Foreign != tt.foreign || rep.Unverified != tt.unver {
				t.Fatalf("lost %d foreign %d unverified %d, want %d %d %d: %v %v",
					rep.Lost, rep.Foreign, rep.Unverified, tt.lost, tt.foreign, tt.unver, rep, rep.Examples)
			}
			if rep.OK() != (tt.lost == 0 && tt.foreign == 0 && tt.unver == 0) {
				t.Fatalf("OK() = %v for %v", rep.OK(), rep)
			}
			if !strings.HasPrefix(rep.String(), LostLine(tt.lost)) {
				t.Fatalf("report %q", rep)
			}
			got := 0
			for _, ex := range rep.Examples {
				got += len(ex.Lost)
				if ex.String() == "" {
					t.Fatal("empty example")
				}
			}
			if got != tt.lost {
				t.Fatalf("examples hold %d lost writes, want %d", got, tt.lost)
			}
		})
	}
}

func TestLostLine(t *testing.T) {
	if got := LostLine(0); got != "acknowledged writes lost: 0" {
		t.Fatal(got)
	}
}

func TestLostWritesCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var reads atomic.Int32
	read := func(ctx context.Context, key string) ([]byte, bool, error) {
		if reads.Add(1) == 2 {
			cancel()
		}
		return []byte("a"), true, nil
	}
	var ws []Op
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		ws = append(ws, put(0, k, "a", 0, 1))
	}
	rep, err := LostWrites(ctx, ws, read, LostConfig{Concurrency: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if rep.Unverified == 0 || rep.OK() {
		t.Fatalf("cancelled run verified everything: %v", rep)
	}
	if _, err := LostWrites(context.Background(), nil, read, LostConfig{}); err == nil {
		t.Fatal("zero concurrency accepted")
	}
}

// A key that holds an earlier run's value: not corruption with
// PriorState, but every acknowledged write after it is still lost.
func TestLostWritesPriorState(t *testing.T) {
	for _, tc := range []struct {
		name          string
		writes        []Op
		final         state
		prior         bool
		lost, foreign int
	}{
		{"only unknown writes, earlier value kept", []Op{unknown(put(0, "k", "b", 2, 2))}, state{"k": "old"}, true, 0, 0},
		{"the same, from an empty start", []Op{unknown(put(0, "k", "b", 2, 2))}, state{"k": "old"}, false, 0, 1},
		{"acknowledged writes after the earlier value lost", []Op{put(0, "k", "a", 0, 1), put(0, "k", "b", 2, 3)}, state{"k": "old"}, true, 2, 0},
		{"last write read back", []Op{put(0, "k", "a", 0, 1)}, state{"k": "a"}, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := LostWrites(context.Background(), tc.writes, tc.final.read, LostConfig{Concurrency: 2, PriorState: tc.prior})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Lost != tc.lost || rep.Foreign != tc.foreign {
				t.Fatalf("lost %d foreign %d, want %d %d", rep.Lost, rep.Foreign, tc.lost, tc.foreign)
			}
		})
	}
}
