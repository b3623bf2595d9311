// Package client is the mpaxos client library: it finds the leader, follows
// redirects, retries on timeouts and leader changes with the same session id
// and sequence number (so the cluster executes each command exactly once),
// and multiplexes many logical clients (sessions) over one connection per
// server.
//
// Sessions are the caller's own: each has a random id and a secret random
// token (crypto/rand) sent in every command, which the cluster's state
// machine registers with the session's first command and checks on every
// later one (kv's doc, "Session ownership"), on whichever node leads. So a
// Session that reconnects, to the same node or after a failover, keeps its
// session, while another client that learns the id cannot act in it. Every
// answer that says a command did not execute is an error (ErrStale,
// ErrNotOwner); none passes for success.
//
// Groups. A cluster may split its keys over several Paxos groups, each
// with its own leader (node Config.Groups). The client keeps the believed
// leader of every group and sends each command to that of its key's group
// (route.GroupOf, the function the nodes use). It learns the group count
// from the nodes: a node running several groups answers a command of a
// group it does not lead with StatusNotLeader, that group's leader, and
// the group and count (kv.NotLeaderInfo); until the first such answer the
// client sends everything where it sent it with one group. Exactly-once
// holds per (session, group): each group's state machine keeps its own
// session table, so a retry after its group's leader changed executes
// once. Order across groups: a Session has one command outstanding, and
// each completes before the next is sent, so a session's commands take
// effect in its order whatever their groups (a later command of group B
// is never applied before an earlier completed one of group A). Nothing
// more: commands of different sessions on keys of different groups have
// no common order (no group sees the other's log), and a snapshot or
// stale read of one group says nothing about another.
//
// Reads. A get names a read mode (kv.ReadMode), per Client
// (Config.ReadMode), per Session (SetReadMode) or per call (GetMode):
// through the log like a write, by read index, or under the leader's lease
// are all linearizable; ReadDefault leaves the choice to the node's
// -read-mode, also linearizable. Stale (kv.ReadStale) is not: the node that
// gets it answers from its own state, which may miss writes that completed
// before the get was sent.
//
// A command costs no allocation and no lock of the client's own: its
// request id names the session's slot (slot.go), so a connection's reader
// hands the answer over with a compare-and-swap and a channel send; a
// sweep goroutine per Client expires overdue attempts, and the end of a
// context that a session's commands keep using is watched with one
// context.AfterFunc, so the session waits with a single channel receive.
package client
