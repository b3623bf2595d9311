//go:build !invariants

package batch

// invariants turns on costly internal checks (the CI and the simulator
// build with -tags invariants).
const invariants = false
