// Package client is the mpaxos client library: it finds the leader, follows
// redirects, retries on timeouts and leader changes with the same session id
// and sequence number (so the cluster executes each command exactly once),
// and multiplexes many logical clients (sessions) over one connection per
// server.
package client
