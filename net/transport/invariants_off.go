//go:build !invariants

package transport

const invariants = false
