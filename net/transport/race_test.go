//go:build race

package transport

// raceEnabled: the race detector's instrumentation allocates, so allocation
// counts mean nothing under it.
const raceEnabled = true
