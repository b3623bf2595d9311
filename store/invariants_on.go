//go:build invariants

package store

// invariants turns on checks too costly or too strict for production: the
// simulator and CI build with -tags invariants.
const invariants = true
