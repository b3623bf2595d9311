#!/bin/sh
# Same-run interleaved A/B: 5 nodes, 200 clients, -groups 1 vs -groups 5,
# 2 pairs of 8 s runs (g1, g5, g1, g5). Run from the repository root:
#   go build -o /tmp/groups-node ./cmd/node && go build -o /tmp/groups-bench ./cmd/bench
#   sh results/groups/run.sh
set -e
out=results/groups
for pair in 1 2; do
	for g in 1 5; do
		/tmp/groups-bench -node-bin /tmp/groups-node -nodes 5 -clients 200 -duration 8s -groups $g \
			-out $out/ab-g$g-$pair > $out/ab-g$g-$pair.txt 2>&1
	done
done
