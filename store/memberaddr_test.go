package store

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/mpaxos/mpaxos/engine"
)

// A snapshot's membership keeps its members' addresses across a reopen,
// and a record in the form written before addresses existed (voters and
// learners only) still reads back, with none.
func TestSnapshotMembershipAddrs(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, memConfig(fs))
	const g = 2
	m := engine.Membership{Voters: []engine.NodeID{1, 2, 4}, Learners: []engine.NodeID{6},
		Addrs: map[engine.NodeID]string{4: "10.0.0.4:7000", 6: "10.0.0.6:7000 10.0.0.6:9000"}}
	if err := s.SaveSnapshot(g, engine.Snapshot{Slot: 4, Data: []byte("s4"), Membership: m}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, memConfig(fs))
	got, err := s.Log(g).Snapshot()
	if err != nil || !got.Membership.Equal(m) {
		t.Fatalf("after reopen: %+v, %v; want %v with addresses %v", got.Membership, err, m, m.Addrs)
	}

	// The old form, as such a store wrote it: voters 1 2 3, learner 5.
	old := []byte{3, 1, 1, 0, 2, 0, 3, 0, 5, 0}
	key := appendMetaKey(nil, g, kindSnapConf)
	val := make([]byte, snapConfHeaderLen+len(old))
	putSnapConf(key, val, 4, old)
	if err := s.db.Set(key, val, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.Log(g).Snapshot()
	want := engine.Membership{Voters: []engine.NodeID{1, 2, 3}, Learners: []engine.NodeID{5}}
	if err != nil || !got.Membership.Equal(want) || got.Membership.Addrs != nil {
		t.Fatalf("old form read back as %+v, %v; want %v", got.Membership, err, want)
	}
	s.Close()
}
