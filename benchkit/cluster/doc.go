// Package cluster starts and stops a local mpaxos cluster for the
// benchmark: it builds cmd/node once with `go build`, starts one process per
// node on free loopback ports with its data in a temporary directory, waits
// until the nodes agree on a leader (polling each node's admin /status),
// follows the leader during the run, and stops every process it started on
// exit, interrupt or failure.
//
// No node outlives the benchmark: each node runs in its own process group
// (so a stop reaches anything it spawned) and with a parent-death signal
// (SIGKILL if the benchmark itself dies, even by kill -9).
//
// What it expects of cmd/node (see CONTRACTS.md "cmd/node flags"):
//
//	node -id N -cluster-id C -peers 1=127.0.0.1:P1,2=127.0.0.1:P2,...
//	     -client-addr 127.0.0.1:C -admin-addr 127.0.0.1:A -data DIR -sync=true|false
//	     [-batch-size N] [-batch-bytes N] [-batch-delay D] [-pipeline N] [-null]
//
// logs to stderr, exits cleanly on SIGTERM, and serves GET /status on the
// admin address (Status, the node's own type from package adminapi):
//
//	{"id":1,"role":"leader|follower|candidate","leader":1,"commit":42,"applied":42,
//	 "sync":true,"batch_size":1024,"pipeline":64,"groups":1,"read_mode":"log",...}
//
// where "leader" is the node's current leader hint (0 if unknown), and the
// settings are the node's effective ones, which the benchmark records as
// what it measured (ReportedSettings; a node that sends none is said to be
// of unknown settings). Start waits until every node answers /status and a
// majority names the same leader, which itself says "leader".
//
// Faults: Kill (SIGKILL to the node's process group), Restart (the same
// command line, data directory and log), Pause and Resume (SIGSTOP and
// SIGCONT) act on a started cluster; Faulter adapts them, and POST /faults
// for network faults, to faults.Cluster (RemoteFaulter: network faults
// only, for a running cluster). NetClient reads GET /hash and GET
// /applied for the correctness checks; AlignApplied places each node's
// applied commands in the cluster's sequence by slot.
//
// Membership (members.go): with Config.Spares, Start lays out that many
// more nodes (ids Nodes+1, ...) without starting them; DialAddrs lists
// their client addresses with the others', for clients dialled up front.
// Join starts the next spare with cmd/node -join (no -peers) and waits
// until the configuration names it; CaughtUp compares the learner's
// applied slot and its leader's Match with each group's commit index;
// Promote and Remove go through adminapi.ChangeMembers; Wipe deletes a
// killed node's data; Forget stops a removed node and drops it. Nodes is
// copy-on-write, so the monitor, the faulter and the end-of-run checks
// read the configuration of the moment while it changes; the Faulter is a
// faults.Reconfigurer.
//
// Hosts: by default every node listens on loopback. With Config.Hosts
// HostsNetns (netns.go) each node runs in a network namespace of its own
// (ip netns exec), on a bridge in a private /24, the benchmark's clients
// dial from another namespace (ClientDial), and the Faulter injects
// network faults in the kernel (kernel.go: nftables, tc, ip link), except
// delay without netem, which still goes through the hook (Faulter.Layer).
// Namespaces, veths and the bridge are named for the bench's pid and
// removed on Close; Start first removes those of benches that no longer
// run.
//
// Optionally, GET /stages returns the node's cumulative per-stage latency
// and batch-size histograms (adminapi.StageReport); a 404 means none.
package cluster
