// Package kv is the replicated key-value state machine with client sessions,
// and the byte formats around it: the command that travels through the log
// (command.go), the request and response bodies of the client port
// (wire.go) and the state machine's snapshot (snapshot.go).
//
// A Machine is deterministic: fed the same commands at the same slots, every
// replica reaches the same content, sessions and Hash. It reads no clock and
// no random source; sessions expire by log position (see MachineConfig).
//
// Exactly once: each client has a 64-bit id and numbers its commands 1, 2,
// 3, ...; the Machine remembers per client the last sequence number it
// applied and that command's Result. A retry of that sequence number gets
// the stored Result back without executing again; an older sequence number
// (a retry overtaken by the client's next command) is not executed either.
//
// This package does no I/O and imports neither the engine nor the transport.
package kv
