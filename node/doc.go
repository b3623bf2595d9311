// Package node is the runtime that turns the pure engine into a server: it
// ticks the engine on a real clock, feeds it peer messages and client
// batches, persists each Ready through store/ on a writer goroutine (group
// commit across Readies), sends messages through net/transport, applies
// committed batches to the key-value state machine in kv/, answers clients,
// and serves status, metrics and the fault hook over HTTP.
//
// Security: the peer and client ports may run over TLS (Config.PeerTLS,
// ClientTLS; tls.go), peers verifying each other's node id. The admin port
// binds loopback unless given a host; its mutating endpoint (POST /faults)
// needs the bearer token (Config.AdminToken) or, over HTTPS (AdminTLS), a
// client certificate, and exists only with EnableFaultHook; /debug/pprof
// only with Pprof. ReloadTLS (SIGHUP in cmd/node) re-reads the TLS files,
// as does a change to them (Config.TLSWatch).
//
// Goroutines and their owner (all stopped by Node.Close):
//
//   - loop: owns the engine, the state machine and everything the protocol
//     decides. Nothing else touches the engine.
//   - writer: persists Readies in order; several queued Readies share one
//     Pebble batch and one sync. Once they are durable it sends their
//     AfterSync messages and hands them back to loop, which calls Advance.
//     loop keeps stepping messages and proposing batches while a sync runs.
//     That is the leader's way. A follower has nothing to do meanwhile
//     that cannot wait, so it persists on loop itself, two hand-offs fewer
//     per write; what arrives during its sync goes into its next write.
//   - the transport's reader and writer goroutines (peers and clients). A
//     client connection's reader copies each command once, straight into
//     the open batch (under the inbox's lock), and wakes loop; a get in
//     index or lease mode goes to loop on a channel of its own instead.
//   - the admin HTTP server.
//   - watchTLS, with TLS files and Config.TLSWatch: reloads them when they
//     change.
//
// Where things are: node.go starts and stops a Node; loop.go is the event
// loop; ready.go handles a Ready, with decide, the pure choice of inline
// writes and of persisting on the loop or the writer; propose.go hands
// queued commands (inbox.go) to the engine; apply.go runs committed batches
// and answers clients; reads.go serves gets by read index or lease
// (engine.Read) and keeps the engine's ticks caught up with the monotonic
// clock; persist.go is the writer; snapshot.go takes and installs
// snapshots. A store write or sync that fails stops the node:
// Done closes and Err wraps ErrDisk.
package node
