package node

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/mpaxos/mpaxos/store"
)

// TestThriftyFollowersWriteWithoutSync: with Thrifty at 5 nodes, two
// followers get the chosen entries pushed and write them without a sync
// of their own, and every node still executes every command, in one order;
// a lazy follower stopped and restarted catches up.
func TestThriftyFollowersWriteWithoutSync(t *testing.T) {
	const puts = 300
	c := newTestCluster(t, 5, func(cfg *Config) {
		cfg.Thrifty = true
		cfg.RecordApplied = 2 * puts
		// The leader falls back to every follower when a slot is a
		// heartbeat late (node.go): make that half a second, far beyond
		// a loaded machine's stalls, so the lazy followers stay lazy.
		cfg.Heartbeat = 500 * time.Millisecond
		cfg.ElectionTimeout = 2 * time.Second
	})
	lead := c.leader()
	s := c.client().Session()
	put(t, s, "warm", 50) // the leader probes, then picks its majority
	var before [5]uint64
	for i, n := range c.nodes {
		before[i] = n.stats.syncs.Load()
	}
	put(t, s, "k", puts)
	var followers []uint64
	lazy := -1
	for i, n := range c.nodes {
		if i == lead {
			continue
		}
		d := n.stats.syncs.Load() - before[i]
		followers = append(followers, d)
		if lazy < 0 || d < n.stats.syncs.Load()-before[lazy] {
			lazy = i
		}
	}
	slices.Sort(followers)
	t.Logf("follower syncs during %d puts: %v", puts, followers)
	// One put at a time: a follower that gets Accepts syncs about once a
	// put, a lazy one not at all (a fall-back would make it sync for a
	// probe's 16 commits).
	if followers[1] > puts/4 {
		t.Fatalf("the two least-syncing followers synced %v times in %d puts: none is lazy", followers[:2], puts)
	}
	// A lazy follower restarted fetches what it missed (and whatever of
	// its unsynced writes did not survive) and ends in the same state.
	c.stop(lazy)
	put(t, s, "later", 50)
	c.start(lazy)
	put(t, s, "after", 10)
	_, applied, _ := c.appliedOf(lead)
	c.waitApplied(applied)
	ref, _, refHash := c.appliedOf(lead)
	for i := range c.nodes {
		if _, _, h := c.appliedOf(i); h != refHash {
			t.Fatalf("node %d state hash %#x, the leader's %#x", i+1, h, refHash)
		}
	}
	if want := puts + 110; len(ref) != want {
		t.Fatalf("the leader executed %d commands, want %d", len(ref), want)
	}
}

// TestThriftyCrashLosesUnsyncedPushes: a lazy follower whose machine loses
// power loses every pushed entry it wrote since its last sync (its store
// comes back as only the synced writes left it), fetches them again from
// the leader, and ends in the leader's state.
func TestThriftyCrashLosesUnsyncedPushes(t *testing.T) {
	const puts = 200
	fss := make([]*vfs.MemFS, 5)
	c := newTestCluster(t, 5, func(cfg *Config) {
		cfg.Thrifty = true
		cfg.Heartbeat = 500 * time.Millisecond // as above: no fall-back on a loaded machine
		cfg.ElectionTimeout = 2 * time.Second
		fss[cfg.ID-1] = store.NewCrashableFS()
		cfg.hooks = &testHooks{fs: fss[cfg.ID-1]}
		syncedDir(t, fss[cfg.ID-1], cfg.DataDir)
	})
	lead := c.leader()
	s := c.client().Session()
	put(t, s, "warm", 50)
	// A lazy follower syncs nothing during a round of puts. On a loaded
	// machine a late slot may swap the lazy role for a while (CI saw a
	// round without one), so a round is tried up to three times, each
	// with keys of its own.
	lazy := -1
	for round := 0; round < 3 && lazy < 0; round++ {
		var before [5]uint64
		for i, n := range c.nodes {
			before[i] = n.stats.syncs.Load()
		}
		put(t, s, fmt.Sprintf("k%d", round), puts)
		for i, n := range c.nodes {
			if i != lead && n.stats.syncs.Load() == before[i] {
				lazy = i
			}
		}
	}
	if lazy < 0 {
		t.Fatal("no follower went without a sync in any of 3 rounds")
	}
	_, applied, _ := c.appliedOf(lead)
	c.waitApplied(applied)
	crashed := fss[lazy].CrashClone(vfs.CrashCloneCfg{})
	c.stop(lazy)
	// What the power loss left: not the last slots it applied.
	scfg := store.DefaultConfig()
	scfg.Dir, scfg.FS, scfg.MemTableSize = c.cfgs[lazy].DataDir, crashed, uint64(c.cfgs[lazy].MemTable)
	st, err := store.Open(scfg)
	if err != nil {
		t.Fatal(err)
	}
	last, err := st.Log(0).LastSlot()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("node %d: last stored slot %d after the crash, %d applied before it", lazy+1, last, applied)
	if uint64(last) >= applied {
		t.Fatalf("node %d's store holds slot %d after the crash, at or beyond %d: its pushes were synced", lazy+1, last, applied)
	}
	c.cfgs[lazy].hooks = &testHooks{fs: crashed}
	c.start(lazy)
	put(t, s, "after", 10)
	_, applied, _ = c.appliedOf(lead)
	c.waitApplied(applied)
	_, _, refHash := c.appliedOf(lead)
	for i := range c.nodes {
		if _, _, h := c.appliedOf(i); h != refHash {
			t.Fatalf("node %d state hash %#x, the leader's %#x", i+1, h, refHash)
		}
	}
}

// syncedDir creates dir on fs and syncs it and every directory above it,
// so that a crash of fs (CrashClone) keeps the tree the store lives in, as
// a real disk keeps a data directory made long before.
func syncedDir(t *testing.T, fs vfs.FS, dir string) {
	t.Helper()
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = fs.PathDir(d) {
		f, err := fs.OpenDir(d)
		if err != nil {
			t.Fatal(err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if fs.PathDir(d) == d {
			return
		}
	}
}
