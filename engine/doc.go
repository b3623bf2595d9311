// Package engine is the Multi-Paxos protocol as a deterministic state machine.
//
// It does no I/O, starts no goroutines, reads no clock and no global random
// source: time is Tick, randomness comes from Config.Seed, durable state is
// read through Storage and written back by the caller from Ready.
package engine
