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

// persistJob is one loop pass's Readies (one per group that had one) to
// make durable, done by the writer in the order loop queued them.
type persistJob struct {
	readies []groupReady
	one     [1]groupReady // readies' array when one group is ready
}

// maxGroup bounds how many queued jobs share one store sync.
const maxGroup = 256

// writer persists jobs in order. Every job queued while a sync runs is
// merged into the next write, so one sync covers them all (group commit
// across Readies and across groups, on top of Pebble's own commit
// pipeline). Once a set is durable it sends the set's AfterSync messages,
// in order, and hands the jobs back to loop, in the same order, for
// Advance.
func (n *Node) writer() {
	defer n.wg.Done()
	set := make([]*persistJob, 0, maxGroup)
	var ws writeSet
	ws.init(n.cfg.Groups)
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
					if err := n.persist([]*persistJob{j}, &ws); err != nil {
						n.log.Error("persist during shutdown", "err", err)
						return
					}
				default:
					return
				}
			}
		}
		set = append(set[:0], j)
	more:
		for len(set) < maxGroup {
			select {
			case j := <-n.jobs:
				set = append(set, j)
			default:
				break more
			}
		}
		if err := n.persist(set, &ws); err != nil {
			n.fatal(err)
			return
		}
		// The writes are durable: the Accepteds and Promises they carry go
		// out from here, without waiting for loop to pick up the
		// completion (one goroutine hand-off fewer before the leader
		// hears of a follower's vote). loop then only Advances.
		for _, j := range set {
			for i := range j.readies {
				n.send(j.readies[i].rd.AfterSync)
			}
		}
		for _, j := range set {
			select {
			case n.persisted <- j:
			case <-n.stop:
				return
			}
		}
		clear(set) // loop owns the jobs now; do not pin their batches here
	}
}

// persistOnLoop writes one pass of Readies on loop's goroutine (a
// follower's way; see handleReadies), with loop's own scratch space.
func (n *Node) persistOnLoop(pass []groupReady) error {
	n.stats.loopWrites.Add(1)
	n.ls.loopJob.readies = pass
	err := n.persist([]*persistJob{&n.ls.loopJob}, &n.ls.loopWrites)
	n.ls.loopJob.readies = nil // pin no entries
	return err
}

// writeSet is the reusable scratch of persist: one pending store.Write
// per group, with its entry slice (Save does not keep it), so merging
// Readies allocates nothing in steady state. Its owner (the writer, or
// loop for persistOnLoop) is the only goroutine that uses it.
type writeSet struct {
	ws      []store.Write
	hs      []engine.HardState
	touched []int  // groups touched by this set, in first-touched order
	in      []bool // by group: in touched
	batch   []store.Write
}

func (s *writeSet) init(groups int) {
	s.ws = make([]store.Write, groups)
	s.hs = make([]engine.HardState, groups)
	s.touched = make([]int, 0, groups)
	s.in = make([]bool, groups)
	s.batch = make([]store.Write, 0, groups)
}

// persist writes a set of jobs with one sync. Consecutive Readies of a
// group merge into one store.Write, and the groups' writes go to the store
// as one batch (store.SaveAll): G groups ready together cost one commit
// and one sync, not G. A snapshot received from a leader is written on
// its own (Save), after its group's earlier Readies (unsynced: in
// Pebble's one WAL, in order, made durable by the set's sync), keeping
// that group's order.
func (n *Node) persist(jobs []*persistJob, s *writeSet) error {
	// A set whose Readies only moved commit indexes forward is written
	// without waiting for a sync (engine.Ready.MustSync); the next synced
	// write makes it durable.
	mustSync := false
	for _, j := range jobs {
		for i := range j.readies {
			mustSync = mustSync || j.readies[i].rd.MustSync
		}
	}
	start := time.Now()
	defer func() {
		for _, gi := range s.touched {
			clear(s.ws[gi].Entries) // pin no batch
			s.ws[gi] = store.Write{Entries: s.ws[gi].Entries[:0]}
			s.in[gi] = false
		}
		s.touched = s.touched[:0]
	}()
	for _, j := range jobs {
		for i := range j.readies {
			gi, rd := int(j.readies[i].g.id), &j.readies[i].rd
			if rd.Snapshot != nil {
				if err := n.flushGroup(s, gi, true); err != nil {
					return err
				}
			}
			w := &s.ws[gi]
			if !s.in[gi] {
				s.in[gi] = true
				s.touched = append(s.touched, gi)
			}
			w.Group = engine.GroupID(gi)
			w.Snapshot = rd.Snapshot
			if rd.SaveHardState {
				s.hs[gi] = rd.HardState
				w.HardState = &s.hs[gi]
			}
			w.Entries = append(w.Entries, rd.Entries...)
			if rd.Snapshot != nil {
				// Synced at once if anything must be: rare (a follower far
				// behind), and the snapshot need not wait for the others.
				if err := n.flushGroup(s, gi, !mustSync); err != nil {
					return err
				}
				if mustSync {
					n.stats.syncs.Add(1)
				}
			}
		}
	}
	// The groups' pending writes go in as one store batch, one sync.
	batch := s.batch[:0]
	for _, gi := range s.touched {
		if w := &s.ws[gi]; w.HardState != nil || len(w.Entries) > 0 {
			w.NoSync = !mustSync
			batch = append(batch, *w)
		}
	}
	s.batch = batch
	if len(batch) == 0 {
		return nil
	}
	n.stats.groupWrites.Add(uint64(len(batch)))
	var err error
	if !n.cfg.UnsafeNoPersist {
		err = n.saveAll(batch)
	}
	clear(batch) // the entries stay referenced by s.ws until the deferred reset
	if mustSync {
		n.stats.syncs.Add(1)
		n.stages.since(StageLeaderSync, start)
	}
	return err
}

// flushGroup saves group gi's pending write, if it has one, and empties it.
func (n *Node) flushGroup(s *writeSet, gi int, noSync bool) error {
	w := &s.ws[gi]
	if w.HardState == nil && len(w.Entries) == 0 && w.Snapshot == nil {
		return nil
	}
	w.NoSync = noSync
	n.stats.groupWrites.Add(1)
	var err error
	if !n.cfg.UnsafeNoPersist {
		err = n.save(*w)
	}
	clear(w.Entries)
	*w = store.Write{Entries: w.Entries[:0]}
	return err
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

// saveAll is Store.SaveAll with save's handling of the store's failures.
func (n *Node) saveAll(ws []store.Write) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if err = diskPanic(r); err == nil {
				panic(r)
			}
		}
	}()
	return n.st.SaveAll(ws)
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
