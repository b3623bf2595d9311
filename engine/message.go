package engine

// MessageType is the kind of a protocol message.
type MessageType uint8

// The protocol's messages. Every message carries the sender's Ballot.
const (
	// MsgPrepare (phase 1a): Ballot is the candidate's new ballot, Slot its
	// first unchosen slot.
	MsgPrepare MessageType = 1 + iota
	// MsgPromise (phase 1b): Ballot is the promised ballot, Entries every
	// entry accepted at or above the prepare's Slot, Commit the acceptor's
	// commit index. Sent only once the promise is durable.
	MsgPromise
	// MsgNack: the receiver has promised a higher Ballot (carried here);
	// the sender should stop using its own.
	MsgNack
	// MsgAccept (phase 2a): Ballot is the leader's, Entries the slots to
	// accept, Commit the leader's commit index (learn).
	MsgAccept
	// MsgAccepted (phase 2b): Ballot is the accepted ballot, Slot the
	// highest slot S such that every slot from the leader's first slot of
	// this ballot through S is accepted and durable (cumulative), Commit the
	// acceptor's commit index. Sent only once the entries are durable.
	MsgAccepted
	// MsgCommit: heartbeat and learn. Ballot is the leader's, Commit its
	// commit index, Slot its next unused slot.
	MsgCommit
	// MsgCatchup: a follower asks the leader for the chosen slots from Slot
	// on (it holds no value, or a value of another ballot, there).
	MsgCatchup
	// MsgSnapshot: the leader sends its latest snapshot to a follower that
	// needs slots it has compacted.
	MsgSnapshot
)

// Message is one protocol message between two engines of the same group.
//
// Entries' Data and Snapshot.Data may alias a buffer owned by the caller who
// decoded the message; see UnmarshalMessage for how long that stays valid.
type Message struct {
	Type     MessageType
	Group    GroupID
	From     NodeID
	To       NodeID
	Ballot   Ballot
	Slot     Slot
	Commit   Slot
	Entries  []Entry
	Snapshot *Snapshot
}
