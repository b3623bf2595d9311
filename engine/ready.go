package engine

// Ready is everything the engine asks its caller to do: state to make
// durable, messages to send, committed entries to apply. See doc.go for the
// order in which a caller must act on it.
type Ready struct {
	// HardState must be persisted when SaveHardState is set.
	HardState     HardState
	SaveHardState bool

	// MustSync says whether this Ready's write must be durable before its
	// AfterSync is sent and it is Advanced: set when it carries a vote (an
	// Accept's entries, or the leader's own), a Snapshot or a new
	// Promised. A Ready whose only state is a Commit that moved forward
	// and chosen Entries (a catch-up reply, a thrifty leader's push) needs
	// no sync of its own: it may be written without waiting (it becomes
	// durable with the next synced write, or is lost in a crash, which
	// only makes a restarted node re-learn commits and fetch again the
	// chosen entries it had). Writes must still reach storage in Ready
	// order.
	MustSync bool

	// Entries are accepted entries to persist, replacing any stored entry
	// with the same Slot. A later entry in the slice replaces an earlier
	// one of the same Slot. Entries at or below the stored snapshot's Slot
	// may be dropped.
	Entries []Entry

	// Snapshot, when not nil, was received from the leader (or, on a new
	// leader, from a promise): persist it, delete every stored entry at or
	// below Snapshot.Slot, and restore the state machine from it before
	// applying Committed, which then continues at Snapshot.Slot+1.
	Snapshot *Snapshot

	// Messages may be sent at once, before this Ready's state is durable
	// (the leader's Accepts and Commits, Prepares, Nacks, catch-up replies,
	// PrePrepares and PrePromises).
	Messages []Message

	// AfterSync must be sent only after this Ready's HardState, Entries and
	// Snapshot are durable: Promises and Accepteds report durable state.
	AfterSync []Message

	// Committed are chosen entries to apply to the state machine, in slot
	// order, with no gaps since the previous Ready's Committed (or since
	// Snapshot.Slot when Snapshot is set).
	Committed []Entry

	// Membership, when not nil, is the configuration in force once this
	// Ready's Committed (and Snapshot) are applied: a membership change
	// was chosen or a snapshot installed (after New, Status().Membership is
	// the configuration restored). The runtime dials
	// the members it names, stops dialing the others, stops itself when
	// it is no member, and records it with the snapshots it takes
	// (Snapshot.Membership). Its slices are shared: read-only.
	Membership *Membership

	// Reads answers earlier Reads, one ReadState each: serve read Ctx from
	// the state machine once it has applied every slot through Index
	// (this Ready's Committed applied first; a later Ready's Committed
	// may be needed), or, when Failed, tell its client to retry or go to
	// the leader. See doc.go, "Reads".
	Reads []ReadState
}
