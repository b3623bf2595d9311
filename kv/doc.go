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
// How a node uses it: a request body from the client port is checked with
// DecodeRequest and its command part, body[RequestHeaderSize:], goes to the
// batcher as is. When a batch commits at slot s, each command in it is read
// with DecodeCommand (zero-copy) and passed to Apply(s, cmd); the Result
// answers the client that is waiting for (ClientID, Seq), if any. A command
// that fails to decode inside a committed batch can only come from a buggy
// or hostile leader; every replica sees the same bytes and so skips it
// alike, which keeps them in agreement.
//
// This package does no I/O and imports neither the engine nor the transport.
package kv
