package engine

// quorumSize is the number of nodes that make a majority of n.
func quorumSize(n int) int { return n/2 + 1 }

// quorumSlot returns the highest slot that at least q of the given match
// indexes have reached: the q-th largest value. It sorts matches in place
// (descending); callers pass a scratch slice. q must be in [1, len(matches)].
//
// A slot is chosen once a quorum accepted it under the leader's ballot, and
// match values are cumulative (every slot from the ballot's first through
// match is accepted), so the q-th largest match is the commit index.
func quorumSlot(matches []Slot, q int) Slot {
	// Insertion sort: len(matches) is the group size (<= 7 in practice),
	// and this runs on every acknowledgement, so no allocation, no
	// sort.Slice closure.
	for i := 1; i < len(matches); i++ {
		v := matches[i]
		j := i
		for j > 0 && matches[j-1] < v {
			matches[j] = matches[j-1]
			j--
		}
		matches[j] = v
	}
	return matches[q-1]
}
