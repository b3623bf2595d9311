// Package naive holds the replication schemes that Multi-Paxos exists to
// replace, each as deterministic as the engine and behind the same methods
// (Step, Tick, Propose, Ready, Advance, ...), so one node binary, transport,
// store, batcher and client run any of them and a benchmark compares them
// fairly. They are honest about what they do, which is not enough:
//
//   - Unsync: nodes do not talk; each executes what its clients send it. The
//     client sends every write to every node, so two clients' writes to one
//     key may execute in different orders on different nodes (divergence).
//   - PrimaryBackup: the primary executes and replies before forwarding, so
//     a primary that dies with a forward unsent takes an acknowledged write
//     with it (lost write).
//   - PrimaryBackupAck: the primary waits for its backups, but a failure
//     detector decides who is alive without a quorum: cut the primary off
//     and both sides act as primary and acknowledge writes (split brain).
//   - MultiLeader: every node accepts and forwards; arrival order differs
//     between nodes (divergence).
//
// The failure detector of both primary-backup schemes: every node sends a
// heartbeat (MsgCommit, naming the primary it follows) every
// HeartbeatTicks; a peer is alive while it was heard within ElectionTicks.
// A node keeps its primary while that one is alive and claims to be
// primary, follows the node its primary gives way to, and gives way itself
// to a lower id that claims to be primary (so a healed split ends with one
// primary over diverged replicas). A node with no primary (just started,
// or its primary died) follows one a live peer follows, or after
// ElectionTicks the lowest id it believes alive. Nothing else: no quorum,
// no state transfer to a node that rejoins, no reconciliation.
//
// The Ready contract is the engine's (engine/doc.go), with one difference
// a caller already handles: a Ready's Committed may hold entries of its own
// Entries, so a node executes and answers before the write is durable.
// Only PrimaryBackupAck commits its own writes after they are durable (and
// acknowledged by its backups). Reads (Read) are served from the local
// state at once, in any mode, by a node that takes writes (a backup
// refuses, naming its primary): no scheme here can confirm anything.
package naive
