package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, cfg Config) *Batcher {
	t.Helper()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeAll(t testing.TB, batch []byte) []string {
	t.Helper()
	var out []string
	if err := ForEach(batch, func(cmd []byte) error {
		out = append(out, string(cmd))
		return nil
	}); err != nil {
		t.Fatalf("batcher produced a malformed batch: %v", err)
	}
	return out
}

func TestValidate(t *testing.T) {
	mod := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings, one per expected problem
	}{
		{"default", DefaultConfig(), nil},
		{"fixed", mod(func(c *Config) { c.Adaptive = false; c.MaxDelay = 0 }), nil},
		{"zero count", mod(func(c *Config) { c.MaxCount = 0 }), []string{"MaxCount"}},
		{"bytes below a header", mod(func(c *Config) { c.MaxBytes = HeaderSize }), []string{"MaxBytes"}},
		{"bytes too large", mod(func(c *Config) {
			c.MaxBytes, c.MaxQueueBytes, c.ArenaBytes = MaxBatchBytes+1, MaxBatchBytes+1, MaxBatchBytes+1
		}), []string{"MaxBytes"}},
		{"negative delay", mod(func(c *Config) { c.MaxDelay = -1 }), []string{"MaxDelay"}},
		{"small queue and arena", mod(func(c *Config) { c.MaxQueueBytes = 100; c.ArenaBytes = 100 }),
			[]string{"MaxQueueBytes", "ArenaBytes"}},
		{"zero config", Config{}, []string{"MaxCount", "MaxBytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate = %v, want ErrConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q, missing a problem with %s", err, w)
				}
			}
			if _, err := New(tt.cfg); err == nil {
				t.Errorf("New accepted an invalid config")
			}
		})
	}
}

// step is one scripted action on a Batcher and what it must produce.
type step struct {
	add  string        // Add this command (if non-empty)
	next bool          // call Next
	at   time.Duration // now = t0 + at
	room bool
	want []string // Next must return a batch with these commands; nil = no batch
}

func TestBatcherScripts(t *testing.T) {
	fixed := DefaultConfig()
	fixed.Adaptive = false
	fixed.MaxCount = 3
	fixed.MaxDelay = 10 * time.Millisecond

	adaptive := DefaultConfig()
	adaptive.MaxCount = 2

	small := DefaultConfig() // bytes-bounded: header 9 + two 4-byte commands with 1-byte index each
	small.MaxBytes = HeaderSize + 2*5
	small.MaxQueueBytes, small.ArenaBytes = 1000, 64

	ms := time.Millisecond
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"fixed: full by count goes at once", fixed, []step{
			{add: "a"}, {add: "b"}, {add: "c"},
			{next: true, room: true, want: []string{"a", "b", "c"}},
			{next: true, room: true},
		}},
		{"fixed: waits for the delay", fixed, []step{
			{add: "a"},
			{next: true, at: 0, room: true},
			{add: "b"},
			{next: true, at: 9 * ms, room: true},
			{next: true, at: 10 * ms, room: true, want: []string{"a", "b"}},
			{next: true, at: 20 * ms, room: true},
		}},
		{"fixed: delay clock starts at first Next", fixed, []step{
			{next: true, at: 0, room: true},
			{add: "a"},
			{next: true, at: 5 * ms, room: false},
			{next: true, at: 14 * ms, room: true},
			{next: true, at: 15 * ms, room: true, want: []string{"a"}},
		}},
		{"fixed: no room holds a due batch", fixed, []step{
			{add: "a"}, {add: "b"}, {add: "c"}, {add: "d"},
			{next: true, at: 0, room: false},
			{next: true, at: 50 * ms, room: false},
			{add: "e"},
			{next: true, at: 60 * ms, room: true, want: []string{"a", "b", "c"}},
			{next: true, at: 60 * ms, room: true, want: []string{"d", "e"}},
		}},
		{"adaptive: room hands out at once", adaptive, []step{
			{add: "a"},
			{next: true, room: true, want: []string{"a"}},
			{next: true, room: true},
		}},
		{"adaptive: collects while full", adaptive, []step{
			{add: "a"}, {add: "b"}, {add: "c"}, {add: "d"}, {add: "e"},
			{next: true, room: false},
			{next: true, room: true, want: []string{"a", "b"}},
			{next: true, room: true, want: []string{"c", "d"}},
			{next: true, room: true, want: []string{"e"}},
			{next: true, room: true},
		}},
		{"bytes bound", small, []step{
			{add: "aaaa"}, {add: "bbbb"}, {add: "cccc"}, {add: "d"},
			{next: true, room: true, want: []string{"aaaa", "bbbb"}},
			{next: true, room: true, want: []string{"cccc", "d"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustNew(t, tt.cfg)
			for i, s := range tt.steps {
				if s.add != "" {
					if err := b.Add([]byte(s.add)); err != nil {
						t.Fatalf("step %d: Add(%q): %v", i, s.add, err)
					}
				}
				if !s.next {
					continue
				}
				batch, ok := b.Next(t0.Add(s.at), s.room)
				if s.want == nil {
					if ok {
						t.Fatalf("step %d: Next returned %q, want nothing", i, decodeAll(t, batch))
					}
					continue
				}
				if !ok {
					t.Fatalf("step %d: Next returned nothing, want %q", i, s.want)
				}
				if got := decodeAll(t, batch); strings.Join(got, ",") != strings.Join(s.want, ",") {
					t.Fatalf("step %d: batch %q, want %q", i, got, s.want)
				}
				if len(batch) > tt.cfg.MaxBytes {
					t.Fatalf("step %d: batch of %d bytes exceeds MaxBytes %d", i, len(batch), tt.cfg.MaxBytes)
				}
			}
			if b.Len() != 0 {
				t.Errorf("script left %d commands queued", b.Len())
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Adaptive = false
	cfg.MaxDelay = 7 * time.Millisecond
	b := mustNew(t, cfg)
	if _, ok := b.Deadline(); ok {
		t.Fatal("Deadline ok with nothing queued")
	}
	b.Add([]byte("a"))
	if d, ok := b.Deadline(); !ok || !d.IsZero() {
		t.Fatalf("Deadline before the clock starts = %v, %v; want now", d, ok)
	}
	b.Next(t0, true)
	if d, ok := b.Deadline(); !ok || !d.Equal(t0.Add(7*time.Millisecond)) {
		t.Fatalf("Deadline = %v, %v; want t0+7ms", d, ok)
	}
	if _, ok := b.Next(t0.Add(7*time.Millisecond), true); !ok {
		t.Fatal("no batch at the deadline")
	}
	if _, ok := b.Deadline(); ok {
		t.Fatal("Deadline ok after the batch left")
	}
}

func TestAddErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxBytes, cfg.MaxQueueBytes, cfg.ArenaBytes = 64, 64, 64
	b := mustNew(t, cfg)
	if err := b.Add(make([]byte, 64-HeaderSize)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Add(oversize) = %v, want ErrTooLarge", err)
	}
	if err := b.Add(make([]byte, 64-HeaderSize-1)); err != nil {
		t.Fatalf("Add(largest) = %v", err)
	}
	if err := b.Add([]byte("x")); !errors.Is(err, ErrFull) {
		t.Fatalf("Add past MaxQueueBytes = %v, want ErrFull", err)
	}
	if b.Len() != 1 || b.Bytes() != 64 {
		t.Fatalf("Len, Bytes = %d, %d after refusals; want 1, 64", b.Len(), b.Bytes())
	}
	if batch, ok := b.Next(t0, true); !ok || len(batch) != 64 {
		t.Fatalf("Next = %d bytes, %v; want the 64-byte batch", len(batch), ok)
	}
	if err := b.Add([]byte("x")); err != nil {
		t.Fatalf("Add after draining = %v", err)
	}
}

func TestReset(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxCount = 2
	b := mustNew(t, cfg)
	for _, c := range []string{"a", "b", "c"} {
		b.Add([]byte(c))
	}
	if n := b.Reset(); n != 3 || b.Len() != 0 || b.Bytes() != 0 {
		t.Fatalf("Reset = %d, Len %d, Bytes %d; want 3, 0, 0", n, b.Len(), b.Bytes())
	}
	if _, ok := b.Next(t0, true); ok {
		t.Fatal("Next returned a batch after Reset")
	}
	b.Add([]byte("d"))
	batch, _ := b.Next(t0, true)
	if got := decodeAll(t, batch); len(got) != 1 || got[0] != "d" {
		t.Fatalf("after Reset got %q, want [d]", got)
	}
}

// TestFIFOAndOwnership drives random adds and Nexts in both modes and checks
// that (1) every command comes out exactly once, in the order added, (2) every
// batch respects MaxCount and MaxBytes, and (3) a handed-out batch is never
// written again, although the Batcher keeps carving later batches from the
// same arenas.
func TestFIFOAndOwnership(t *testing.T) {
	for _, adaptive := range []bool{true, false} {
		for seed := range uint64(20) {
			rng := rand.New(rand.NewPCG(seed, 1))
			cfg := Config{
				MaxCount:      1 + rng.IntN(20),
				MaxBytes:      HeaderSize + 40 + rng.IntN(400),
				MaxDelay:      time.Duration(rng.IntN(5)) * time.Millisecond,
				Adaptive:      adaptive,
				MaxQueueBytes: 1 << 20,
			}
			cfg.ArenaBytes = cfg.MaxBytes * (1 + rng.IntN(4))
			b := mustNew(t, cfg)

			type handed struct{ batch, copy []byte }
			var out []handed
			var added, got uint64
			now := t0
			for range 3000 {
				switch r := rng.IntN(10); {
				case r < 6:
					// Command: its number, padded to a random length.
					cmd := binary.BigEndian.AppendUint64(nil, added)
					cmd = append(cmd, bytes.Repeat([]byte{byte(added)}, rng.IntN(30))...)
					if err := b.Add(cmd); err != nil {
						t.Fatalf("seed %d: Add: %v", seed, err)
					}
					added++
				default:
					now = now.Add(time.Duration(rng.IntN(3)) * time.Millisecond)
					batch, ok := b.Next(now, rng.IntN(3) > 0)
					if !ok {
						continue
					}
					out = append(out, handed{batch, append([]byte(nil), batch...)})
					n := 0
					if err := ForEach(batch, func(cmd []byte) error {
						if seq := binary.BigEndian.Uint64(cmd); seq != got {
							t.Fatalf("seed %d: got command %d, want %d (FIFO broken)", seed, seq, got)
						}
						got++
						n++
						return nil
					}); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
					if n > cfg.MaxCount || len(batch) > cfg.MaxBytes {
						t.Fatalf("seed %d: batch of %d cmds / %d bytes exceeds %d / %d", seed, n, len(batch), cfg.MaxCount, cfg.MaxBytes)
					}
				}
			}
			// Drain as a node would: wake up at each Deadline.
			for range 10000 {
				d, ok := b.Deadline()
				if !ok {
					break
				}
				if d.After(now) {
					now = d
				}
				batch, ok := b.Next(now, true)
				if !ok {
					continue
				}
				out = append(out, handed{batch, append([]byte(nil), batch...)})
				got += uint64(decodeLen(t, batch))
			}
			if got != added || b.Len() != 0 || b.Bytes() != 0 {
				t.Fatalf("seed %d: %d added, %d handed out, Len %d, Bytes %d", seed, added, got, b.Len(), b.Bytes())
			}
			for i, h := range out {
				if !bytes.Equal(h.batch, h.copy) {
					t.Fatalf("seed %d: batch %d was modified after it was handed out", seed, i)
				}
			}
		}
	}
}

func decodeLen(t *testing.T, batch []byte) int {
	n, err := Count(batch)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Steady state allocates nothing per command or per batch: commands are
// copied into the current arena and the ready queue's array is reused.
func TestNoAllocsPerCommand(t *testing.T) {
	b := mustNew(t, DefaultConfig())
	cmd := make([]byte, 100)
	cycle := func() {
		for range 10 {
			if err := b.Add(cmd); err != nil {
				t.Fatal(err)
			}
		}
		for _, ok := b.Next(t0, true); ok; _, ok = b.Next(t0, true) {
		}
	}
	cycle() // the first arena and scratch slices
	// 100 cycles of 10 commands use ~110 KB of the 8 MiB arena: no new one.
	if allocs := testing.AllocsPerRun(100, cycle); allocs != 0 {
		t.Fatalf("%v allocations per 10 commands, want 0", allocs)
	}
}

func TestMaxCommand(t *testing.T) {
	for _, max := range []int{HeaderSize + 2, 64, 137, 138, 139, 140, 1 << 14, 1<<14 + 12, 1 << 20} {
		cfg := DefaultConfig()
		cfg.MaxBytes, cfg.ArenaBytes = max, max
		b := mustNew(t, cfg)
		n := cfg.MaxCommand()
		if err := b.Add(make([]byte, n+1)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("MaxBytes %d: Add(MaxCommand+1 = %d) = %v, want ErrTooLarge", max, n+1, err)
		}
		if err := b.Add(make([]byte, n)); err != nil {
			t.Errorf("MaxBytes %d: Add(MaxCommand = %d) = %v", max, n, err)
		}
		if batch, ok := b.Next(t0, true); !ok || len(batch) > max {
			t.Errorf("MaxBytes %d: batch of %d bytes", max, len(batch))
		}
	}
}
