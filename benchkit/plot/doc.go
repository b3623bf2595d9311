// Package plot draws the benchmark's charts as plain, self-contained SVG
// written by hand (no dependency): the latency percentile curve on
// HdrHistogram's logarithmic "1 in N" axis, throughput and p99 over time,
// several runs' curves overlaid, and a sweep's throughput against p99.
//
// Every SVG carries results.SVGMarker so the benchmark recognizes its own
// files and refuses to overwrite anyone else's.
package plot
