// Package kv is the replicated key-value state machine, the node
// runtime's default sm.Machine, and the byte formats around it: the command
// that travels through the log (command.go), the request and response
// bodies of the client port (wire.go) and the machine's snapshot
// (snapshot.go).
//
// A Machine is deterministic: fed the same commands at the same slots, every
// replica reaches the same content and Hash. It reads no clock. Its only
// random input is the hash seed of its key table (table.go), which, as in a
// Go map, decides where keys sit in memory and nothing that Apply, Get, Hash
// or a snapshot returns.
//
// Sessions are not this package's: a command's ClientID, Token and Seq are
// sm's header (kv's command format begins with it), and the runtime's
// session table (sm.Sessions) decides whether a command reaches Apply. A
// Machine executes every command it is given.
//
// Session ownership (the Token): a ClientID is not a secret (it shows in
// logs, the applied log, a client's ID method), so it cannot be what makes a
// session someone's. Each session also has a random 64-bit Token that its
// client keeps to itself and sends in every command; the session table
// registers it with the session's first command and refuses any other
// (StatusNotOwner). Why this design and not the alternatives:
//   - The check runs on replicated state, as commands apply: every replica
//     decides it alike, a new leader after a failover knows every Token, and
//     snapshots carry them. Binding a session to the connection that first
//     used it would be per node, lost on failover (the owner reconnects
//     elsewhere, and so can a forger, first), and would refuse the owner
//     itself when it reconnects after a timeout.
//   - Registering on first use costs no round trip. Ids assigned by the
//     cluster (a "register session" command through the log) would cost a
//     consensus round per new session and a way to hand the id back
//     exactly once.
//   - The hot path pays 8 bytes per command in the log and one compare; no
//     allocation. A forger must guess a 64-bit secret, and every guess is a
//     command through the log.
//
// The Token is as secret as the client port is private: until that port has
// TLS, whoever can read the traffic can read the Tokens. Nothing the node
// reports (logs, the applied log, metrics) shows them.
//
// How a node uses it: a request body from the client port is read with
// DecodeRequestHeader, its command part, body[RequestHeaderSize:], is
// checked with Check (Type's) and goes to the batcher as is. When a batch
// commits at slot s, each command in it passes the session table and, if
// new, Apply(s, cmd), which decodes it with DecodeCommand (zero-copy); the
// Result answers the client that is waiting for (ClientID, Token, Seq), if
// any. A command that fails to decode inside a committed batch can only
// come from a buggy or hostile leader; every replica sees the same bytes
// and so refuses it alike (StatusBadRequest), which keeps them in
// agreement.
//
// This package does no I/O and imports neither the engine nor the transport.
package kv
