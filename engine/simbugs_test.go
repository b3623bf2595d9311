package engine

import "testing"

// TestSimCatchesPlantedBugs proves the simulator's checks can fail: each
// case switches on one protocol bug (bugs.go) and asserts that some seed
// among the first few hundred fails the run. Which check fires first is
// the simulator's business (a safety check, an invariant's panic, a
// liveness or work bound): the test asserts that the bug fails the
// simulator, not the wording of the failure, and logs the failure. Safety
// bugs are run through TestSim's random runs; pre-prepare's bugs break
// only liveness, so they run through the rejoin scenario
// (simscenario_test.go). An acceptor that promises a Handoff Prepare below
// its promise needs such a Prepare to arrive late, after a newer ballot:
// TestSim's hand-offs are too rare for that within 400 seeds, so it runs
// through hand-off storms (simhandoff_test.go), where hand-offs chain
// while earlier phase-1 messages are still in flight.
func TestSimCatchesPlantedBugs(t *testing.T) {
	cases := []struct {
		name string
		bug  *bool
		lax  bool                           // turn off memStorage's promise-monotonicity check and the unsynced-entries check
		run  func(testing.TB, uint64) error // nil: runSeed
	}{
		{"leader ignores promised values", &bugIgnorePromisedValues, false, nil},
		{"acceptor forgets its promise on restart", &bugForgetPromise, false, nil},
		{"acceptor forgets its promise on restart (storage unchecked)", &bugForgetPromise, true, nil},
		{"leader counts itself before its write is durable", &bugCountSelfEarly, false, nil},
		{"follower commits entries of any ballot", &bugCommitAnyBallot, false, nil},
		{"acceptor promises before its promise is durable", &bugPromiseBeforeSync, false, nil},
		{"acceptor acknowledges before its entries are durable", &bugAckBeforeSync, false, nil},
		{"early read-round acknowledgement claims the unsynced slot", &bugEarlyRoundAckClaimsSlot, false, nil},
		{"thrifty follower writes an Accept unsynced beside pushed entries", &bugThriftyUnsyncedAccept, false, nil},
		{"thrifty leader pushes slots it sent, not only chosen ones", &bugThriftyPushesSent, false, nil},
		{"acceptor says yes to a pre-prepare while it hears a leader", &bugPrePromiseIgnoresLeader, false, checkRejoin},
		{"node raises its ballot before a majority said yes", &bugPrePrepareRaisesBallot, false, checkRejoin},
		{"hand-off target leads without phase 1", &bugHandoffSkipsPhase1, false, nil},
		{"acceptor promises a Handoff Prepare below its promise", &bugHandoffPromisesLower, false, runHandoffStorm},
		{"acceptor promises a Handoff Prepare below its promise (storage unchecked)", &bugHandoffPromisesLower, true, runHandoffStorm},
		{"new leader answers reads before committing its re-proposals", &bugReadBeforeOwnCommit, false, nil},
		{"runtime serves a read before applying through its index", &bugReadBeforeApply, false, nil},
		{"lease without the drift factor, clocks half as fast", &bugLeaseNoDriftMargin, false, checkLeaseDrift},
		{"acceptor keeps no lease window of its own (restart)", &bugLeaseIgnoresPromise, false, checkLeaseRestart},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			*tc.bug = true
			simCheckPromiseMonotonic, simCheckUnsyncedChosen = !tc.lax, !tc.lax
			defer func() { *tc.bug = false; simCheckPromiseMonotonic, simCheckUnsyncedChosen = true, true }()
			run := tc.run
			if run == nil {
				run = runSeed
			}
			for seed := uint64(1); seed <= 400; seed++ {
				if err := run(t, seed); err != nil {
					t.Logf("caught by seed %d: %v", seed, firstLine(err.Error()))
					return
				}
			}
			t.Fatal("no seed caught the planted bug")
		})
	}
}
