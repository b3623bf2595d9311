package benchkit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/results"
	"github.com/mpaxos/mpaxos/check"
)

// ReadBackConcurrency is how many keys the lost-write check reads back at
// once: a ReadBack must allow that many concurrent calls. Reads through
// the log batch well, so many at once keep the read-back of a long run's
// keys short.
const ReadBackConcurrency = 128

// Checks is what the correctness verdict reads once the load has stopped
// and every fault has healed.
type Checks struct {
	// History is the run's recorded history (Recording.History). Required.
	History *check.History
	// ReadBack reads a key with a linearizable read, for the lost-write
	// check. Required.
	ReadBack check.ReadBack
	// Applied, optional, returns every node's executed commands of one
	// Paxos group aligned by that group's slots (cluster.AlignApplied),
	// for the session check, which runs per group: each group's state
	// machine keeps its own sessions.
	Applied func(ctx context.Context, group int) (AppliedRecord, error)
	// Groups is how many Paxos groups the cluster runs; Applied and
	// Hashes are asked for each. 0 means 1.
	Groups int
	// Sample is the fraction of keys whose history the linearizability
	// check sees (Config.Sample); 0 means all.
	Sample float64
	// Hashes, optional, returns every node's state machine hash of one
	// group once they reached the same applied slot of it (or gave up
	// waiting).
	Hashes func(ctx context.Context, group int) ([]check.NodeState, error)
	// LinTimeout bounds the linearizability check. Zero means 60 s.
	LinTimeout time.Duration
	// VisualizePath is where porcupine's HTML goes on a violation.
	VisualizePath string
	// Spans (the fault windows) are drawn on that visualization.
	Spans []check.Span
	// PriorState: the cluster may hold values from before the run (one
	// bench did not start): keys start in an unknown state rather than
	// absent (check.LinConfig.PriorState, check.LostConfig.PriorState).
	PriorState bool
	// InitialRead: the history holds every checked key's state from before
	// the run (check.History.SetInitial), so the linearizability check
	// starts from those instead of an unknown state.
	InitialRead bool
}

// AppliedRecord is what the nodes recorded of the commands they executed.
type AppliedRecord struct {
	// Nodes are the records, aligned by slot.
	Nodes []check.NodeApplied
	// Recorded and Executed count commands over every node: a node keeps
	// only its last RecordApplied, so the session check sees Recorded of
	// the Executed commands.
	Recorded, Executed uint64
}

// Fraction is the part of the executed commands the record holds, 1 when
// it holds them all (or nothing was executed).
func (a AppliedRecord) Fraction() float64 {
	if a.Executed == 0 || a.Recorded >= a.Executed {
		return 1
	}
	return float64(a.Recorded) / float64(a.Executed)
}

// Verify runs the checks and returns the verdict for the result file.
// Verdict.Failures lists the lines that must fail the run: a history that
// is not linearizable, an acknowledged write lost (or keys that could not
// be read back to tell), a session out of order or executed twice, state
// machines that differ. A check that cannot decide (the linearizability
// check timed out, the nodes never reached the same slot) is a note.
func Verify(ctx context.Context, c Checks) *results.Verdict {
	v := &results.Verdict{}
	fail := func(format string, a ...any) {
		v.Failures = append(v.Failures, strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", "; "))
	}
	// Report lines are single lines (joined errors are not).
	note := func(format string, a ...any) {
		v.Notes = append(v.Notes, strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", "; "))
	}

	// Read back first: it needs the cluster, and its reads go through the
	// log, so the hashes are taken after it.
	lcfg := check.DefaultLostConfig()
	lcfg.Concurrency = ReadBackConcurrency
	lcfg.PriorState = c.PriorState
	lost, err := check.LostWrites(ctx, c.History.Writes(), c.ReadBack, lcfg)
	if err != nil {
		note("lost writes: not checked: %v", err)
	} else {
		n := int64(lost.Lost)
		v.LostAckedWrites = &n
		note("read back %d keys holding %d acknowledged writes", lost.Keys, lost.Acked)
		if lost.Lost > 0 || lost.Foreign > 0 {
			fail("%s", check.LostLine(lost.Lost))
			for _, e := range lost.Examples {
				note("  %s", e)
			}
		}
		if lost.Unverified > 0 {
			fail("%d of %d keys could not be read back (%v): lost writes not ruled out", lost.Unverified, lost.Keys, lost.FirstErr)
		}
	}

	groups := max(c.Groups, 1)
	// in names the group a line is about, when there are several.
	in := func(g int) string {
		if groups == 1 {
			return ""
		}
		return fmt.Sprintf("group %d: ", g)
	}
	if c.Applied != nil {
		for g := range groups {
			verifySessions(ctx, c, g, in(g), v, fail, note)
		}
	} else {
		note("session order: not checked (no admin addresses)")
	}

	if c.Hashes != nil {
		for g := range groups {
			states, err := c.Hashes(ctx, g)
			if err != nil {
				note("%sstate machines: not compared: %v", in(g), err)
				continue
			}
			rep := check.CompareHashes(states)
			if rep.Comparable {
				ok := rep.Agree && (v.StateHashesAgree == nil || *v.StateHashesAgree)
				v.StateHashesAgree = &ok
				if !rep.Agree {
					fail("%s%s", in(g), rep.String())
				}
			}
			note("%s%s", in(g), rep.String())
		}
	} else {
		note("state machines: not compared (no admin addresses)")
	}

	cfg := check.DefaultLinConfig()
	if c.LinTimeout > 0 {
		cfg.Timeout = c.LinTimeout
	}
	cfg.VisualizePath, cfg.Spans, cfg.PriorState = c.VisualizePath, c.Spans, c.PriorState && !c.InitialRead
	lin, err := check.CheckLinearizable(c.History.Ops(), cfg)
	if err != nil {
		note("linearizability: not checked: %v", err)
		return v
	}
	v.CheckedKeys = lin.Keys
	v.LinearizabilitySample = 1
	if c.Sample > 0 {
		v.LinearizabilitySample = c.Sample
	}
	bad := lin.BadKeys
	lin.BadKeys = nil // listed below, shortened: there may be hundreds
	note("%s", lin.String())
	switch lin.Verdict {
	case check.Linearizable:
		ok := true
		v.Linearizable = &ok
	case check.NotLinearizable:
		ok := false
		v.Linearizable = &ok
		v.Visualization = lin.Visualization
		fail("history NOT linearizable on %d of %d keys: %s", len(bad), lin.Keys, shortList(bad, 5))
	}
	return v
}

// verifySessions runs the session check of group g into v: the verdict's
// fields hold the worst over the groups checked so far.
func verifySessions(ctx context.Context, c Checks, g int, in string, v *results.Verdict, fail, note func(string, ...any)) {
	ar, err := c.Applied(ctx, g)
	if err != nil {
		note("%ssession order: not checked: %v", in, err)
		return
	}
	rep := check.CheckSessions(ar.Nodes)
	ok := rep.OK() && (v.SessionOrderOK == nil || *v.SessionOrderOK)
	v.SessionOrderOK = &ok
	frac := ar.Fraction()
	if v.SessionChecked != nil {
		frac = min(frac, *v.SessionChecked)
	}
	v.SessionChecked = &frac
	var most uint64
	for _, n := range ar.Nodes {
		most = max(most, n.Deduplicated)
	}
	v.DedupedRetries = max(v.DedupedRetries, int64(most))
	part := ""
	if f := ar.Fraction(); f < 1 {
		// A clean verdict on part of the history must not read as one on
		// all of it.
		part = fmt.Sprintf("; PARTIAL: only %.1f%% of the executed commands checked (the nodes recorded %d of %d: each keeps its last -record-applied commands since it started)",
			100*f, ar.Recorded, ar.Executed)
	}
	note("%s%s%s", in, rep.String(), part)
	if !rep.OK() {
		fail("%ssession order violated: %s", in, rep.String())
	}
}

// shortList prints the first n of keys, then how many more.
func shortList(keys []string, n int) string {
	if len(keys) <= n {
		return strings.Join(keys, " ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(keys[:n], " "), len(keys)-n)
}
