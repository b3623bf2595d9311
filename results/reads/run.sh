#!/bin/sh
# Reads without the log: the runs of results/reads/README.md. From the
# repository root: sh results/reads/run.sh [rounds]. Writes NAME.json,
# .hgrm and .svg per run into results/reads/.
set -eu
rounds=${1:-3}
out=results/reads
go build -o /tmp/mpaxos-reads-node ./cmd/node
go build -o /tmp/mpaxos-reads-bench ./cmd/bench
bench() { /tmp/mpaxos-reads-bench -node-bin /tmp/mpaxos-reads-node -quiet "$@"; }

# 5 nodes, 200 clients, 90% reads: the modes interleaved, round by round.
r=1
while [ "$r" -le "$rounds" ]; do
	for mode in log index lease; do
		bench -nodes 5 -clients 200 -read-ratio 0.9 -read-mode $mode -duration 10s -out $out/n5-c200-r90-$mode-r$r
	done
	r=$((r + 1))
done

# One client: a lease read's latency, beside the harness's own round trip
# (-null: the node answers at once, nothing replicated or stored).
bench -nodes 5 -clients 1 -conns 1 -read-ratio 1 -read-mode lease -duration 10s -out $out/n5-c1-r100-lease
bench -nodes 5 -clients 1 -conns 1 -read-ratio 1 -null -duration 10s -out $out/n5-c1-null

# Read-ratio sweep, one run per point, modes interleaved per ratio.
for ratio in 0 0.5 0.99 1; do
	for mode in log index lease; do
		bench -nodes 5 -clients 200 -read-ratio $ratio -read-mode $mode -duration 10s -out $out/sweep-n5-c200-r$ratio-$mode
	done
done
