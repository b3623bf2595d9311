package client

import (
	"errors"
	"fmt"
)

// notLeaderError is ErrNotLeader with the leader the server named, so that
// every Session method (Get, Put, ...) carries it, not only Do's Result.
type notLeaderError struct{ leader uint16 }

func (e notLeaderError) Error() string {
	return fmt.Sprintf("%v: node %d leads", ErrNotLeader, e.leader)
}

func (e notLeaderError) Is(target error) bool { return target == ErrNotLeader }

// LeaderOf returns the node an ErrNotLeader error names as the leader, 0
// if err is no such error.
func LeaderOf(err error) uint16 {
	var nl notLeaderError
	if errors.As(err, &nl) {
		return nl.leader
	}
	return 0
}

// NotLeaderError returns an ErrNotLeader error naming leader, as a
// Session's methods return it (LeaderOf reads it back): for fakes of a
// cluster in other packages' tests.
func NotLeaderError(leader uint16) error { return notLeaderError{leader: leader} }
