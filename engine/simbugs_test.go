package engine

import (
	"strings"
	"testing"
)

// TestSimCatchesPlantedBugs proves the simulator's checks can fail: each
// case switches on one protocol bug (bugs.go) and asserts that some seed
// among the first few hundred reports the violation it should.
func TestSimCatchesPlantedBugs(t *testing.T) {
	cases := []struct {
		name string
		bug  *bool
		want string // a fragment of the expected report
		lax  bool   // turn off memStorage's promise-monotonicity check
	}{
		{"leader ignores promised values", &bugIgnorePromisedValues, "chosen", false},
		{"acceptor forgets its promise on restart", &bugForgetPromise, "durable promise goes back", false},
		{"acceptor forgets its promise on restart (storage unchecked)", &bugForgetPromise, "ballot", true},
		{"leader counts itself before its write is durable", &bugCountSelfEarly, "no majority durably accepted", false},
		{"follower commits entries of any ballot", &bugCommitAnyBallot, "chosen", false},
		{"acceptor promises before its promise is durable", &bugPromiseBeforeSync, "durably promised", false},
		{"acceptor acknowledges before its entries are durable", &bugAckBeforeSync, "no majority durably accepted", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			*tc.bug = true
			simCheckPromiseMonotonic = !tc.lax
			defer func() { *tc.bug = false; simCheckPromiseMonotonic = true }()
			for seed := uint64(1); seed <= 400; seed++ {
				err := runSeed(t, seed)
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
