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
// Per seed: leader changes (ballots that got a leader), phase-1 ballots
// (ballots some Prepare was delivered for), ticks the majority
// took to commit after a minority was cut off, ticks to converge after the
// heal, and messages delivered per applied slot. The summary is the mean of
// each over the run's passing seeds, and checkRegression compares it with
// the mean today's engine gives (simBaseline), when enough seeds ran for the
// mean to be stable.

type simSummary struct {
	seeds                                  int
	leaders, campaigns, majority, settle   float64
	msgsPerSlot                            float64
	maxInflightUsed, maxMsgsPerNodePerTick float64
	ops                                    int
	handoffs, handoffsDone                 int
}

func (u *simSummary) add(o simOptions, st simStats) {
	u.seeds++
	u.ops += st.ops
	u.handoffs += st.handoffs
	u.handoffsDone += st.handoffsDone
	u.leaders += float64(st.leaders)
	u.campaigns += float64(st.campaigns)
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
	return simMeans{leaders: u.leaders / n, campaigns: u.campaigns / n, majority: u.majority / n, settle: u.settle / n, msgsPerSlot: u.msgsPerSlot / n}
}

func (u *simSummary) String() string {
	m := u.mean()
	n := float64(max(1, u.seeds))
	return fmt.Sprintf("per seed: %.1f client commands checked, %.2f leader changes, %.2f phase-1 ballots, majority commit %.2f election timeouts after the cut, convergence %.2f election timeouts after the heal, %.1f messages per applied slot, %.2f hand-offs started (%.2f completed by their target); at most %.2f of the in-flight bound used, max %.3f messages per node per peer per tick",
		float64(u.ops)/n, m.leaders, m.campaigns, m.majority, m.settle, m.msgsPerSlot, float64(u.handoffs)/n, float64(u.handoffsDone)/n, u.maxInflightUsed, u.maxMsgsPerNodePerTick)
}

type simMeans struct{ leaders, campaigns, majority, settle, msgsPerSlot float64 }

// simBaseline is what today's engine measures over TestSim's default 6,000
// seeds (go test -tags invariants -run 'TestSim$' ./engine/ -v). The
// majority and settle figures are in election timeouts.
var simBaseline = simMeans{leaders: 3.05, campaigns: 6.62, majority: 1.10, settle: 0.73, msgsPerSlot: 29.6}

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
	for _, r := range u.mean().regressions(simBaseline) {
		t.Error(r)
	}
}

// regressions names every measure of m above simRegressionFactor times base.
func (m simMeans) regressions(base simMeans) []string {
	var out []string
	for _, c := range []struct {
		what      string
		got, base float64
	}{
		{"leader changes per seed", m.leaders, base.leaders},
		{"phase-1 ballots per seed", m.campaigns, base.campaigns},
		{"majority commit after the cut (election timeouts)", m.majority, base.majority},
		{"convergence after the heal (election timeouts)", m.settle, base.settle},
		{"messages per applied slot", m.msgsPerSlot, base.msgsPerSlot},
	} {
		if c.got > simRegressionFactor*c.base {
			out = append(out, fmt.Sprintf("performance regression: %s is %.2f, more than %.1f times today's %.2f", c.what, c.got, simRegressionFactor, c.base))
		}
	}
	return out
}

// Doubling any one measure fails the bound; today's figures pass it.
func TestSimRegressionBounds(t *testing.T) {
	if r := simBaseline.regressions(simBaseline); len(r) != 0 {
		t.Fatalf("the baseline against itself: %v", r)
	}
	for i := range 5 {
		m := simBaseline
		p := [5]*float64{&m.leaders, &m.campaigns, &m.majority, &m.settle, &m.msgsPerSlot}[i]
		*p *= 2
		if r := m.regressions(simBaseline); len(r) != 1 {
			t.Errorf("measure %d doubled: %d regressions reported (%v), want 1", i, len(r), r)
		}
	}
}
