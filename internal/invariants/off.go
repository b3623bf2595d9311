//go:build !invariants

package invariants

// Enabled reports whether the build has the invariants tag: when true,
// packages run checks too costly or too strict for production.
const Enabled = false
