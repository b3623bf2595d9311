// Package runner runs one complete benchmark, the path every run of
// cmd/bench and every point of a sweep takes, as a Run with one method per
// step:
//
//	Start    refuse unwritable results, start a local cluster (package
//	         cluster) or attach to a running one, record what the nodes
//	         report on /status, connect the clients, prepare the fault
//	         schedule and the correctness checks
//	Measure  warm up, then drive the measured window (benchkit.Run),
//	         playing the fault schedule from its start
//	Verify   stop the schedule, heal, compute the fault windows, and run
//	         the correctness checks (benchkit.Verify) against the cluster
//	Write    build the result, print the report, write NAME.json, .hgrm
//	         and .svg
//	Close    disconnect and stop the cluster
//
// Do runs them in order. The package sits beside benchkit rather than in
// it because it drives package cluster, which imports benchkit.
package runner
