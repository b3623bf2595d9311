// Package benchkit is the benchmark harness behind cmd/bench: its Config,
// the load generator, the report, compare and sweep. Subpackages hold the
// histograms (hist), the result files (results), the plots (plot) and the
// local cluster launcher (cluster).
//
// The harness drives a Target: a small interface (sessions doing one
// key-value operation at a time) that the real client library is adapted
// to in cmd/bench, and that tests implement in process.
//
// # Closed and open loop
//
// In a closed loop (the default) each client sends its next operation when
// the previous one returns, and latency is measured from the actual send;
// when the system stalls, clients stop sending, so the stall shows up as a
// few slow operations instead of the many a real user population would
// see (coordinated omission). In an open loop (-rate) operations are due
// on a fixed schedule and latency is measured from when each was due
// (wrk2-style), so a stall is charged to every operation it delayed. The
// report always says which it was.
//
// # Hot path
//
// Each client records into its own double-buffered interval (histogram and
// counters) inside a writer/reader phaser critical section: two atomic
// adds, no lock, no allocation. Once a second the reporter swaps every
// client's interval, merges them for the progress line and the per-second
// series, and into the run's total histogram. A histogram is about 190 KiB,
// two per client: 200 clients hold about 76 MiB.
//
// # Room for what comes next
//
// Per-stage latency is wired end to end on the harness side: Env.Stages
// reads the nodes' cumulative histograms (cluster.Stages, GET /stages,
// results.StageReport) when measuring begins and ends, and the report and
// JSON show the difference per node and stage (queue, batch_wait,
// leader_sync, quorum_wait, apply, reply) with the batch sizes. The
// null-mode ceiling is measured by cmd/bench -ceiling. results.Result has
// slots, and the report has lines, for fault windows (before/during/after,
// downtime, time to recover; shaded on the time-series plot) and
// correctness verdicts (linearizability, lost acknowledged writes, session
// order, state hashes); they print "none" / "not checked" until filled.
package benchkit
