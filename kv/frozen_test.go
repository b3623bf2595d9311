package kv

import (
	"bytes"
	"fmt"
	"testing"
)

// A frozen capture encodes exactly what Snapshot gave at that moment, even
// after the machine goes on applying (overwrites, deletes, new sessions).
func TestFreezeIsAPointInTimeSnapshot(t *testing.T) {
	m := newMachine(t, DefaultSessionTTL)
	slot := uint64(0)
	for i := 0; i < 200; i++ {
		slot++
		m.Apply(slot, put(uint64(i%7+1), uint64(i/7+1), fmt.Sprintf("k%d", i%50), fmt.Sprintf("v%d", i)))
	}
	want := m.SnapshotBytes()
	f := m.Freeze()
	for i := 0; i < 200; i++ {
		slot++
		m.Apply(slot, put(uint64(i%9+100), uint64(i/9+1), fmt.Sprintf("k%d", i%60), fmt.Sprintf("w%d", i)))
		if i%3 == 0 {
			slot++
			m.Apply(slot, Command{Op: OpDelete, Key: []byte(fmt.Sprintf("k%d", i%50))})
		}
	}
	if got := f.Encode(); !bytes.Equal(got, want) {
		t.Fatalf("frozen encoding differs from the snapshot taken at freeze time (%d vs %d bytes)", len(got), len(want))
	}
	if f.Applied() != 200 {
		t.Fatalf("applied %d", f.Applied())
	}
	r := newMachine(t, DefaultSessionTTL)
	if err := r.RestoreBytes(want); err != nil {
		t.Fatal(err)
	}
}
