//go:build invariants

package transport

// invariants turns on costly internal checks (the CI and simulator build tag).
const invariants = true
