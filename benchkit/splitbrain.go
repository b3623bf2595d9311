package benchkit

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// PrimarySample is, at one moment of a run, each node's count of commands
// it executed and answered to a waiting client (adminapi.Status.Acked):
// a node answers only as leader or primary. Nodes that did not answer the
// poll are absent.
type PrimarySample struct {
	At    time.Duration // since the load started (warm-up included)
	Acked map[uint16]uint64
}

// SplitBrain is what FindSplitBrain found: intervals between two polls in
// which more than one node answered clients as primary.
type SplitBrain struct {
	// Polls is how many samples were taken; Intervals how many of the
	// intervals between them saw two or more nodes answer.
	Polls, Intervals int
	// First is the end of the first such interval, and Nodes every node
	// seen answering in one.
	First time.Duration
	Nodes []uint16
}

// FindSplitBrain compares consecutive samples: a node answered clients in
// an interval if its count rose. A count that fell (the node restarted)
// says nothing for that interval.
func FindSplitBrain(samples []PrimarySample) SplitBrain {
	r := SplitBrain{Polls: len(samples)}
	seen := map[uint16]bool{}
	for i := 1; i < len(samples); i++ {
		var rose []uint16
		for id, n := range samples[i].Acked {
			if prev, ok := samples[i-1].Acked[id]; ok && n > prev {
				rose = append(rose, id)
			}
		}
		if len(rose) < 2 {
			continue
		}
		if r.Intervals == 0 {
			r.First = samples[i].At
		}
		r.Intervals++
		for _, id := range rose {
			seen[id] = true
		}
	}
	r.Nodes = slices.Sorted(maps.Keys(seen))
	return r
}

// Found reports whether two nodes answered clients in one interval.
func (s SplitBrain) Found() bool { return s.Intervals > 0 }

func (s SplitBrain) String() string {
	if !s.Found() {
		return fmt.Sprintf("split brain: none (one node at most answered clients in each of %d poll intervals)", max(s.Polls-1, 0))
	}
	ids := make([]string, len(s.Nodes))
	for i, id := range s.Nodes {
		ids[i] = fmt.Sprint(id)
	}
	return fmt.Sprintf("split brain: nodes %s answered clients as primary in the same poll interval, %d of %d intervals (the first ending %.2fs after the load started)",
		strings.Join(ids, ", "), s.Intervals, max(s.Polls-1, 0), s.First.Seconds())
}
