package node

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/store"
)

// TestNoSpaceRefusesWritesServesReads: over its space quota the leader
// refuses writes with kv.StatusNoSpace (client.ErrNoSpace), still answers
// reads, stays up, and accepts writes again by itself once usage is back
// under the quota. Usage is measured for real; the hook moves the quota
// across it, standing in for the disk filling and being cleared.
func TestNoSpaceRefusesWritesServesReads(t *testing.T) {
	var quota atomic.Uint64 // 0: no quota
	c := newTestCluster(t, 1, func(cfg *Config) {
		cfg.MinFreeBytes = 0
		cfg.hooks = &testHooks{space: func(sp *store.Space) { sp.Quota = quota.Load() }}
	})
	n := c.nodes[c.leader()]
	s := c.client().Session()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := s.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}

	quota.Store(1)
	waitFor(t, "the node to notice it is out of space", n.noSpace.Load)
	if err := s.Put(ctx, []byte("k"), []byte("w")); !errors.Is(err, client.ErrNoSpace) {
		t.Errorf("put over quota: %v, want client.ErrNoSpace", err)
	}
	if err := s.Delete(ctx, []byte("k")); !errors.Is(err, client.ErrNoSpace) {
		t.Errorf("delete over quota: %v, want client.ErrNoSpace", err)
	}
	if v, ok, err := s.Get(ctx, []byte("k")); err != nil || !ok || !bytes.Equal(v, []byte("v")) {
		t.Errorf("get over quota: %q, %v, %v; want \"v\"", v, ok, err)
	}
	if !n.Status().NoSpace {
		t.Error("Status().NoSpace is false over quota")
	}

	quota.Store(0)
	waitFor(t, "the node to notice it has space again", func() bool { return !n.noSpace.Load() })
	if err := s.Put(ctx, []byte("k"), []byte("x")); err != nil {
		t.Errorf("put after space was freed: %v", err)
	}
	if v, _, err := s.Get(ctx, []byte("k")); err != nil || !bytes.Equal(v, []byte("x")) {
		t.Errorf("get after space was freed: %q, %v; want \"x\"", v, err)
	}
	if err := n.Err(); err != nil {
		t.Errorf("node stopped: %v", err)
	}
}

// TestNoSpaceOnRealFilesystem fills a small tmpfs for real (as root; the
// test skips where it cannot mount one): with less than MinFreeBytes free
// the leader refuses writes, and once the filler is deleted it accepts
// them again, without a restart.
func TestNoSpaceOnRealFilesystem(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=48m"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting the test tmpfs %s: %v", dir, err)
		}
	})
	const minFree = 16 << 20
	c := newTestCluster(t, 1, func(cfg *Config) {
		cfg.DataDir = filepath.Join(dir, "n1")
		cfg.MinFreeBytes = minFree
	})
	n := c.nodes[c.leader()]
	s := c.client().Session()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := s.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}

	// Leave half the minimum free.
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, free-minFree/2), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to notice the disk is nearly full", n.noSpace.Load)
	if err := s.Put(ctx, []byte("k"), []byte("w")); !errors.Is(err, client.ErrNoSpace) {
		t.Errorf("put on a nearly full disk: %v, want client.ErrNoSpace", err)
	}
	if v, _, err := s.Get(ctx, []byte("k")); err != nil || !bytes.Equal(v, []byte("v")) {
		t.Errorf("get on a nearly full disk: %q, %v; want \"v\"", v, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to notice the space freed", func() bool { return !n.noSpace.Load() })
	if err := s.Put(ctx, []byte("k"), []byte("x")); err != nil {
		t.Errorf("put after the filler was removed: %v", err)
	}
	if err := n.Err(); err != nil {
		t.Errorf("node stopped: %v", err)
	}
}
