// Package ledger is the replicated state machine of the ledger example: bank
// accounts with int64 balances in cents, changed only by commands that a
// Paxos log delivers to every replica in the same order.
//
// A Machine is deterministic: given the same commands in the same order,
// every replica reaches the same state, byte for byte (Hash). So it reads no
// clock, no random source and no map order: Snapshot writes accounts and
// sessions sorted. A command that cannot run (an unknown account, too little
// money) is refused by its Result, the same way on every replica; it never
// fails the apply.
//
// Exactly once: every command carries (client id, seq), a client numbering
// its commands 1, 2, 3, ... with one outstanding at a time. The session table
// (session.go) keeps, per client, the last seq applied and its Result. A
// retry (the client timed out, or the leader changed and it asked another
// replica) comes back through the log as a second copy of the command; its
// apply finds seq already applied and returns the stored Result without
// executing again. Sessions are part of the replicated state, snapshots
// included, so a new leader or a restarted replica dedups just the same.
// This is what the node runtime does for its key-value machine (package kv).
//
// Invariant (Check): the sum of all balances equals the sum of all deposits,
// and no balance is negative.
//
// The command encoding is drawn in codec.go, the snapshot format in
// snapshot.go.
package ledger
