// Package node is the runtime that turns the pure engine into a server: it
// ticks the engine on a real clock, feeds it peer messages and client
// batches, persists each Ready through store/ on a writer goroutine (group
// commit across Readies), sends messages through net/transport, applies
// committed batches to the state machine (Config.Machine, an sm.Machine:
// kv's key-value machine by default) behind the group's session table
// (sm.Applier: exactly-once is the runtime's, for every machine), answers
// clients, and serves status, metrics and the fault hook over HTTP.
//
// Groups. A node runs Config.Groups independent Paxos groups (group.go):
// each has its own engine, state machine and sessions, inbox and batcher, applied index,
// snapshots and leader; a key belongs to group route.GroupOf(key, G), the
// function the client uses too. The groups share one peer connection per
// node pair (every Message carries its group; the transport's writers
// coalesce all groups' frames into one writev per flush), one Pebble store
// (group-prefixed keys), one writer and one event loop. The loop takes the
// Readies of every group that is ready in a pass and persists them
// together: one store batch (store.SaveAll) of a write per group, so the
// pass costs one commit and one sync whatever G (persist; Status.Syncs
// counts them). One
// loop rather than a loop per group, because on this 2-core machine the
// cost is the syncs and the wake-ups, not the protocol's work: G loops
// would each wake for their share of messages, and their writes could not
// share a sync without a hand-off to a common writer. With G > 1 group g prefers
// voter g mod V of its configuration (ids in order; at first member g mod
// N of Config.Peers) as leader: a leader hands g to it by
// engine.TransferLeadership once it has followed caught up for a few
// election timeouts (maybeHandOff), so leaders spread over the nodes at
// start and return after a failover. Snapshots are per group, one at a
// time per node, their first ones staggered over (node, group) pairs.
// Sessions are per group (each Machine keeps its own table): exactly once
// holds per (session, group); a session's one-command-at-a-time keeps its
// order across groups, and nothing orders different sessions' commands on
// different groups. With G > 1 a multi-key command (kv.OpMulti) is
// refused: its keys may belong to several groups.
//
// Membership (members.go, membersapi.go): each group's configuration is
// chosen through its own log (engine, "Membership"); the node dials the
// members its groups' configurations name, at the addresses those record
// (or Config.Peers'), and drops a member none names after a grace. GET
// /members shows every group's configuration; POST /members (add as
// learner, promote, remove) is the node-level command: it changes one
// node in every group it names (all by default), one group at a time,
// each waiting until that group chose its change, in the order of group
// ids. A group this node does not lead is refused with 421 naming its
// leader, with the groups done so far, and adminapi.ChangeMembers carries
// the rest there; so with G groups whose leaders are spread a change
// visits each leader in turn, and a failure part way leaves the groups
// before it changed (GET /members shows which). Removing the leader of a
// group hands that group's leadership off first (the removal then goes to
// the new leader). A node that a group's configuration no longer names
// stops serving that group: clients get kv.StatusRemoved, /status says
// "removed", it logs it, and its engine no longer campaigns; it keeps
// answering as an acceptor until stopped, which a member that has not yet
// learnt of the change may need. A node joining a running cluster starts
// from an empty store in the configuration it was added to
// (Config.InitialMembers), as cmd/node -join does.
//
// Security: the peer and client ports may run over TLS (Config.PeerTLS,
// ClientTLS; tls.go), peers verifying each other's node id. The admin port
// binds loopback unless given a host; its mutating endpoints (POST /faults,
// POST /members) need the bearer token (Config.AdminToken) or, over HTTPS
// (AdminTLS), a client certificate; POST /faults exists only with
// EnableFaultHook, /debug/pprof only with Pprof. ReloadTLS (SIGHUP in cmd/node) re-reads the TLS files,
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
