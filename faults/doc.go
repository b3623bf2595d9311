// Package faults plays a fault schedule against a running cluster and
// measures what each fault cost: the benchmark's -faults flag. It is pure:
// the harness implements the Cluster interface (kill -9, restart, SIGSTOP,
// SIGCONT, the nodes' POST /faults transport hook, who leads) and the
// package decides what to do when, on an injected Clock so it tests without
// real time.
//
// # Schedule syntax
//
// A schedule is a comma-separated list of events:
//
//	KIND[=ARG]@START[+DURATION]
//
// START is when the event fires, counted from the start of the measured run
// (after warm-up). +DURATION makes a fault heal by itself after that long
// (a killed node is restarted from its disk, a paused one continued, a
// network fault lifted); without it the fault lasts until a restart,
// resume or heal event, or the end of the run. Times are Go durations:
// 500ms, 10s, 1m30s. Nodes are named by their ids (1, 2, ...), or by role,
// resolved when the event fires: the leader, or a follower (the
// lowest-numbered live node that does not lead).
//
//	kill-leader@10s          kill -9 the leader at 10 s (restart with restart@...)
//	kill-leader@10s+5s       ... and restart it 5 s later
//	kill-follower@5s+5s      kill a follower
//	kill=2@5s                kill node 2
//	restart@15s              restart every node killed without a +duration
//	restart=2@15s            restart node 2
//	pause-leader@60s+3s      SIGSTOP the leader, SIGCONT after 3 s (also pause-follower, pause=ID)
//	resume@63s               SIGCONT every node paused without a +duration (resume=ID: one)
//	isolate-leader@20s+5s    cut the leader off from every other node, both ways
//	partition-leader@20s+5s  the same
//	isolate=3@30s+5s         cut node 3 off (also isolate-follower)
//	split=minority@10s+5s    split the members into a minority and a majority, the
//	                         leader on the minority side (a new leader must be elected)
//	split=majority@10s+5s    the same, the leader kept on the majority side
//	oneway=1>2@10s+5s        drop node 1's messages to node 2, not 2's to 1
//	oneway=leader>follower@10s+5s
//	delay=5ms@40s+10s        delay every message between nodes by 5 ms
//	delay=5ms~2ms@40s+10s    ... plus a uniform random 0..2 ms of jitter
//	drop=2%@50s+10s          drop 2% of every node's messages at random
//	heal@60s                 lift every network fault given without a +duration
//
// Kinds only a real network has, which only the kernel layer injects
// (bench -hosts netns; KernelOnly):
//
//	clientcut-leader@10s+5s  the clients cannot reach the leader, its peers can (clientcut=ID)
//	blackhole=2@10s+5s       every packet to and from node 2 dropped, no reset (blackhole-leader)
//	flap=leader:500ms@10s+5s the node's link down 500 ms, up 500 ms, in turn (flap=ID:PERIOD)
//	bandwidth=1mbit@10s+5s   every node's link limited to 1 Mbit/s each way (bit, kbit, mbit, gbit)
//	dup=10%@10s+5s           10% of every node's packets sent twice
//
// Membership kinds, through a Cluster that is a Reconfigurer (the nodes
// bench started, with fresh ones ready; membership.go). Each is a
// procedure of steps, recorded with their times in Record.Steps; its
// window runs from its start to its last step, so it takes no +DURATION:
//
//	replace=2@5s             kill -9 node 2, wipe its data directory, join a fresh
//	                         node with the next unused id, wait until it caught up,
//	                         promote it, remove node 2 (replace=leader, =follower)
//	add@5s                   join a fresh node, wait until it caught up, promote it
//	remove=2@5s              remove node 2 (a leader hands off first), stop it
//
// A fresh node's id is one above the highest so far (N+1, N+2, ... on a
// cluster of N). Schedule.Check follows the members through the schedule:
// an event naming a node replaced or removed before it, or not yet
// joined, is an error, as is removing the last member.
//
// For example:
//
//	-faults kill-leader@10s,restart@15s,partition-leader@20s+5s,drop=2%@50s+10s
//
// Parse reports every problem at once, one line each: an unknown kind, a bad
// time or duration, a node id that is not a number, a percentage outside
// 0..100, a delay or jitter above MaxDelay (1 minute), a node killed
// (paused) again while still down, a restart (resume) with nothing to
// restart (resume), a heal with nothing open. The Runner checks node ids
// against the cluster's members before it starts.
//
// Network faults act through each node's transport hook (NetSpec: the
// peers its messages are dropped to, a delay, a loss rate), or in the
// kernel of the node's network namespace when the harness runs one (a
// Cluster that is Layered says which, and Record.Layer keeps it). Faults
// that overlap combine: blocked links add up, the largest delay and flap
// period win, the narrowest bandwidth wins, losses and duplications
// compose. A node killed or paused while a network fault is on gets its
// setting again when it is back.
//
// # Running
//
// A Runner fires the events on time, resolves roles when each fires (waiting
// up to RunnerConfig.LeaderWait for a leader), records each fault's actual
// window (Record.Start, Record.End: when its action and its heal returned),
// and is bounded and cancelled by its context. HealAll undoes whatever is
// still in effect; call it after Run in every case, before the
// correctness checks.
//
// # Window statistics
//
// Stats takes the run's per-interval series of completed operations (count
// and latency histogram per interval, e.g. every 100 ms) and the fault
// windows (Windows(runner.Records(), runEnd)), and gives for each fault the
// throughput and p50/p99 in the steady state before it, during it and in
// the recovery after it; its downtime (from its start until the first
// operation completes again, zero if service never stopped); and the time
// until throughput is back to 90% of the steady state.
package faults
