package engine

import (
	"fmt"
	"testing"
)

// Liveness and cost, measured per seed and summarized per TestSim run, so
// that a change that keeps every bound but makes the group markedly worse
// (a leader that does not count itself as live changes leaders twice as
// often and takes twice as long to commit) fails too.
//
// Per seed: leader changes (ballots that got a leader), ticks the majority
// took to commit after a minority was cut off, ticks to converge after the
// heal, and messages delivered per applied slot. The summary is the mean of
// each over the run's passing seeds, and checkRegression compares it with
// the mean today's engine gives (simBaseline), when enough seeds ran for the
// mean to be stable.

type simSummary struct {
	seeds                                  int
	leaders, majority, settle, msgsPerSlot float64
	maxInflightUsed, maxMsgsPerNodePerTick float64
	ops                                    int
}

func (u *simSummary) add(o simOptions, st simStats) {
	u.seeds++
	u.ops += st.ops
	u.leaders += float64(st.leaders)
	u.majority += float64(st.majority) / float64(o.electionTicks())
	u.settle += float64(st.settle) / float64(o.electionTicks())
	if st.applied > 0 {
		u.msgsPerSlot += float64(st.msgs) / float64(st.applied)
	}
	lim := (&sim{o: o}).inflightLimit()
	u.maxInflightUsed = max(u.maxInflightUsed, float64(st.maxInflight)/float64(lim))
	u.maxMsgsPerNodePerTick = max(u.maxMsgsPerNodePerTick, float64(st.sent)/float64(o.nodes*o.nodes*max(1, st.ticks)))
}

// mean returns the per-seed means of the regression-checked measures.
func (u *simSummary) mean() simMeans {
	n := float64(max(1, u.seeds))
	return simMeans{leaders: u.leaders / n, majority: u.majority / n, settle: u.settle / n, msgsPerSlot: u.msgsPerSlot / n}
}

func (u *simSummary) String() string {
	m := u.mean()
	return fmt.Sprintf("per seed: %.1f client commands checked, %.2f leader changes, majority commit %.2f election timeouts after the cut, convergence %.2f election timeouts after the heal, %.1f messages per applied slot; at most %.2f of the in-flight bound used, max %.3f messages per node per peer per tick",
		float64(u.ops)/float64(max(1, u.seeds)), m.leaders, m.majority, m.settle, m.msgsPerSlot, u.maxInflightUsed, u.maxMsgsPerNodePerTick)
}

type simMeans struct{ leaders, majority, settle, msgsPerSlot float64 }

// simBaseline is what today's engine measures over TestSim's default 4,000
// seeds (go test -tags invariants -run 'TestSim$' ./engine/ -v). The
// majority and settle figures are in election timeouts.
var simBaseline = simMeans{leaders: 3.05, majority: 1.11, settle: 0.75, msgsPerSlot: 29.6}

// simRegressionFactor: a mean more than this times the baseline fails. Well
// below 2, so a change that doubles one fails; well above the spread
// between seed ranges of 1,000 seeds (a few percent).
const simRegressionFactor = 1.5

// simRegressionMinSeeds: fewer seeds give too noisy a mean to judge.
const simRegressionMinSeeds = 500

func (u *simSummary) checkRegression(t *testing.T) {
	if u.seeds < simRegressionMinSeeds {
		t.Logf("%d seeds: too few for the regression bounds (%d needed)", u.seeds, simRegressionMinSeeds)
		return
	}
	m := u.mean()
	for _, c := range []struct {
		what      string
		got, base float64
	}{
		{"leader changes per seed", m.leaders, simBaseline.leaders},
		{"majority commit after the cut (election timeouts)", m.majority, simBaseline.majority},
		{"convergence after the heal (election timeouts)", m.settle, simBaseline.settle},
		{"messages per applied slot", m.msgsPerSlot, simBaseline.msgsPerSlot},
	} {
		if c.got > simRegressionFactor*c.base {
			t.Errorf("performance regression: %s is %.2f, more than %.1f times today's %.2f", c.what, c.got, simRegressionFactor, c.base)
		}
	}
}
