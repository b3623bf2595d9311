package engine

import (
	"errors"
	"fmt"
)

var (
	// ErrNotLeader is returned by Propose on a node that is not an active
	// leader. The error is a *NotLeaderError carrying the known leader.
	ErrNotLeader = errors.New("engine: not the leader")
	// ErrPipelineFull is returned by Propose when MaxInflight slots are
	// proposed and not yet committed. Retry after the next Ready/Advance.
	ErrPipelineFull = errors.New("engine: pipeline full")
	// ErrCorruptMessage is returned by Message.Unmarshal for bytes that are
	// not a well-formed message.
	ErrCorruptMessage = errors.New("engine: corrupt message")
	// ErrInvalidConfig wraps every problem Config.Validate finds.
	ErrInvalidConfig = errors.New("engine: invalid config")
	// ErrBadMessage is returned by Step for a message that cannot belong to
	// this engine (other group, unknown sender, wrong recipient).
	ErrBadMessage = errors.New("engine: message not for this engine")
	// ErrStorage wraps an error returned by Storage, or durable state that
	// contradicts itself (a slot below the durable commit index missing).
	ErrStorage = errors.New("engine: storage")

	// ErrInvalidReadMode is returned by Read for a mode other than
	// ReadIndex and ReadLease.
	ErrInvalidReadMode = errors.New("engine: invalid read mode")

	errCompactAhead = errors.New("engine: compact beyond the applied slot")
)

// NotLeaderError is what Propose returns on a node that cannot propose,
// and Read on a node that knows no leader to confirm a read.
// errors.Is(err, ErrNotLeader) holds for it.
type NotLeaderError struct {
	// Leader is the node this engine believes leads (it heard that node's
	// Accept or heartbeat under the ballot it promised), or 0 when it knows
	// no leader (election in progress, or it is partitioned away).
	Leader NodeID
}

func (e *NotLeaderError) Error() string {
	if e.Leader == 0 {
		return "engine: not the leader (leader unknown)"
	}
	return fmt.Sprintf("engine: not the leader (leader is node %d)", e.Leader)
}

// Unwrap makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }
