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
// Each client records into its own double-buffered interval (the raw
// latencies in a reused slice, and counters) inside a writer/reader phaser
// critical section: two atomic adds, no lock, no allocation once the slice
// has grown to a second's operations. Once a second the reporter swaps
// every client's interval, records the latencies into one histogram for the
// progress line and the per-second series, and merges that into the run's
// total histogram. Per-client histograms (190 KiB each) would make every
// record a cache miss and cost the reporter a merge and a clear of each,
// every second, whatever the load. Instants on the hot path are read from
// the monotonic clock only, twice per operation.
//
// # Per-stage latency
//
// Env.Stages reads the nodes' cumulative histograms (cluster.Stages, GET
// /stages, adminapi.StageReport) when measuring begins and ends, and the
// report and JSON show the difference per node and stage (queue,
// batch_wait, leader_sync, quorum_wait, apply, reply) with the batch sizes.
// A node restarted in between (a fault killed it) counts from its restart.
// The null-mode ceiling is measured by cmd/bench -ceiling.
//
// # Faults and the correctness verdict
//
// Config.Faults is a schedule (package faults) that cmd/bench plays with a
// faults.Runner over the launcher's controls (cluster.Faulter: kill -9 and
// restart from the same data directory, SIGSTOP/SIGCONT, the nodes' POST
// /faults), starting at Env.OnMeasure's instant. A Recording, installed
// with Env.Wrap, keeps a fine-grained timeline of completions, from which
// FaultResults computes each fault's window, its phases (steady before,
// during, recovery after), its downtime and the time until throughput is
// back to 90%; the report prints them as a table and the plot shades the
// windows.
//
// Config.Check keeps the history of every operation on a sample of keys
// and of every write (check.History; values are unique per key because
// each carries its writer and counter). After the run, once every fault is
// healed and the killed nodes restarted, Verify reads every written key
// back ("acknowledged writes lost: N"), checks each node's applied
// commands for session order and duplicates, compares the state machine
// hashes once the nodes reached the same slot, and checks the sampled
// history for linearizability (porcupine, bounded in time). Its Failures
// fail the run. A check says what part it saw: the key sample, and the
// fraction of executed commands the nodes' records held (AppliedRecord);
// against a cluster that may hold earlier runs' data (Checks.PriorState)
// keys start where they were read before the run (SampledKeys), or in an
// unknown state, never as assumed absent.
package benchkit
