// Package client is the mpaxos client library: it finds the leader, follows
// redirects, retries on timeouts and leader changes with the same session id
// and sequence number (so the cluster executes each command exactly once),
// and multiplexes many logical clients (sessions) over one connection per
// server.
//
// A command costs no allocation and no lock of the client's own: its
// request id names the session's slot (slot.go), so a connection's reader
// hands the answer over with a compare-and-swap and a channel send; a
// sweep goroutine per Client expires overdue attempts, and the end of a
// context that a session's commands keep using is watched with one
// context.AfterFunc, so the session waits with a single channel receive.
package client
