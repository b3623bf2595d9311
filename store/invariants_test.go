//go:build invariants

package store

import (
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mpaxos/mpaxos/engine"
)

func TestInvariantPromisedNeverDecreases(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, memConfig(fs))
	hs := engine.HardState{Promised: engine.MakeBallot(5, 1)}
	if err := s.Save(Write{HardState: &hs}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The bound survives a reopen: it is loaded with the hard state.
	s = mustOpen(t, memConfig(fs))
	defer s.Close()
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "promised 4.1 after 5.1") {
			t.Errorf("recovered %v, want a panic about the promised ballot", r)
		}
	}()
	back := engine.HardState{Promised: engine.MakeBallot(4, 1)}
	_ = s.Save(Write{HardState: &back})
}
