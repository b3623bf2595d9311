package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/store"
)

// A node whose store holds a snapshot kv wrote while it kept the sessions
// (version 2, kv/testdata/snapshot-v2.bin, made by that code) starts from
// it: the runtime hands it to kv's RestoreLegacy and serves its keys; the
// next snapshot it takes is sm's envelope, and a restart restores that.
func TestRestartFromKVVersion2Snapshot(t *testing.T) {
	v2, err := os.ReadFile("../kv/testdata/snapshot-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "n1")
	scfg := store.DefaultConfig()
	scfg.Dir = dir
	st, err := store.Open(scfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save(store.Write{Group: 0, Snapshot: &engine.Snapshot{Slot: 3, Data: v2}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	c := newTestCluster(t, 1, func(cfg *Config) {
		cfg.DataDir = dir
		cfg.SnapshotEvery = 5
	})
	c.leader()
	s := c.client().Session()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	v, ok, err := s.Get(ctx, []byte("alpha"))
	if err != nil || !ok || string(v) != "one" {
		t.Fatalf("alpha after restoring a version 2 snapshot: %q %v %v", v, ok, err)
	}
	put(t, s, "k", 20) // past SnapshotEvery: the node snapshots in the new format
	waitFor(t, "a snapshot in the new format", func() bool {
		snap, err := c.nodes[0].st.Log(0).Snapshot()
		return err == nil && snap.Slot > 3 && string(snap.Data[:4]) == "MPSM"
	})
	c.stop(0)
	c.start(0)
	c.leader()
	s = c.client().Session()
	if v, ok, err := s.Get(ctx, []byte("k-19")); err != nil || !ok || string(v) != "v" {
		t.Fatalf("k-19 after a restart from the new snapshot: %q %v %v", v, ok, err)
	}
	if v, ok, err := s.Get(ctx, []byte("alpha")); err != nil || !ok || string(v) != "one" {
		t.Fatalf("alpha after a restart from the new snapshot: %q %v %v", v, ok, err)
	}
}
