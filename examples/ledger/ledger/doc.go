// Package ledger is the state machine of the ledger example: bank accounts
// with int64 balances in cents, changed only by commands that the node
// runtime's Paxos log delivers to every replica in the same order. Machine
// implements sm.Machine and Type is its sm.Type, for node.Config.Machine.
//
// A Machine is deterministic: given the same commands in the same order,
// every replica reaches the same state, byte for byte (Hash). So it reads no
// clock, no random source and no map order: Snapshot writes accounts
// sorted. A command that cannot run (an unknown account, too little money)
// is refused by its Result, the same way on every replica; it never fails
// the apply.
//
// Exactly once is not this package's: every command carries sm's header
// (client id, token, seq), and the runtime's session table (package sm)
// hands each command to Apply once, answering retries with the stored
// Result. The session table travels in the runtime's snapshots, next to
// this package's bytes.
//
// Invariant (Check): the sum of all balances equals the sum of all deposits,
// and no balance is negative.
//
// The command encoding is drawn in codec.go, the snapshot format in
// snapshot.go.
package ledger
