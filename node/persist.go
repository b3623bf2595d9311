package node

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/store"
)

// persistJob is one Ready's state to make durable, done by the writer in
// the order loop queued it.
type persistJob struct {
	ready engine.Ready
}

// maxGroup bounds how many queued Readies share one Pebble batch and sync.
const maxGroup = 256

// writer persists jobs in order. Every Ready queued while a sync runs is
// merged into the next batch, so one sync covers them all (group commit
// across Readies, on top of Pebble's own commit pipeline). Once a group is
// durable it sends the group's AfterSync messages, in order, and hands the
// jobs back to loop, in the same order, for Advance.
func (n *Node) writer() {
	defer n.wg.Done()
	group := make([]*persistJob, 0, maxGroup)
	var scratch []engine.Entry
	for {
		var j *persistJob
		select {
		case j = <-n.jobs:
		case <-n.stop:
			// Finish what loop already queued: those writes may carry
			// promises the engine counts on; then stop.
			for {
				select {
				case j := <-n.jobs:
					var err error
					if scratch, err = n.persist([]*persistJob{j}, scratch); err != nil {
						n.log.Error("persist during shutdown", "err", err)
						return
					}
				default:
					return
				}
			}
		}
		group = append(group[:0], j)
	more:
		for len(group) < maxGroup {
			select {
			case j := <-n.jobs:
				group = append(group, j)
			default:
				break more
			}
		}
		var err error
		if scratch, err = n.persist(group, scratch); err != nil {
			n.fatal(err)
			return
		}
		// The writes are durable: the Accepteds and Promises they carry go
		// out from here, without waiting for loop to pick up the
		// completion (one goroutine hand-off fewer before the leader
		// hears of a follower's vote). loop then only Advances.
		for _, j := range group {
			n.send(j.ready.AfterSync)
		}
		for _, j := range group {
			select {
			case n.persisted <- j:
			case <-n.stop:
				return
			}
		}
		clear(group) // loop owns the jobs now; do not pin their batches here
	}
}

// persistOnLoop writes one Ready on loop's goroutine (a follower's way; see
// handleReadies), with loop's own scratch space.
func (n *Node) persistOnLoop(rd engine.Ready) error {
	n.stats.loopWrites.Add(1)
	n.ls.loopJob.ready = rd
	var err error
	n.ls.loopScratch, err = n.persist([]*persistJob{&n.ls.loopJob}, n.ls.loopScratch)
	n.ls.loopJob.ready = engine.Ready{} // pin no entries
	return err
}

// persist writes a group of jobs. Consecutive Readies without snapshots go
// into one store.Write; a snapshot received from the leader is written on
// its own, keeping the order. scratch is the writer's reusable entry slice
// (Save does not keep it), so merging Readies allocates nothing in steady
// state; it is returned, possibly grown, and cleared so it pins no batch.
func (n *Node) persist(jobs []*persistJob, scratch []engine.Entry) ([]engine.Entry, error) {
	// A group whose Readies only moved the commit index forward is written
	// without waiting for a sync (engine.Ready.MustSync); the next synced
	// write makes it durable.
	noSync := true
	for _, j := range jobs {
		if j.ready.MustSync {
			noSync = false
			break
		}
	}
	w := store.Write{Group: group, Entries: scratch[:0], NoSync: noSync}
	var hs engine.HardState
	flush := func() error {
		if w.HardState == nil && len(w.Entries) == 0 && w.Snapshot == nil {
			return nil
		}
		if !noSync {
			n.stats.syncs.Add(1)
		}
		start := time.Now()
		var err error
		if !n.cfg.UnsafeNoPersist {
			err = n.save(w)
		}
		if !noSync {
			n.stages.since(StageLeaderSync, start)
		}
		clear(w.Entries)
		w = store.Write{Group: group, Entries: w.Entries[:0], NoSync: noSync}
		return err
	}
	for _, j := range jobs {
		rd := &j.ready
		if rd.Snapshot != nil {
			if err := flush(); err != nil {
				return w.Entries, err
			}
			w.Snapshot = rd.Snapshot
		}
		if rd.SaveHardState {
			hs = rd.HardState
			w.HardState = &hs
		}
		w.Entries = append(w.Entries, rd.Entries...)
		if rd.Snapshot != nil {
			if err := flush(); err != nil {
				return w.Entries, err
			}
		}
	}
	err := flush()
	return w.Entries, err
}

// ErrDisk is wrapped by the fatal error of a node whose store could not
// write or sync (Err).
var ErrDisk = errors.New("node: store write failed")

// save is Store.Save with the store's unrecoverable write failures returned
// as errors, so the node stops through its fatal path (Done, Err) and says
// why, instead of the process dying on a panic. Pebble reports a WAL or
// MANIFEST write or sync it cannot undo through its logger's Fatalf, which
// the store turns into a panic whose message starts "pebble: ", and a later
// commit into the broken WAL panics with the write's error itself. Either
// way Pebble's commit pipeline is broken, so the node must stop, and does.
// Any other panic (the store's own "store: " invariants, a runtime error)
// is a bug and goes on up. (A full disk never gets here: the store exits the
// process with one line naming the disk.)
func (n *Node) save(w store.Write) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if err = diskPanic(r); err == nil {
				panic(r)
			}
		}
	}()
	return n.st.Save(w)
}

// diskPanic returns the ErrDisk error for a panic value Pebble raises on a
// failed write, nil for any other.
func diskPanic(r any) error {
	switch v := r.(type) {
	case runtime.Error:
		return nil
	case error:
		return fmt.Errorf("%w: %w", ErrDisk, v)
	case string:
		if strings.HasPrefix(v, "pebble: ") {
			return fmt.Errorf("%w: %s", ErrDisk, v)
		}
	}
	return nil
}
