// Package results is the benchmark's result files: the JSON schema every
// run writes (settings, machine, throughput, the full latency histogram,
// the per-second series, and slots for per-stage histograms, fault windows,
// correctness verdicts and the null-mode ceiling), the machine description,
// writing NAME.json/.hgrm/.svg without clobbering files that are not bench
// results, and loading results back for compare.
package results
