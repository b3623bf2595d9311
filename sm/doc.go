// Package sm is the contract between the node runtime and a replicated
// state machine, and the part of every state machine the runtime owns: the
// client sessions that make commands execute exactly once.
//
// A service that wants consensus implements Machine (apply a committed
// command at a slot, answer a read-only query, snapshot to a writer,
// restore from a reader, hash), describes it with a Type (how to make one
// per Paxos group, how to check a client's command before it is proposed)
// and hands the Type to node.Config.Machine. The runtime does the rest:
// ordering through Multi-Paxos, batching, persistence, snapshots and log
// truncation, catch-up, reads by read index or lease, groups, routing by
// key, redirects to the leader, and exactly-once. kv.Machine is the
// default Machine; examples/ledger holds a second one, a bank ledger,
// written as the starting point for a service of your own.
//
// Why a package of its own and not part of node: a Machine's methods
// take and return this package's types (Result, Status), so the machine's
// package must import them, and node imports every machine it defaults to
// (kv); the contract therefore sits below both, and a machine depends on
// nothing but it. It does no I/O and imports neither the engine nor the
// transport.
//
// # Commands
//
// Every command the runtime orders starts with the same header (command.go):
// an op byte, the client's session (ClientID, Token, Seq) and a routing key,
// followed by a body only the machine reads. The runtime reads the header,
// never the body; kv's command format is one instance of it.
//
// # Exactly once
//
// Sessions (sessions.go) are the runtime's, one table per group: per client
// the last Seq applied, the secret Token its first command registered, the
// slot it was last used at and the Result of its last command. A retry of
// that Seq gets the stored Result without reaching the Machine; an older
// Seq gets StatusStale, a command naming the ClientID with another Token
// StatusNotOwner, and neither executes. Sessions expire by log position
// (SessionTTL slots unused), so every replica drops the same ones at the
// same point of the log. A Machine therefore sees each command once, in
// log order, and never sees a session at all.
//
// # Snapshots
//
// A group's snapshot is an envelope (snapshot.go) holding the session table
// next to the Machine's own snapshot bytes, with a checksum over both. A
// Machine that can capture its state cheaply (Capturer) has it encoded off
// the apply goroutine. A snapshot written before the sessions moved here
// (kv's version 2) is read through LegacySnapshot.
//
// # Determinism
//
// Apply must be a pure function of the commands applied so far and their
// slots: no clocks, no random numbers, no map iteration order in results,
// snapshots or Hash. Replicas that applied the same log prefix must return
// the same Hash; the checks compare them.
package sm
