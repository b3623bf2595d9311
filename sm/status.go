package sm

import "fmt"

// Status is the outcome of a command (in a Result) or of a request (on the
// client port, kv's FrameResponse). Zero is not a status. A Machine's own
// outcomes that need more than these travel in Result.Value with
// StatusOK (examples/ledger does so).
type Status uint8

const (
	// StatusOK: the command executed; Value holds what it returned.
	StatusOK Status = 1
	// StatusNotFound: the command found no such key (kv's get, delete,
	// cas).
	StatusNotFound Status = 2
	// StatusCASFailed: a conditional command's condition did not hold
	// (kv's cas: the value found is in Value); nothing changed.
	StatusCASFailed Status = 3
	// StatusStale: the command's Seq is below the last one its session
	// applied. It was not executed, and its original result is gone; the
	// client has moved on, so nobody should be waiting for this reply.
	StatusStale Status = 4
	// StatusNotLeader: this node cannot order commands; the response names
	// the leader it knows.
	StatusNotLeader Status = 5
	// StatusRetry: the node could not finish the request now (queue full,
	// leader change); retry with the same ClientID and Seq.
	StatusRetry Status = 6
	// StatusBadRequest: the request was malformed or invalid; retrying it
	// will not help.
	StatusBadRequest Status = 7
	// StatusNoSpace: the leader's store is at its space quota or its disk
	// nearly full; it refuses writes (reads still work) until space is
	// freed. The command did not execute.
	StatusNoSpace Status = 8
	// StatusNotOwner: the command's ClientID names a live session that
	// registered a different Token, so it belongs to another client. It was
	// not executed and the session was not touched; retrying it will not
	// help.
	StatusNotOwner Status = 9
	// StatusRemoved: this node was removed from the group's
	// configuration and serves it no more; Leader is a hint. The command
	// did not execute here: send it to another member.
	StatusRemoved Status = 10

	statusMax = StatusRemoved
)

var statusNames = [...]string{
	StatusOK: "ok", StatusNotFound: "not-found", StatusCASFailed: "cas-failed",
	StatusStale: "stale", StatusNotLeader: "not-leader", StatusRetry: "retry",
	StatusBadRequest: "bad-request", StatusNoSpace: "no-space", StatusNotOwner: "not-owner",
	StatusRemoved: "removed",
}

// String returns the status's name ("ok", "not-found", ...).
func (s Status) String() string {
	if s.Valid() {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Valid reports whether s is one of the statuses above.
func (s Status) Valid() bool { return s >= StatusOK && s <= statusMax }
