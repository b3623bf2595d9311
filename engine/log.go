package engine

import "fmt"

// memLog is the in-memory copy of this node's accepted entries above its
// latest snapshot. ents[i] holds slot start+i; an entry with Type 0 is a
// hole (an acceptor can receive slot 10 before slot 9). The log never has a
// trailing hole: it only grows by set.
//
// The engine keeps every entry since the last Compact in memory, so it never
// reads Storage.Entries after New; the runtime bounds memory by taking
// snapshots and calling Compact.
type memLog struct {
	start Slot // slot of ents[0]; snapshot slot + 1
	ents  []Entry
}

// last returns the highest slot held, or start-1 when empty.
func (l *memLog) last() Slot { return l.start + Slot(len(l.ents)) - 1 }

// get returns the entry at s, or nil for a hole or a slot outside the log.
// The pointer is valid until the next set or compact.
func (l *memLog) get(s Slot) *Entry {
	if s < l.start || s > l.last() {
		return nil
	}
	e := &l.ents[s-l.start]
	if e.Type == 0 {
		return nil
	}
	return e
}

// set stores e at e.Slot, growing the log with holes as needed. Slots below
// start (compacted) are ignored: they are chosen and in the snapshot.
func (l *memLog) set(e Entry) {
	if e.Type == 0 {
		panic(fmt.Sprintf("engine: storing entry of type 0 at slot %d", e.Slot))
	}
	if e.Slot < l.start {
		return
	}
	i := int(e.Slot - l.start)
	for len(l.ents) <= i {
		l.ents = append(l.ents, Entry{})
	}
	l.ents[i] = e
}

// compact drops every slot <= through and moves start past it. Compacting
// beyond last leaves an empty log starting at through+1.
func (l *memLog) compact(through Slot) {
	if through < l.start {
		return
	}
	n := int(min(through-l.start+1, Slot(len(l.ents))))
	// Copy the tail so the dropped prefix's Data can be collected.
	rest := make([]Entry, len(l.ents)-n, max(len(l.ents)-n, 16))
	copy(rest, l.ents[n:])
	l.ents = rest
	l.start = through + 1
}

// copyRange returns copies of the entries with lo <= Slot <= hi (holes
// skipped), stopping once their Data add up to maxBytes (at least one
// entry). The result is a fresh slice the caller may hand out.
func (l *memLog) copyRange(lo, hi Slot, maxBytes uint64) []Entry {
	lo = max(lo, l.start)
	hi = min(hi, l.last())
	if lo > hi {
		return nil
	}
	out := make([]Entry, 0, min(int(hi-lo+1), 1024))
	var size uint64
	for s := lo; s <= hi; s++ {
		e := l.ents[s-l.start]
		if e.Type == 0 {
			continue
		}
		if len(out) > 0 && size+uint64(len(e.Data)) > maxBytes {
			break
		}
		size += uint64(len(e.Data))
		out = append(out, e)
	}
	return out
}
