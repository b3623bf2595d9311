// Package resp serves the Redis protocol (RESP2, and RESP3 after HELLO 3)
// in front of an mpaxos node, so that redis-cli, redis-benchmark and Redis
// client libraries drive the replicated key-value store.
//
// # How it reaches the cluster
//
// A Server runs in the node's process and talks to its own node through
// the project's client library, dialled to that node's client port alone
// with client.Config.NoRedirect. Each RESP connection is one
// client.Session: its own random id, token and sequence numbers. A write,
// or a read through the log, sent to a follower comes back as
// client.ErrNotLeader naming the leader, and the connection answers
// "-MOVED <slot> <leader's RESP address>", which redis-cli -c and cluster
// clients follow. Every node's RESP address is configuration
// (Config.Addrs; cmd/node's -resp-addr takes the whole list, like -peers).
// CLUSTER SLOTS and NODES describe one group owning all 16384 slots with
// the leader as the primary, so cluster clients send to the leader first.
//
// The extra hop (RESP -> client library -> loopback -> the node's client
// port) costs a frame encode, a loopback write and a frame decode per
// command, next to a consensus round that costs a disk sync; results/
// measures it against the native benchmark on the same cluster.
//
// # Pipelining
//
// A connection reads every command the client pipelined, runs them one
// after the other in order, and writes all the replies with one write per
// burst (or per 64 KiB of replies). Commands of one connection therefore
// execute in the order sent, as Redis promises, and each is in the log
// before the next is sent; replies come back in order. The node accepts
// one outstanding command per session (its exactly-once bookkeeping keeps
// one reply per session), so a connection has one command in the log at
// a time: many connections fill a batch together, one connection with a
// deep pipeline does not. Running a connection's commands concurrently
// would need either several sessions per connection, whose commands the
// log could then order differently from the pipeline, or a node that
// keeps several outstanding commands per session.
//
// # Commands
//
// GET, SET (NX, XX), DEL, EXISTS, INCR, INCRBY, MGET, MSET, PING, ECHO,
// HELLO (2 and 3; no AUTH), CLIENT SETNAME/GETNAME/ID/SETINFO, INFO,
// SELECT 0, COMMAND (with COUNT, INFO, DOCS), CLUSTER SLOTS/NODES/INFO/
// MYID/KEYSLOT, QUIT. Anything else is answered "-ERR unknown command"
// and the connection goes on. SET's EX, PX, EXAT, PXAT and KEEPTTL are
// refused: keys have no expiry here, and ignoring the option would keep a
// key Redis would have dropped. INCR and INCRBY are state machine commands
// (kv.OpIncr), SET NX and XX too (kv.OpPutNX, kv.OpPutXX), so concurrent
// clients never lose an increment or both win an NX.
//
// Multi-key commands are not atomic: DEL, EXISTS, MGET and MSET run one
// log command per key, in argument order, in the connection's session. A
// concurrent reader may see part of an MSET, and a failure part way
// (leader change, timeout) leaves the keys before it written and is
// answered with the error. All keys are in the one group, so no
// -CROSSSLOT is ever needed.
//
// # Retries after a timeout: at least once
//
// The client library retries a command inside one session with the same
// sequence number, so its own retries execute the command once. A Redis
// client has no sequence numbers: when its read times out, or this server
// answers "-ERR timed out ... may or may not have executed" or
// "-CLUSTERDOWN", the command may have executed, and a client that sends
// it again sends a new command (a new sequence number, or a new
// connection and so a new session), which executes again. Through this
// front end a retried command therefore executes at least once, and
// possibly twice: harmless for idempotent commands (GET, SET without NX,
// DEL, MSET, EXISTS, MGET), not for INCR, INCRBY or SET NX, whose retry
// may count twice or report that the key already exists. A -MOVED is not
// such a case: the command was refused before it entered the log.
//
// # Hostile input
//
// Requests are parsed by this package's own reader (reader.go), not a
// library: it refuses a count or length out of range as soon as the
// header arrives, grows its buffer only with bytes received and never
// past Config.MaxRequest, resumes a command that arrives in pieces where
// it stopped, and allocates nothing per command once warm. A protocol
// error is answered "-ERR Protocol error: ..." and closes that connection
// alone. Connections are bounded (Config.MaxConns) and closed when idle
// (Config.IdleTimeout), also when they stop reading their replies.
package resp
