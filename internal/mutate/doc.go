// Command mutate measures how many plausible protocol bugs the engine's
// tests catch: the project's mutation score.
//
//	go run ./internal/mutate [-mutants internal/mutate/mutants.json] [-out results/mutation.md] [-only regexp]
//
// Each mutant in the data file (mutants.json) is one small change to the
// engine's protocol code: a file, a snippet of it that must occur exactly
// once, and its replacement. The mutants are data, never code in the
// engine. For each, mutate copies the module to a temporary directory,
// applies the change there (the worktree is never touched), and runs CI's
// test command for the engine without the golden interaction transcripts:
//
//	go test -tags invariants -count=1 -skip '^TestInteraction$' ./engine/
//
// The transcripts flag any change of behaviour at all and are regenerated
// with -rewrite, so a mutant only they catch is no evidence that a check
// would catch the bug; they do not count. A mutant is killed when the
// command fails (the failing tests are recorded), survives when it
// passes, and is invalid when the mutated engine does not build or its
// snippet does not match exactly once (the data file has drifted from
// the code: fix it). The unmutated module must pass first. For each killed
// mutant the report also says whether the simulator's tests alone
// (-run ^TestSim: the random runs and the scripted scenarios) kill it.
//
// The report (a Markdown table and a summary line) goes to -out and to
// standard output; the exit status is 1 if any mutant survived or is
// invalid.
package main
