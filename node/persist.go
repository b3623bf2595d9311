package node

import (
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
// across Readies, on top of Pebble's own commit pipeline). Completions go
// back to loop in the same order.
func (n *Node) writer() {
	defer n.wg.Done()
	group := make([]*persistJob, 0, maxGroup)
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
					if err := n.persist([]*persistJob{j}); err != nil {
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
		if err := n.persist(group); err != nil {
			n.fatal(err)
			return
		}
		for _, j := range group {
			select {
			case n.persisted <- j:
			case <-n.stop:
				return
			}
		}
	}
}

// persist writes a group of jobs. Consecutive Readies without snapshots go
// into one store.Write; a snapshot received from the leader is written on
// its own, keeping the order.
func (n *Node) persist(jobs []*persistJob) error {
	var w store.Write
	w.Group = group
	var hs engine.HardState
	pending := false
	flush := func() error {
		if !pending {
			return nil
		}
		n.stats.syncs.Add(1)
		start := time.Now()
		var err error
		if !n.cfg.UnsafeNoPersist {
			err = n.st.Save(w)
		}
		n.stages.since(StageLeaderSync, start)
		w = store.Write{Group: group}
		pending = false
		return err
	}
	for _, j := range jobs {
		rd := &j.ready
		if rd.Snapshot != nil {
			if err := flush(); err != nil {
				return err
			}
			w.Snapshot = rd.Snapshot
		}
		if rd.SaveHardState {
			hs = rd.HardState
			w.HardState = &hs
		}
		if len(rd.Entries) > 0 {
			w.Entries = append(w.Entries, rd.Entries...)
		}
		if rd.SaveHardState || len(rd.Entries) > 0 || rd.Snapshot != nil {
			pending = true
		}
		if rd.Snapshot != nil {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
