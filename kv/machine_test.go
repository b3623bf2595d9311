package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

func put(c, s uint64, k, v string) Command {
	return Command{ClientID: c, Seq: s, Op: OpPut, Key: []byte(k), Value: []byte(v)}
}
func get(c, s uint64, k string) Command {
	return Command{ClientID: c, Seq: s, Op: OpGet, Key: []byte(k)}
}
func del(c, s uint64, k string) Command {
	return Command{ClientID: c, Seq: s, Op: OpDelete, Key: []byte(k)}
}
func cas(c, s uint64, k, expect, v string) Command {
	return Command{ClientID: c, Seq: s, Op: OpCAS, Key: []byte(k), Expect: []byte(expect), Value: []byte(v)}
}

func TestApplyScript(t *testing.T) {
	type step struct {
		slot   uint64
		cmd    Command
		status Status
		value  string
		dup    bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"put get delete", []step{
			{1, get(1, 1, "a"), StatusNotFound, "", false},
			{1, put(1, 2, "a", "x"), StatusOK, "", false},
			{2, get(1, 3, "a"), StatusOK, "x", false},
			{2, put(1, 4, "a", "y"), StatusOK, "", false},
			{3, get(1, 5, "a"), StatusOK, "y", false},
			{3, del(1, 6, "a"), StatusOK, "", false},
			{3, del(1, 7, "a"), StatusNotFound, "", false},
			{4, get(1, 8, "a"), StatusNotFound, "", false},
		}},
		{"empty key and value", []step{
			{1, put(1, 1, "", ""), StatusOK, "", false},
			{1, get(1, 2, ""), StatusOK, "", false},
			{1, cas(1, 3, "", "", "z"), StatusOK, "", false},
			{1, get(1, 4, ""), StatusOK, "z", false},
		}},
		{"cas", []step{
			{1, cas(1, 1, "k", "", "v"), StatusNotFound, "", false},
			{1, put(1, 2, "k", "v1"), StatusOK, "", false},
			{2, cas(1, 3, "k", "v0", "v2"), StatusCASFailed, "v1", false},
			{2, cas(1, 4, "k", "v1", "v2"), StatusOK, "", false},
			{2, get(1, 5, "k"), StatusOK, "v2", false},
		}},
		{"retries get the stored result", []step{
			{1, put(1, 1, "k", "a"), StatusOK, "", false},
			{2, get(1, 2, "k"), StatusOK, "a", false},
			{3, put(2, 1, "k", "b"), StatusOK, "", false},
			{4, get(1, 2, "k"), StatusOK, "a", true}, // the reply to seq 2, not the current value
			{5, get(1, 3, "k"), StatusOK, "b", false},
			{5, put(1, 1, "k", "c"), StatusStale, "", true}, // overtaken retry: not executed
			{6, get(2, 2, "k"), StatusOK, "b", false},
		}},
		{"retried cas is not re-evaluated", []step{
			{1, put(1, 1, "k", "a"), StatusOK, "", false},
			{2, cas(1, 2, "k", "a", "b"), StatusOK, "", false},
			{3, cas(1, 2, "k", "a", "b"), StatusOK, "", true}, // would fail if it executed again
		}},
		{"sequence gaps execute", []step{
			{1, put(1, 1, "k", "a"), StatusOK, "", false},
			{2, put(1, 5, "k", "b"), StatusOK, "", false},
			{3, put(1, 3, "k", "c"), StatusStale, "", true},
			{3, get(1, 6, "k"), StatusOK, "b", false},
		}},
		{"sessionless commands always execute", []step{
			{1, put(0, 0, "k", "a"), StatusOK, "", false},
			{1, get(0, 0, "k"), StatusOK, "a", false},
			{2, put(7, 0, "k", "b"), StatusOK, "", false},
			{2, put(7, 0, "k", "c"), StatusOK, "", false},
			{2, get(0, 0, "k"), StatusOK, "c", false},
		}},
		{"invalid op", []step{
			{1, Command{ClientID: 1, Seq: 1, Op: 9, Key: []byte("k")}, StatusBadRequest, "", false},
			{1, get(1, 2, "k"), StatusNotFound, "", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMachine(t, 1000)
			for i, s := range tt.steps {
				res, dup := m.Apply(s.slot, s.cmd)
				if res.Status != s.status || string(res.Value) != s.value || dup != s.dup {
					t.Fatalf("step %d %v %q seq %d: got %v %q dup=%v, want %v %q dup=%v",
						i, s.cmd.Op, s.cmd.Key, s.cmd.Seq, res.Status, res.Value, dup, s.status, s.value, s.dup)
				}
			}
		})
	}
}

// Apply copies what it stores: the caller may reuse the command's buffer.
func TestApplyCopies(t *testing.T) {
	m := newMachine(t, 1000)
	buf := AppendCommand(nil, &Command{ClientID: 1, Seq: 1, Op: OpPut, Key: []byte("key"), Value: []byte("val")})
	c, _ := DecodeCommand(buf)
	m.Apply(1, c)
	clear(buf)
	if v, ok := m.Get([]byte("key")); !ok || string(v) != "val" {
		t.Fatalf("after clobbering the command buffer Get = %q, %v", v, ok)
	}
}

func TestApplyPanicsOnOldSlot(t *testing.T) {
	m := newMachine(t, 1000)
	m.Apply(5, put(1, 1, "k", "v"))
	defer func() {
		if recover() == nil {
			t.Fatal("Apply at an older slot did not panic")
		}
	}()
	m.Apply(4, put(1, 2, "k", "v"))
}

// chainLog builds the log a set of clients would produce under retries: each
// client issues seq k only after seq k-1 was applied (one outstanding
// command), but every command may be retried, and retries may be delayed so
// that they land after the client's later commands. Command k of client c is
// CAS(c's key, expect k-1, set k): executed twice or out of order, it fails.
func chainLog(rng *rand.Rand, clients, perClient int) []Command {
	next := make([]int, clients) // next seq to issue, per client, from 1
	for i := range next {
		next[i] = 1
	}
	var log, delayed []Command
	for done := 0; done < clients; {
		// Occasionally release a delayed retry.
		if len(delayed) > 0 && rng.IntN(4) == 0 {
			i := rng.IntN(len(delayed))
			log = append(log, delayed[i])
			delayed = append(delayed[:i], delayed[i+1:]...)
			continue
		}
		c := rng.IntN(clients)
		s := next[c]
		if s > perClient {
			continue
		}
		id := uint64(c + 1)
		key := "client-" + strconv.Itoa(c)
		cmd := cas(id, uint64(s), key, strconv.Itoa(s-1), strconv.Itoa(s))
		if s == 1 {
			cmd = put(id, 1, key, "1")
		}
		for range rng.IntN(3) + 1 { // the original and immediate retries
			log = append(log, cmd)
		}
		for range rng.IntN(2) { // late retries
			delayed = append(delayed, cmd)
		}
		if next[c]++; next[c] > perClient {
			done++
		}
	}
	return append(log, delayed...)
}

func TestExactlyOnceInOrder(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 2))
		const clients, perClient = 5, 50
		log := chainLog(rng, clients, perClient)
		m := newMachine(t, 1<<20)
		executed := make(map[uint64]uint64) // client -> last executed seq
		first := make(map[[2]uint64]Result)
		slot := uint64(1)
		for _, cmd := range log {
			if rng.IntN(3) == 0 {
				slot++
			}
			res, dup := m.Apply(slot, cmd)
			key := [2]uint64{cmd.ClientID, cmd.Seq}
			if !dup {
				if _, ok := first[key]; ok {
					t.Fatalf("seed %d: client %d seq %d executed twice", seed, cmd.ClientID, cmd.Seq)
				}
				if want := executed[cmd.ClientID] + 1; cmd.Seq != want {
					t.Fatalf("seed %d: client %d executed seq %d after %d", seed, cmd.ClientID, cmd.Seq, want-1)
				}
				if res.Status != StatusOK {
					t.Fatalf("seed %d: client %d seq %d: %v %q (the CAS chain broke)", seed, cmd.ClientID, cmd.Seq, res.Status, res.Value)
				}
				executed[cmd.ClientID] = cmd.Seq
				first[key] = res
				continue
			}
			switch {
			case cmd.Seq == executed[cmd.ClientID]:
				if res.Status != first[key].Status || !bytes.Equal(res.Value, first[key].Value) {
					t.Fatalf("seed %d: retry of %v got %v, original %v", seed, key, res, first[key])
				}
			case cmd.Seq < executed[cmd.ClientID]:
				if res.Status != StatusStale {
					t.Fatalf("seed %d: overtaken retry of %v got %v, want stale", seed, key, res.Status)
				}
			default:
				t.Fatalf("seed %d: seq %d of client %d reported dup before executing", seed, cmd.Seq, cmd.ClientID)
			}
		}
		for c := range clients {
			key := "client-" + strconv.Itoa(c)
			if v, _ := m.Get([]byte(key)); string(v) != strconv.Itoa(perClient) {
				t.Fatalf("seed %d: %s = %q, want %d", seed, key, v, perClient)
			}
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	m := newMachine(t, 10) // sweeps every 10/8 = 1 slot
	m.Apply(1, put(1, 1, "k", "a"))
	m.Apply(1, put(2, 1, "j", "a"))
	if _, dup := m.Apply(10, put(1, 1, "k", "a")); !dup { // 9 slots idle: alive, and refreshed
		t.Fatal("retry within the TTL executed again")
	}
	if got := m.Sessions(); got != 2 {
		t.Fatalf("at slot 10: %d sessions, want 2", got)
	}
	m.Apply(11, get(3, 1, "k")) // client 2 idle for 10 slots: dropped by the sweep
	if got := m.Sessions(); got != 2 {
		t.Fatalf("at slot 11: %d sessions, want 2 (client 2 expired)", got)
	}
	if _, dup := m.Apply(19, put(1, 1, "k", "a")); !dup {
		t.Fatal("retry 9 slots after the refresh executed again")
	}
	// The documented trade-off: a retry after expiry executes again.
	if _, dup := m.Apply(29, put(1, 1, "k", "a")); dup {
		t.Fatal("retry after the TTL was still deduplicated")
	}
}

// The lazy check makes expiry exact even between sweeps: with TTL 80 the
// sweep runs every 10 slots, but a session idle for exactly 80 slots is gone.
func TestSessionExpiryExactBetweenSweeps(t *testing.T) {
	m := newMachine(t, 80)
	m.Apply(3, put(1, 1, "k", "a"))
	if _, dup := m.Apply(82, put(1, 1, "k", "a")); !dup {
		t.Fatal("expired one slot early")
	}
	if _, dup := m.Apply(162, put(1, 1, "k", "a")); dup {
		t.Fatal("not expired after exactly TTL slots")
	}
}

// randomLog is a workload over few keys and clients, with retries, sparse
// slots and every op, for determinism tests.
func randomLog(rng *rand.Rand, n int) (slots []uint64, cmds []Command) {
	slot := uint64(1)
	seqs := make([]uint64, 8)
	for range n {
		slot += uint64(rng.IntN(3)) // some slots hold several commands, some none
		c := rng.IntN(len(seqs))
		if rng.IntN(4) > 0 {
			seqs[c]++ // else a retry of the last seq (or seq 0: sessionless)
		}
		k := fmt.Sprintf("k%d", rng.IntN(12))
		v := fmt.Sprintf("v%d", rng.IntN(5))
		var cmd Command
		switch rng.IntN(4) {
		case 0:
			cmd = put(uint64(c), seqs[c], k, v)
		case 1:
			cmd = get(uint64(c), seqs[c], k)
		case 2:
			cmd = del(uint64(c), seqs[c], k)
		default:
			cmd = cas(uint64(c), seqs[c], k, fmt.Sprintf("v%d", rng.IntN(5)), v)
		}
		// Each client has its token; now and then a forger sends one of
		// theirs with another (refused while the session lives, and
		// registered when it does not).
		cmd.Token = uint64(c) + 1
		if rng.IntN(10) == 0 {
			cmd.Token = 1000 + uint64(rng.IntN(2))
		}
		slots, cmds = append(slots, slot), append(cmds, cmd)
	}
	return slots, cmds
}

// Two replicas fed the same log agree at every step, and so does a third
// that is rebuilt from the other's snapshot at random points, whatever the
// session TTL (so expiry is deterministic, across restores too).
func TestReplicasAgree(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 3))
		ttl := uint64(1 + rng.IntN(40))
		slots, cmds := randomLog(rng, 2000)
		a, b, c := newMachine(t, ttl), newMachine(t, ttl), newMachine(t, ttl)
		for i := range cmds {
			ra, da := a.Apply(slots[i], cmds[i])
			rb, db := b.Apply(slots[i], cmds[i])
			rc, dc := c.Apply(slots[i], cmds[i])
			if ra.Status != rb.Status || !bytes.Equal(ra.Value, rb.Value) || da != db ||
				ra.Status != rc.Status || !bytes.Equal(ra.Value, rc.Value) || da != dc {
				t.Fatalf("seed %d step %d: results differ: %v/%v/%v", seed, i, ra, rb, rc)
			}
			if a.Hash() != b.Hash() || a.Hash() != c.Hash() || a.Sessions() != c.Sessions() {
				t.Fatalf("seed %d step %d: hashes differ", seed, i)
			}
			if rng.IntN(50) == 0 {
				snap := a.Snapshot()
				if !bytes.Equal(snap, b.Snapshot()) {
					t.Fatalf("seed %d step %d: equal machines gave different snapshots", seed, i)
				}
				c = newMachine(t, ttl)
				if err := c.Restore(snap); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
				if c.Hash() != a.Hash() || !bytes.Equal(c.Snapshot(), snap) || c.AppliedSlot() != a.AppliedSlot() {
					t.Fatalf("seed %d step %d: restored machine differs", seed, i)
				}
			}
		}
	}
}

func TestHash(t *testing.T) {
	build := func(cmds ...Command) *testMachine {
		m := newMachine(t, 100)
		for _, c := range cmds {
			m.Apply(1, c)
		}
		return m
	}
	// Same content reached through different histories (and so different
	// internal layouts and map insertion orders): same hash.
	a := build(put(0, 0, "a", "1"), put(0, 0, "b", "2"), put(0, 0, "c", "3"))
	b := build(put(0, 0, "c", "3"), put(0, 0, "x", "9"), put(0, 0, "b", "2"), del(0, 0, "x"), put(0, 0, "a", "0"), put(0, 0, "a", "1"))
	if a.Hash() != b.Hash() {
		t.Fatal("equal content, different hash")
	}
	differ := map[string]*testMachine{
		"value":        build(put(0, 0, "a", "1"), put(0, 0, "b", "2"), put(0, 0, "c", "4")),
		"missing key":  build(put(0, 0, "a", "1"), put(0, 0, "b", "2")),
		"key boundary": build(put(0, 0, "a", "1"), put(0, 0, "b", "2"), put(0, 0, "", "c3")),
		"session":      build(put(0, 0, "a", "1"), put(0, 0, "b", "2"), put(5, 1, "c", "3")),
		"empty":        build(),
		"zero tail":    build(put(0, 0, "a", "1"), put(0, 0, "b", "2"), put(0, 0, "c", "3\x00")),
		"moved byte":   build(put(0, 0, "a", "1"), put(0, 0, "b", "2"), put(0, 0, "c3", "")),
	}
	for name, m := range differ {
		if m.Hash() == a.Hash() {
			t.Errorf("%s: different content, same hash", name)
		}
	}
	c := build(put(0, 0, "a", "1"), put(0, 0, "b", "2"), put(0, 0, "c", "3"))
	c.Apply(2, get(0, 0, "a"))
	if c.Hash() == a.Hash() {
		t.Error("applied slot not covered by the hash")
	}
}

// Apply allocates only the stored copies: nothing for reads, failed CAS and
// retries; one value copy for an overwrite; value and, for a key longer
// than the table holds inline, the key string for a new key.
func TestApplyAllocs(t *testing.T) {
	m := newMachine(t, 1000)
	key, val := []byte("key"), []byte("value")
	short, long := []byte("other"), bytes.Repeat([]byte("k"), inlineKey+1)
	m.Apply(1, put(1, 1, "key", "value"))
	seq := uint64(1)
	one := func(c Command) {
		seq++
		c.ClientID, c.Seq = 1, seq
		m.Apply(2, c)
	}
	tests := []struct {
		name string
		run  func()
		want float64
	}{
		{"get", func() { one(Command{Op: OpGet, Key: key}) }, 0},
		{"cas fail", func() { one(Command{Op: OpCAS, Key: key, Expect: val[:1], Value: val}) }, 0},
		{"overwrite", func() { one(Command{Op: OpPut, Key: key, Value: val}) }, 1},
		{"delete and insert short key", func() {
			one(Command{Op: OpDelete, Key: short})
			one(Command{Op: OpPut, Key: short, Value: val})
		}, 1}, // the value; the key is inline
		{"delete and insert long key", func() {
			one(Command{Op: OpDelete, Key: long})
			one(Command{Op: OpPut, Key: long, Value: val})
		}, 2}, // the value and the key string
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, tt.run); got != tt.want {
			t.Errorf("%s: %v allocations per run, want %v", tt.name, got, tt.want)
		}
	}
	retry := put(1, seq, "key", "value")
	if got := testing.AllocsPerRun(100, func() { m.Apply(3, retry) }); got != 0 {
		t.Errorf("retry: %v allocations, want 0", got)
	}
}
