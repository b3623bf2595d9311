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
// CLUSTER SLOTS and SHARDS describe each Paxos group the node runs
// (Config.Groups) owning its range of the 16384 slots (route.SlotRange),
// that group's leader as the primary, so cluster clients send each key to
// its group's leader first; with one group, one range holds every slot. A
// pipeline goes to the cluster as one command per run of one group's
// commands, and a multi-key command (MGET, MSET, DEL, EXISTS) whose keys
// belong to several groups gets -CROSSSLOT (Redis Cluster refuses keys of
// several slots; here keys of one group are enough: give them a common
// {tag}).
//
// The extra hop (RESP -> client library -> loopback -> the node's client
// port) costs a frame encode, a loopback write and a frame decode per
// command, next to a consensus round that costs a disk sync; results/
// measures it against the native benchmark on the same cluster.
//
// # Pipelining
//
// A connection reads every command the client pipelined. The data
// commands among them (GET, SET, DEL, EXISTS, INCR, INCRBY, MGET, MSET)
// are queued, and when the client has sent all it had (the read buffer is
// empty), or the queue reaches 64 KiB, the queue goes to the cluster as one
// command: a kv.OpMulti holding one sub-command per key, which takes one
// sequence number of the connection's session, one place in a batch and
// one slot. Every replica executes its sub-commands in order, with nothing
// between them, exactly once (a retry of the library's is answered from
// the session table). The replies are made from its results, in order,
// and written in one write per burst (or per 64 KiB of replies). Any
// other command (PING, INFO, ...), and any error of this server's own (a
// syntax error, an unknown command), first sends the queue, so replies
// always come in the order of their commands. A burst of one command is
// sent as that command alone.
//
// So a connection with a pipeline of P commands costs the cluster one
// command and one round trip per burst, not P: redis-benchmark -P 16
// fills a batch with 16 times fewer sessions. The node keeps one
// outstanding command per session, and a connection's next burst waits
// for the previous one's replies.
//
// # Commands
//
// GET, SET (NX, XX), DEL, EXISTS, INCR, INCRBY, MGET, MSET, PING, ECHO,
// HELLO (2 and 3; no AUTH), CLIENT SETNAME/GETNAME/ID/SETINFO, INFO,
// SELECT 0, COMMAND (with COUNT, INFO, DOCS), CLUSTER SLOTS/SHARDS/NODES/INFO/
// MYID/KEYSLOT, QUIT. Anything else is answered "-ERR unknown command"
// and the connection goes on. SET's EX, PX, EXAT, PXAT and KEEPTTL are
// refused: keys have no expiry here, and ignoring the option would keep a
// key Redis would have dropped. INCR and INCRBY are state machine commands
// (kv.OpIncr), SET NX and XX too (kv.OpPutNX, kv.OpPutXX), so concurrent
// clients never lose an increment or both win an NX.
//
// Multi-key commands are atomic: DEL, EXISTS, MGET and MSET are one
// sub-command per key in the pipeline's OpMulti, so no reader sees part of
// an MSET, and a failure (leader change, timeout) leaves all or none of it
// done (the error then says the outcome is unknown). All keys are in the
// one group, so no -CROSSSLOT is ever needed.
//
// # Reads
//
// Reads follow the node's read mode (cmd/node -read-mode). A burst of reads
// only (GET, EXISTS, MGET) is an OpMulti of gets, which a node in index or
// lease mode serves as one linearizable read, without a log write, off one
// state of its machine (a follower serves it too, by a read index from its
// leader); in log mode it goes through the log. A burst holding any write
// goes through the log whole, its GETs with it, so that they see the
// burst's earlier writes.
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
