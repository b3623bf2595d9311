package engine

import (
	"strings"
	"testing"
)

// TestSimCatchesPlantedBugs proves the simulator's checks can fail: each
// case switches on one protocol bug (bugs.go) and asserts that some seed
// among the first few hundred reports the violation it should. Safety bugs
// are run through TestSim's random runs; pre-prepare's bugs break only
// liveness, so they run through the rejoin scenario (simscenario_test.go).
func TestSimCatchesPlantedBugs(t *testing.T) {
	cases := []struct {
		name string
		bug  *bool
		want string                         // a fragment of the expected report
		lax  bool                           // turn off memStorage's promise-monotonicity check
		run  func(testing.TB, uint64) error // nil: runSeed
	}{
		{"leader ignores promised values", &bugIgnorePromisedValues, "chosen", false, nil},
		{"acceptor forgets its promise on restart", &bugForgetPromise, "durable promise goes back", false, nil},
		{"acceptor forgets its promise on restart (storage unchecked)", &bugForgetPromise, "ballot", true, nil},
		{"leader counts itself before its write is durable", &bugCountSelfEarly, "no majority durably accepted", false, nil},
		{"follower commits entries of any ballot", &bugCommitAnyBallot, "chosen", false, nil},
		{"acceptor promises before its promise is durable", &bugPromiseBeforeSync, "durably promised", false, nil},
		{"acceptor acknowledges before its entries are durable", &bugAckBeforeSync, "no majority durably accepted", false, nil},
		{"acceptor says yes to a pre-prepare while it hears a leader", &bugPrePromiseIgnoresLeader, "disrupted the group", false, checkRejoin},
		{"node raises its ballot before a majority said yes", &bugPrePrepareRaisesBallot, "disrupted the group", false, checkRejoin},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			*tc.bug = true
			simCheckPromiseMonotonic = !tc.lax
			defer func() { *tc.bug = false; simCheckPromiseMonotonic = true }()
			run := tc.run
			if run == nil {
				run = runSeed
			}
			for seed := uint64(1); seed <= 400; seed++ {
				err := run(t, seed)
				if err == nil {
					continue
				}
				if strings.Contains(err.Error(), "panic") {
					t.Fatalf("seed %d: the engine panicked instead of the checker reporting: %v", seed, err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("seed %d: caught, but not as expected (%q): %v", seed, tc.want, err)
				}
				t.Logf("caught by seed %d: %v", seed, err)
				return
			}
			t.Fatal("no seed caught the planted bug")
		})
	}
}
