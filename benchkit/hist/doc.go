// Package hist holds the latency-histogram conventions of the benchmark:
// the HdrHistogram geometry every recorder uses, a lock-free interval
// recorder (Gil Tene's writer/reader phaser), percentile summaries, the
// HdrHistogram V2 encoding stored in result files, and the standard ".hgrm"
// percentile-distribution text that HdrHistogram's plotters read.
//
// Every value is a latency in nanoseconds. Histograms are
// github.com/HdrHistogram/hdrhistogram-go dense histograms with 3
// significant digits, 1 µs lowest discernible value and 1 h highest
// trackable value; larger values are clamped to the highest and counted.
package hist
