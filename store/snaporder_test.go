package store

import (
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mpaxos/mpaxos/engine"
)

// awaitBound bounds every wait of these tests: a deadlock fails the test
// instead of hanging it. It is not a threshold any result depends on.
const awaitBound = 20 * time.Second

// TestConcurrentSnapshotsNeverGoBack replays how a replica could be left
// unable to restart: a node's own snapshot at an older slot passes Save's not-older
// check, then a newer snapshot (the leader's, installed) is saved whole,
// and only then does the older one commit. Checked apart from the commit,
// both Saves succeeded and the stored snapshot went back to the older
// slot, while the newer one's range deletion had removed the entries above
// it: reopened, the log had a hole right above its snapshot. The hooks
// pause the older Save right after its check, until the newer Save has
// either finished or is seen waiting for it.
func TestConcurrentSnapshotsNeverGoBack(t *testing.T) {
	const (
		g            = engine.GroupID(0)
		older, newer = engine.Slot(10), engine.Slot(25)
		last         = engine.Slot(30)
	)
	fs := vfs.NewMem()
	s := mustOpen(t, memConfig(fs))
	var ents []engine.Entry
	for sl := engine.Slot(1); sl <= last; sl++ {
		ents = append(ents, ent(g, sl, 1, 2))
	}
	if err := s.Save(Write{Group: g, Entries: ents}); err != nil {
		t.Fatal(err)
	}

	checked := make(chan struct{}) // the older Save passed its check
	resume := make(chan struct{})  // the older Save may commit
	waits := make(chan struct{})   // the newer Save waits for the older
	s.hooks.snapshotChecked = func(sl engine.Slot) {
		if sl == older {
			close(checked)
			<-resume
		}
	}
	s.hooks.snapshotWaits = func(sl engine.Slot) {
		if sl == newer {
			close(waits)
		}
	}
	big := make([]byte, 4<<20) // a snapshot worth taking seconds over
	olderErr, newerErr := make(chan error, 1), make(chan error, 1)
	go func() { olderErr <- s.SaveSnapshot(g, engine.Snapshot{Slot: older, Data: big}) }()
	await(t, checked, "the older Save's check")
	go func() { newerErr <- s.SaveSnapshot(g, engine.Snapshot{Slot: newer, Data: []byte("leader's")}) }()
	var errNewer error
	newerDone := false
	select {
	case errNewer = <-newerErr:
		newerDone = true
	case <-waits:
	case <-time.After(awaitBound):
		t.Fatal("the newer Save neither finished nor waited")
	}
	close(resume)
	errOlder := awaitErr(t, olderErr, "the older Save")
	if !newerDone {
		errNewer = awaitErr(t, newerErr, "the newer Save")
	}
	// Either order of commits is correct as long as the newer one is
	// stored last: the older committed first (nil) or was refused.
	if errOlder != nil && !errors.Is(errOlder, ErrSnapshotOlder) {
		t.Errorf("older Save: %v, want nil or ErrSnapshotOlder", errOlder)
	}
	if errNewer != nil {
		t.Errorf("newer Save: %v", errNewer)
	}
	s.Close()

	s = mustOpen(t, memConfig(fs))
	defer s.Close()
	l := s.Log(g)
	snap, err := l.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if snap.Slot != newer {
		t.Errorf("after reopen the snapshot is at slot %d, want %d (both Saves returned %v, %v)", snap.Slot, newer, errOlder, errNewer)
	}
	// Every slot above the snapshot must still be there: that is what a
	// restart replays.
	got, err := l.Entries(snap.Slot+1, last+1, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(last - snap.Slot); len(got) != want || (len(got) > 0 && got[0].Slot != snap.Slot+1) {
		t.Errorf("after reopen, entries above snapshot %d: slots %v, want %d..%d", snap.Slot, slots(got), snap.Slot+1, last)
	}
}

// TestSnapshotOlderRefused: a snapshot below the stored one is refused
// with ErrSnapshotOlder and changes nothing, also when it was waiting for
// the newer one's commit.
func TestSnapshotOlderRefused(t *testing.T) {
	const g = engine.GroupID(3)
	s := mustOpen(t, memConfig(vfs.NewMem()))
	defer s.Close()
	if err := s.Save(Write{Group: g, Entries: []engine.Entry{ent(g, 1, 1, 1), ent(g, 2, 1, 1), ent(g, 3, 1, 1)}}); err != nil {
		t.Fatal(err)
	}
	checked, resume, waits := make(chan struct{}), make(chan struct{}), make(chan struct{})
	s.hooks.snapshotChecked = func(sl engine.Slot) {
		if sl == 2 {
			close(checked)
			<-resume
		}
	}
	s.hooks.snapshotWaits = func(sl engine.Slot) {
		if sl == 1 {
			close(waits)
		}
	}
	newerErr, olderErr := make(chan error, 1), make(chan error, 1)
	go func() { newerErr <- s.SaveSnapshot(g, engine.Snapshot{Slot: 2}) }()
	await(t, checked, "the newer Save's check")
	go func() { olderErr <- s.SaveSnapshot(g, engine.Snapshot{Slot: 1}) }()
	await(t, waits, "the older Save waiting")
	close(resume)
	if err := awaitErr(t, newerErr, "the newer Save"); err != nil {
		t.Fatal(err)
	}
	if err := awaitErr(t, olderErr, "the older Save"); !errors.Is(err, ErrSnapshotOlder) {
		t.Errorf("older Save after the newer: %v, want ErrSnapshotOlder", err)
	}
	if f, _ := s.Log(g).FirstSlot(); f != 3 {
		t.Errorf("FirstSlot = %d, want 3", f)
	}
	s.hooks.snapshotChecked, s.hooks.snapshotWaits = nil, nil
	if err := s.SaveSnapshot(g, engine.Snapshot{Slot: 2}); err != nil {
		t.Errorf("the same slot again: %v, want nil", err)
	}
}

func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(awaitBound):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func awaitErr(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(awaitBound):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}
