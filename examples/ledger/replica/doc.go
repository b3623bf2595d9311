// Package replica runs one replica of the ledger: an engine.Engine for the
// Paxos group, a store.Store (Pebble) for its durable log, a
// transport.Peers mesh to the other replicas, the ledger.Machine it
// replicates, and an HTTP API for clients (package api).
//
// It is a starting point for a service of your own on the engine, built
// from public packages alone, and deliberately simpler than the node
// runtime (which batches commands, persists on a writer goroutine, serves
// reads without the log and runs many groups):
//
//   - One goroutine, the loop (loop.go), owns the engine and the ledger. It
//     ticks the engine on a timer, steps peer messages, proposes client
//     commands (one per slot), and handles each Ready in the order
//     engine/doc.go gives: send Messages, apply Committed (a snapshot
//     first), one store.Save, send AfterSync, Advance.
//   - Every ledger.Machine.Apply result goes to the HTTP calls waiting for
//     that (client, seq) on this replica. A replica that stops leading
//     answers its waiting calls with a redirect; a retry is harmless,
//     since the ledger's session table runs each (client, seq) once.
//   - Every SnapshotEvery slots the loop snapshots the ledger
//     (store.SaveSnapshot, which also truncates the log) and then calls
//     engine.Compact; a follower that fell behind the truncation gets the
//     snapshot from the leader in a Ready.
//   - Reads (GET /balance) go through the log like writes: simplest, and
//     linearizable. engine.Read would save the log write.
//
// Goroutines: the loop, the HTTP server's, and the peer mesh's; Close
// stops them all.
package replica
