#!/usr/bin/env bash
# redis-benchmark against 3 and 5 synced mpaxos nodes (RESP on the leader)
# and against redis-server with appendfsync always and everysec, one run,
# same command. Usage: results/resp/run.sh [requests]  (default 100000)
# Output: results/resp/out/*.txt and a summary on stdout. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}
OUT=results/resp/out; mkdir -p "$OUT"
BIN=$(mktemp -d); trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/node" ./cmd/node
BENCH=(-t set,get -n "$N" -c 50 -P 16)
echo "redis-benchmark ${BENCH[*]}  ($(nproc) cores, $(date -u +%FT%TZ), $(redis-benchmark --version | head -1))"
summary() { tr '\r' '\n' <"$1" | grep -E '^====== |throughput summary' | paste - - | sed 's/  */ /g'; }
mpaxos() {
	local n=$1 dir; dir=$(mktemp -d); local peers="" resp="" pids=()
	for i in $(seq 1 "$n"); do peers+="${peers:+,}$i=127.0.0.1:$((27000+i))"; resp+="${resp:+,}$i=127.0.0.1:$((26380+i))"; done
	for i in $(seq 1 "$n"); do
		"$BIN/node" -id "$i" -peers "$peers" -client-addr 127.0.0.1:$((28000+i)) -admin-addr 127.0.0.1:$((29000+i)) \
			-data "$dir/d$i" -resp-addr "$resp" >"$dir/n$i.log" 2>&1 & pids+=($!)
	done
	local port=""
	for _ in $(seq 1 100); do
		for i in $(seq 1 "$n"); do
			if redis-cli -p $((26380+i)) INFO replication 2>/dev/null | grep -q "mpaxos_role:leader"; then port=$((26380+i)); break 2; fi
		done; sleep 0.1
	done
	[ -n "$port" ] || { echo "no leader"; kill "${pids[@]}"; exit 1; }
	redis-benchmark -p "$port" "${BENCH[@]}" >"$OUT/mpaxos-$n.txt" 2>&1
	echo "mpaxos $n nodes (sync, leader :$port):"; summary "$OUT/mpaxos-$n.txt"
	kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"
}
redis() {
	local fsync=$1 dir; dir=$(mktemp -d)
	redis-server --port 26399 --bind 127.0.0.1 --dir "$dir" --save "" --appendonly yes --appendfsync "$fsync" --daemonize no >"$dir/log" 2>&1 &
	local pid=$!
	for _ in $(seq 1 50); do redis-cli -p 26399 PING >/dev/null 2>&1 && break; sleep 0.1; done
	redis-benchmark -p 26399 "${BENCH[@]}" >"$OUT/redis-$fsync.txt" 2>&1
	echo "redis-server appendfsync $fsync:"; summary "$OUT/redis-$fsync.txt"
	kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir"
}
mpaxos 3; mpaxos 5; redis always; redis everysec
