package store

import (
	"errors"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/mpaxos/mpaxos/engine"
)

// A snapshot's membership is stored with it and read back after a reopen;
// a later snapshot without one (unknown) leaves none behind; a
// configuration change entry is stored like any other.
func TestSnapshotMembership(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, memConfig(fs))
	const g = 3
	conf := engine.Entry{Slot: 5, Ballot: engine.MakeBallot(1, 1), Type: engine.EntryConfChange, Data: []byte("conf")}
	if err := s.Save(Write{Group: g, Entries: []engine.Entry{ent(g, 4, 1, 8), conf}}); err != nil {
		t.Fatalf("saving a conf-change entry: %v", err)
	}
	m := engine.Membership{Voters: []engine.NodeID{1, 2, 4}, Learners: []engine.NodeID{5}}
	if err := s.SaveSnapshot(g, engine.Snapshot{Slot: 4, Data: []byte("s4"), Membership: m}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, memConfig(fs))
	got, err := s.Log(g).Snapshot()
	if err != nil || got.Slot != 4 || !slices.Equal(got.Membership.Voters, m.Voters) || !slices.Equal(got.Membership.Learners, m.Learners) {
		t.Fatalf("after reopen: %+v, %v; want membership %+v", got, err, m)
	}
	es, err := s.Log(g).Entries(5, 6, 1<<20)
	if err != nil || len(es) != 1 || es[0].Type != engine.EntryConfChange || string(es[0].Data) != "conf" {
		t.Fatalf("conf-change entry read back as %+v, %v", es, err)
	}
	if err := s.SaveSnapshot(g, engine.Snapshot{Slot: 5, Data: []byte("s5")}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Log(g).Snapshot(); err != nil || got.Slot != 5 || !got.Membership.IsZero() {
		t.Fatalf("a snapshot without membership read back as %+v, %v", got, err)
	}
	s.Close()
}

// A membership record that does not belong to the stored snapshot is
// reported as corrupt, naming the record.
func TestSnapshotMembershipMismatch(t *testing.T) {
	s := mustOpen(t, memConfig(vfs.NewMem()))
	defer s.Close()
	const g = 1
	m := engine.Membership{Voters: []engine.NodeID{1, 2, 3}}
	if err := s.SaveSnapshot(g, engine.Snapshot{Slot: 7, Membership: m}); err != nil {
		t.Fatal(err)
	}
	conf, _ := m.MarshalBinary()
	key := appendMetaKey(nil, g, kindSnapConf)
	val := make([]byte, snapConfHeaderLen+len(conf))
	putSnapConf(key, val, 6, conf) // well formed, for another slot
	if err := s.db.Set(key, val, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.Log(g).Snapshot()
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.kind != recSnapConf {
		t.Fatalf("Snapshot with a stray membership record: %v", err)
	}
}
