package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/mpaxos/mpaxos/sm"
)

func sampleMachine(t testing.TB) *testMachine {
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
		if err := m.Restore(b); !errors.Is(err, sm.ErrCorruptSnapshot) {
			t.Fatalf("%s: Restore = %v, want sm.ErrCorruptSnapshot", what, err)
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
// by the structural checks. (The sessions' are sm's: its own tests.)
func TestRestoreInconsistent(t *testing.T) {
	m := newMachine(t, 100)
	m.Apply(5, put(0, 0, "a", "1"))
	m.Apply(5, put(0, 0, "b", "2"))
	m.Apply(5, put(7, 3, "c", "3"))
	snap := m.SnapshotBytes()
	// Layout: header 13 | nKeys=3 | 01 'a' 01 '1' | 01 'b' 01 '2' | 01 'c' 01 '3' | crc
	const keysAt = 14
	edit := func(f func(b []byte)) []byte {
		b := append([]byte(nil), snap...)
		f(b)
		return reseal(b)
	}
	tests := map[string][]byte{
		"bad magic":      edit(func(b []byte) { b[0] = 'X' }),
		"bad version":    edit(func(b []byte) { b[4] = 4 }),
		"version 1":      edit(func(b []byte) { b[4] = 1 }),
		"version 2":      edit(func(b []byte) { b[4] = 2 }), // has sessions: RestoreLegacy's
		"unsorted keys":  edit(func(b []byte) { b[keysAt+1] = 'b'; b[keysAt+5] = 'a' }),
		"duplicate keys": edit(func(b []byte) { b[keysAt+5] = 'a' }),
		"huge key count": edit(func(b []byte) { b[13] = 0x7f }),
		"trailing byte":  reseal(append(append([]byte(nil), snap[:len(snap)-4]...), 0, 0, 0, 0, 0)),
	}
	if snap[13] != 3 || len(snap) != keysAt+3*4+4 {
		t.Fatalf("snapshot layout changed; fix the offsets in this test: %x", snap)
	}
	if err := NewMachine().RestoreBytes(reseal(snap)); err != nil {
		t.Fatalf("resealing alone broke the snapshot: %v", err)
	}
	for name, b := range tests {
		if err := NewMachine().RestoreBytes(b); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: Restore = %v, want ErrCorruptSnapshot", name, err)
		}
	}
}

// A version 2 snapshot, as nodes stored it while the sessions were this
// package's (testdata/snapshot-v2.bin: the machine of sampleMachine with
// tokens 11, 22 and 33, written by the code of that time), restores through
// the runtime: keys, and sessions that still answer retries and refuse
// forgeries.
func TestRestoreVersion2(t *testing.T) {
	v2, err := os.ReadFile("testdata/snapshot-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, 100)
	if err := m.Restore(v2); err != nil {
		t.Fatal(err)
	}
	if m.AppliedSlot() != 3 || m.Len() != 2 || m.Sessions() != 3 {
		t.Fatalf("restored: applied %d, %d keys, %d sessions", m.AppliedSlot(), m.Len(), m.Sessions())
	}
	if v, ok := m.Get([]byte("alpha")); !ok || string(v) != "one" {
		t.Fatalf("alpha = %q %v", v, ok)
	}
	retry := get(1, 2, "alpha")
	retry.Token = 11
	if res, dup := m.Apply(4, retry); !dup || string(res.Value) != "one" {
		t.Fatalf("retry after restore: %v %q dup=%v", res.Status, res.Value, dup)
	}
	forged := put(3, 8, "alpha", "mine")
	if res, dup := m.Apply(4, forged); !dup || res.Status != StatusNotOwner {
		t.Fatalf("forgery after restore: %v dup=%v", res.Status, dup)
	}
	// The snapshot written now is the new envelope, and restores alike.
	r := newMachine(t, 100)
	if err := r.Restore(m.Snapshot()); err != nil || r.Hash() != m.Hash() {
		t.Fatalf("envelope after migration: %v, hash equal %v", err, r.Hash() == m.Hash())
	}
	// Damage in a version 2 snapshot is still refused, the machine unchanged.
	for _, b := range [][]byte{v2[:len(v2)-1], reseal(append(append([]byte(nil), v2[:len(v2)-4]...), 0, 0, 0, 0, 0))} {
		before := r.Hash()
		if err := r.Restore(b); !errors.Is(err, ErrCorruptSnapshot) || r.Hash() != before {
			t.Fatalf("damaged v2: %v, changed %v", err, r.Hash() != before)
		}
	}
	bad := append([]byte(nil), v2...)
	bad[0x1f] = 0 // the first session's ClientID low byte: 1 -> 0
	if err := NewMachine().RestoreBytes(reseal(bad)); err == nil {
		t.Fatal("RestoreBytes took a version 2 snapshot (its sessions would be lost)")
	}
	if _, _, _, err := NewMachine().RestoreLegacy(reseal(bad)); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("session with client 0: %v", err)
	}
}

// FuzzRestore feeds arbitrary snapshot bodies with a correct checksum, so the
// fuzzer explores the parser rather than the CRC. Whatever Restore accepts it
// must snapshot back to the same bytes (the format is canonical).
func FuzzRestore(f *testing.F) {
	m := sampleMachine(f)
	f.Add(m.SnapshotBytes()[:len(m.SnapshotBytes())-4])
	rng := rand.New(rand.NewPCG(1, 1))
	slots, cmds := randomLog(rng, 50)
	r := newMachine(f, 20)
	for i := range cmds {
		r.Apply(slots[i], cmds[i])
	}
	f.Add(r.SnapshotBytes()[:len(r.SnapshotBytes())-4])
	f.Add([]byte("MPKV\x03"))
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, castagnoli))
		m := NewMachine()
		if err := m.RestoreBytes(b); err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error %v does not wrap ErrCorruptSnapshot", err)
			}
			return
		}
		if again := m.SnapshotBytes(); !bytes.Equal(again, b) {
			t.Fatalf("snapshot of a restored machine differs:\n in %x\nout %x", b, again)
		}
	})
}
