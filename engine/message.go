package engine

import "strconv"

// MessageType is the kind of a protocol message.
type MessageType uint8

// The protocol's messages. Every message carries the sender's Ballot
// (for Promise, Nack and Accepted: the ballot they are about). For the
// messages a leader sends (Accept, Commit, Snapshot), Slot is the leader's
// base: the first slot it proposed under its ballot, from which followers
// count their cumulative acknowledgement.
const (
	// MsgPrepare (phase 1a): Ballot is the candidate's new ballot, Slot its
	// first unchosen slot (its commit index + 1).
	MsgPrepare MessageType = 1 + iota
	// MsgPromise (phase 1b): Ballot is the promised ballot, Slot the
	// prepare's Slot, Entries every entry accepted at or above it (with the
	// ballot each was accepted under), Commit the acceptor's commit index,
	// and Snapshot the acceptor's snapshot when it compacted slots at or
	// above the prepare's Slot. Sent only once the promise is durable
	// (Ready.AfterSync).
	MsgPromise
	// MsgNack: the receiver has promised a higher Ballot (carried here);
	// the sender should stop using its own. Answers a Prepare (Slot echoes
	// it), an Accept or a Commit of a lower ballot.
	MsgNack
	// MsgAccept (phase 2a): Ballot is the leader's, Slot its base, Entries
	// the slots to accept (contiguous, ascending), Commit the leader's
	// commit index (learn).
	MsgAccept
	// MsgAccepted (phase 2b): Ballot is the accepted ballot, Slot the
	// highest slot S such that every slot from the leader's base through S
	// is accepted under Ballot and durable (cumulative; base-1 when none),
	// Commit the acceptor's commit index. Sent only once the entries are
	// durable (Ready.AfterSync). Followers also send it in answer to every
	// heartbeat, which is how a leader knows a majority still hears it.
	MsgAccepted
	// MsgCommit: heartbeat and learn. Ballot is the leader's, Slot its base,
	// Commit its commit index. When Entries is not empty it answers a
	// MsgCatchup: the entries are chosen (all at or below Commit),
	// contiguous from the slot asked for.
	MsgCommit
	// MsgCatchup: a follower asks its leader for the chosen slots from Slot
	// on (it holds no value there, or one of another ballot). Ballot is the
	// follower's promised ballot.
	MsgCatchup
	// MsgSnapshot: the leader sends its latest snapshot to a follower that
	// needs slots it has compacted. Slot is the leader's base, Commit its
	// commit index, Snapshot the snapshot.
	MsgSnapshot
	// MsgPrePrepare (pre-prepare, preprepare.go): "would you promise
	// Ballot?", asked before phase 1. Ballot is the ballot the sender would
	// prepare, Slot its first unchosen slot. The receiver changes no state.
	MsgPrePrepare
	// MsgPrePromise answers a MsgPrePrepare, changing no state at either
	// end. A yes echoes the asked Ballot; a no has Reject set and carries
	// the answerer's promised Ballot. Slot echoes the pre-prepare's, Commit
	// is the answerer's commit index.
	MsgPrePromise
	// MsgHandoff (handoff.go): the leader tells the target of a hand-off,
	// which acknowledged every slot the leader proposed, to run phase 1
	// now. Ballot is the leader's, Slot its base, Commit its commit index.
	// The target acts on it only while it follows the sender under Ballot.
	MsgHandoff
	// MsgReadIndex (follower reads, read.go): a follower asks its leader
	// for a read index. Round is the follower's request id, Ballot its
	// promised ballot; Lease is set when every read it serves allows a
	// lease answer.
	MsgReadIndex
	// MsgReadIndexResp answers a MsgReadIndex: Round echoes the request
	// id, Commit is the read index (confirmed by a majority's round, or
	// under the leader's lease). Reject says the leader could not confirm
	// one (it no longer leads, or no majority answered in time).
	MsgReadIndexResp

	maxMessageType = MsgReadIndexResp
)

// messageTypeNames is indexed by MessageType. It has a slot for every type
// up to maxMessageType, so a new type given no name here leaves an empty
// string, which TestMessageTypeString reports.
var messageTypeNames = [maxMessageType + 1]string{
	MsgPrepare:       "MsgPrepare",
	MsgPromise:       "MsgPromise",
	MsgNack:          "MsgNack",
	MsgAccept:        "MsgAccept",
	MsgAccepted:      "MsgAccepted",
	MsgCommit:        "MsgCommit",
	MsgCatchup:       "MsgCatchup",
	MsgSnapshot:      "MsgSnapshot",
	MsgPrePrepare:    "MsgPrePrepare",
	MsgPrePromise:    "MsgPrePromise",
	MsgHandoff:       "MsgHandoff",
	MsgReadIndex:     "MsgReadIndex",
	MsgReadIndexResp: "MsgReadIndexResp",
}

// String returns the constant's Go name ("MsgAccept"), so logs and test
// output name the message; a value that is no message type prints as
// "MessageType(42)", since it comes from a peer or a bug and the number is
// what identifies it.
func (t MessageType) String() string {
	if int(t) < len(messageTypeNames) && messageTypeNames[t] != "" {
		return messageTypeNames[t]
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// Message is one protocol message between two engines of the same group.
//
// Entries' Data and Snapshot.Data may alias a buffer owned by the caller who
// decoded the message; see Message.Unmarshal for how long that stays valid.
// To is not encoded on the wire: the receiver sets it (or leaves it 0).
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
	// Round is the read round (read.go). On what a leader sends (Accept,
	// Commit, Snapshot) it is the leader's latest round under Ballot; on a
	// MsgAccepted, the highest round the acceptor received under Ballot;
	// on MsgReadIndex and MsgReadIndexResp, the follower's request id.
	// Zero elsewhere.
	Round uint64
	// Reject is set on a MsgPrePromise that says no and on a
	// MsgReadIndexResp that carries no index; no other message has it.
	Reject bool
	// Handoff is, on the MsgPrepares of a phase 1 that a MsgHandoff
	// started, the ballot of the leader that handed off; 0 otherwise, and
	// on every other message. An acceptor that promised exactly that
	// ballot promises such a Prepare even while it hears that leader
	// (stickiness), and so does that leader. Naming the ballot keeps a
	// late Prepare of a failed hand-off from overriding the stickiness
	// (and leases) of any later ballot (handoff.go).
	Handoff Ballot
	// Lease is set on a MsgReadIndex whose reads all allow a lease answer;
	// no other message has it.
	Lease bool
	// Chosen is set on a MsgCommit that pushes chosen entries to a voter
	// outside the thrifty majority (thrifty.go): the receiver writes them
	// without a sync of its own and answers no Accepted. No other message
	// has it.
	Chosen bool
}
