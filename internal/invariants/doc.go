// Package invariants says whether the costly internal checks are compiled
// in. Every package reads the one constant here, so a build turns all of
// them on or off together: the simulator and CI build with -tags
// invariants, production builds leave them out.
//
// Enabled is a constant, not a variable, so the compiler drops a guarded
// check from builds without the tag and the hot path pays nothing.
package invariants
