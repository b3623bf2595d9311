package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func sampleMachine(t testing.TB) *Machine {
	m := newMachine(t, 100)
	m.Apply(1, put(1, 1, "alpha", "one"))
	m.Apply(2, put(2, 1, "beta", ""))
	m.Apply(2, get(1, 2, "alpha"))
	m.Apply(3, cas(3, 7, "alpha", "x", "y"))
	return m
}

// reseal replaces b's checksum, so tests reach the checks behind it.
func reseal(b []byte) []byte {
	body := b[:len(b)-4]
	return binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, castagnoli))
}

func TestSnapshotRoundTrip(t *testing.T) {
	m := sampleMachine(t)
	snap := m.Snapshot()
	r := newMachine(t, 100)
	r.Apply(1, put(9, 1, "stale", "state")) // Restore replaces, not merges
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if r.Hash() != m.Hash() || r.AppliedSlot() != 3 || r.Len() != 2 || r.Sessions() != 3 {
		t.Fatalf("restored: applied %d, %d keys, %d sessions", r.AppliedSlot(), r.Len(), r.Sessions())
	}
	if _, ok := r.Get([]byte("stale")); ok {
		t.Fatal("Restore kept a key that was not in the snapshot")
	}
	// Sessions survive: retries are still answered from them.
	if res, dup := r.Apply(4, get(1, 2, "alpha")); !dup || string(res.Value) != "one" {
		t.Fatalf("retry after restore: %v %q dup=%v", res.Status, res.Value, dup)
	}
	if res, dup := r.Apply(4, cas(3, 7, "alpha", "x", "y")); !dup || res.Status != StatusCASFailed || string(res.Value) != "one" {
		t.Fatalf("retried cas after restore: %v %q dup=%v", res.Status, res.Value, dup)
	}
	// Restore copies: clobbering the snapshot afterwards changes nothing.
	h := r.Hash()
	clear(snap)
	if r.Hash() != h {
		t.Fatal("restored machine aliases the snapshot bytes")
	}
}

func TestRestoreEmpty(t *testing.T) {
	m := newMachine(t, 5)
	r := sampleMachine(t)
	if err := r.Restore(m.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if r.Hash() != m.Hash() || r.Len() != 0 || r.Sessions() != 0 {
		t.Fatal("restoring an empty snapshot did not empty the machine")
	}
}

// Every truncation and every single-bit flip is refused, and the machine is
// left as it was.
func TestRestoreDamaged(t *testing.T) {
	snap := sampleMachine(t).Snapshot()
	m := newMachine(t, 100)
	m.Apply(1, put(1, 1, "mine", "x"))
	before := m.Hash()
	check := func(what string, b []byte) {
		t.Helper()
		if err := m.Restore(b); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("%s: Restore = %v, want ErrCorruptSnapshot", what, err)
		}
		if m.Hash() != before {
			t.Fatalf("%s: a failed Restore changed the machine", what)
		}
	}
	for n := range len(snap) {
		check("truncated", snap[:n])
	}
	for i := range len(snap) * 8 {
		b := append([]byte(nil), snap...)
		b[i/8] ^= 1 << (i % 8)
		check("bit flip", b)
	}
}

// Damage behind a valid checksum (a buggy writer, not a bad disk) is refused
// by the structural checks.
func TestRestoreInconsistent(t *testing.T) {
	m := newMachine(t, 100)
	m.Apply(5, put(0, 0, "a", "1"))
	m.Apply(5, put(0, 0, "b", "2"))
	m.Apply(5, put(7, 3, "c", "3"))
	snap := m.Snapshot()
	// Layout: header 13 | nKeys=3 | 01 'a' 01 '1' | 01 'b' 01 '2' | 01 'c' 01 '3' | nSess=1 | session | crc
	const keysAt = 14
	session := keysAt + 3*4 + 1
	edit := func(f func(b []byte)) []byte {
		b := append([]byte(nil), snap...)
		f(b)
		return reseal(b)
	}
	tests := map[string][]byte{
		"bad magic":          edit(func(b []byte) { b[0] = 'X' }),
		"bad version":        edit(func(b []byte) { b[4] = 3 }),
		"version 1":          edit(func(b []byte) { b[4] = 1 }),
		"unsorted keys":      edit(func(b []byte) { b[keysAt+1] = 'b'; b[keysAt+5] = 'a' }),
		"duplicate keys":     edit(func(b []byte) { b[keysAt+5] = 'a' }),
		"huge key count":     edit(func(b []byte) { b[13] = 0x7f }),
		"client id zero":     edit(func(b []byte) { clear(b[session : session+8]) }),
		"seq zero":           edit(func(b []byte) { b[session+16] = 0 }),
		"last after applied": edit(func(b []byte) { b[session+17] = 6 }),
		"bad status":         edit(func(b []byte) { b[session+18] = 0 }),
		"trailing byte":      reseal(append(append([]byte(nil), snap[:len(snap)-4]...), 0, 0, 0, 0, 0)),
	}
	if snap[13] != 3 || snap[session-1] != 1 || binary.LittleEndian.Uint64(snap[session:]) != 7 {
		t.Fatalf("snapshot layout changed; fix the offsets in this test: %x", snap)
	}
	if err := newMachine(t, 100).Restore(reseal(snap)); err != nil {
		t.Fatalf("resealing alone broke the snapshot: %v", err)
	}
	for name, b := range tests {
		if err := newMachine(t, 100).Restore(b); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: Restore = %v, want ErrCorruptSnapshot", name, err)
		}
	}
}

// FuzzRestore feeds arbitrary snapshot bodies with a correct checksum, so the
// fuzzer explores the parser rather than the CRC. Whatever Restore accepts it
// must snapshot back to the same bytes (the format is canonical).
func FuzzRestore(f *testing.F) {
	m := sampleMachine(f)
	f.Add(m.Snapshot()[:len(m.Snapshot())-4])
	rng := rand.New(rand.NewPCG(1, 1))
	slots, cmds := randomLog(rng, 50)
	r := newMachine(f, 20)
	for i := range cmds {
		r.Apply(slots[i], cmds[i])
	}
	f.Add(r.Snapshot()[:len(r.Snapshot())-4])
	f.Add([]byte("MPKV\x02"))
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, castagnoli))
		m := newMachine(t, 100)
		if err := m.Restore(b); err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error %v does not wrap ErrCorruptSnapshot", err)
			}
			return
		}
		if again := m.Snapshot(); !bytes.Equal(again, b) {
			t.Fatalf("snapshot of a restored machine differs:\n in %x\nout %x", b, again)
		}
	})
}
