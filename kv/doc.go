// Package kv is the replicated key-value state machine with client sessions,
// and the byte formats around it: the command that travels through the log
// (command.go), the request and response bodies of the client port
// (wire.go) and the state machine's snapshot (snapshot.go).
//
// A Machine is deterministic: fed the same commands at the same slots, every
// replica reaches the same content, sessions and Hash. It reads no clock;
// sessions expire by log position (see MachineConfig). Its only random
// input is the hash seed of its key table (table.go), which, as in a Go
// map, decides where keys sit in memory and nothing that Apply, Get, Hash
// or a snapshot returns.
//
// Exactly once: each client has a 64-bit id and numbers its commands 1, 2,
// 3, ...; the Machine remembers per client the last sequence number it
// applied and that command's Result. A retry of that sequence number gets
// the stored Result back without executing again; an older sequence number
// (a retry overtaken by the client's next command) is not executed either.
//
// Session ownership: a ClientID is not a secret (it shows in logs, the
// applied log, a client's ID method), so it cannot be what makes a session
// someone's. Each session also has a random 64-bit Token that its client
// keeps to itself and sends in every command. The first command of a
// session (or the first after it expired) registers its Token in the
// session; a later command naming that ClientID with any other Token is
// refused with StatusNotOwner, executes nothing and leaves the session as
// it was. Without this, anyone knowing a ClientID could send it with Seq
// 2^40 and make the owner's next commands stale: not executed, yet
// answered.
//
// Why this design and not the alternatives:
//   - The check runs in Apply, on replicated state: every replica decides
//     it alike, a new leader after a failover knows every Token, and
//     snapshots carry them. Binding a session to the connection that first
//     used it would be per node, lost on failover (the owner reconnects
//     elsewhere, and so can a forger, first), and would refuse the owner
//     itself when it reconnects after a timeout.
//   - Registering on first use costs no round trip: a session's first
//     command registers it as it executes. Ids assigned by the cluster
//     (a "register session" command through the log) would cost a
//     consensus round per new session and a way to hand the id back
//     exactly once.
//   - The hot path pays 8 bytes per command in the log and one compare in
//     Apply; no allocation. A forger must guess a 64-bit secret, and every
//     guess is a command through the log.
//
// The Token protects a session while it lives. A session that expired
// (MachineConfig.SessionTTL) is gone, Token and all, and the next command
// with its ClientID starts a new one; if that was a forger, the old owner
// gets StatusNotOwner from then on: loud, never a silent success. The
// Token is as secret as the client port is private: until that port has
// TLS, whoever can read the traffic can read the Tokens. Nothing the node
// reports (logs, the applied log, metrics) shows them.
//
// How a node uses it: a request body from the client port is checked with
// DecodeRequest and its command part, body[RequestHeaderSize:], goes to the
// batcher as is. When a batch commits at slot s, each command in it is read
// with DecodeCommand (zero-copy) and passed to Apply(s, cmd); the Result
// answers the client that is waiting for (ClientID, Token, Seq), if
// any. A command
// that fails to decode inside a committed batch can only come from a buggy
// or hostile leader; every replica sees the same bytes and so skips it
// alike, which keeps them in agreement.
//
// This package does no I/O and imports neither the engine nor the transport.
package kv
