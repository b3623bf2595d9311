package engine

import "fmt"

// NodeID names one server of a group. IDs are small positive integers
// (1..65535); zero means "none" (no known leader, no sender).
type NodeID uint16

// GroupID names one independent Paxos group. Every message and every store
// key carries one, so the key space can later be split across many groups
// that share one transport and one Pebble instance. Today there is group 0.
type GroupID uint32

// Slot is a position in the replicated log. Slot 0 is never used: the first
// command goes to slot 1, so "slot 0" means "nothing yet".
type Slot uint64

// Ballot is a proposal number, packed as round<<16 | node. Ballots are
// totally ordered by round first and node second, so two nodes never propose
// with the same ballot. The zero Ballot is lower than every real ballot.
type Ballot uint64

// MakeBallot packs a round and the proposing node into a Ballot.
func MakeBallot(round uint64, node NodeID) Ballot {
	if round >= 1<<48 {
		panic(fmt.Sprintf("engine: ballot round %d overflows 48 bits", round))
	}
	return Ballot(round<<16 | uint64(node))
}

// Round returns the ballot's round.
func (b Ballot) Round() uint64 { return uint64(b) >> 16 }

// Node returns the node that owns the ballot.
func (b Ballot) Node() NodeID { return NodeID(b & 0xffff) }

func (b Ballot) String() string { return fmt.Sprintf("%d.%d", b.Round(), b.Node()) }

// EntryType says how an Entry's Data is to be read.
type EntryType uint8

const (
	// EntryBatch carries a batch of client commands (opaque to the engine).
	EntryBatch EntryType = 1
	// EntryNoop fills a hole found by a new leader; it has no Data.
	EntryNoop EntryType = 2
	// EntryConfChange carries a membership change: its Data is the
	// whole new Membership (ParseMembership), in force for every slot
	// after it once it is chosen. A state machine skips it.
	EntryConfChange EntryType = 3
)

// Entry is one log slot's accepted value: the batch a leader proposed there
// and the ballot under which this node accepted it.
//
// Data is owned by whoever built the Entry until it is handed to the engine
// (Propose, Step); from then on it must not be modified, because the engine
// may hand the same bytes out again in Ready.Entries, Ready.Messages and
// Ready.Committed.
type Entry struct {
	Slot   Slot
	Ballot Ballot
	Type   EntryType
	Data   []byte
}

// HardState is what an acceptor must remember across a crash.
type HardState struct {
	// Promised is the highest ballot this node promised (or accepted under).
	// It never decreases.
	Promised Ballot
	// Commit is the highest slot this node knows to be chosen. Persisting it
	// is an optimisation (restart applies without waiting for a leader), not
	// a safety requirement.
	Commit Slot
}

// IsZero reports whether hs is the empty hard state of a new node.
func (hs HardState) IsZero() bool { return hs == HardState{} }

// Snapshot is the state machine's content after applying every slot up to
// and including Slot. The engine treats Data as opaque bytes.
type Snapshot struct {
	Slot Slot
	Data []byte
	// Membership is the configuration in force after Slot: the caller
	// records it with every snapshot it takes (Ready.Membership tells it
	// each configuration as it comes into force), so a node restarted
	// from the snapshot, or one that installs it, knows who votes. Zero
	// means unknown: on New the configuration of Config, on install the
	// one the node had.
	Membership Membership
}
